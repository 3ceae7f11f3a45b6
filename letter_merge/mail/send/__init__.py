"""Sending: the outbox (one .eml per message, queued), the send itself (sending), and the ways a
message leaves: the SMTP transport, and Microsoft Graph (graph), both at one pace (pacing).
Whether a message may go is asked of records/ (Standing), never decided here.
May import: batch, config, decisions, environment, errors, files, pdf, progress, records, steps,
template."""
