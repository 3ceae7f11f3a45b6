"""Email: the outbox (one .eml per message), sending (send, transport and graph_send, oauth,
microsoft, google, signin), and what comes back (mailbox with imap and graph; reports with mime,
bounces, notices, replies, reasons and kinds; delivery). Owns: building, sending and
reading messages; whether a message may go is asked of records/.
May import: batch, clock, config, decisions, errors, files, pdf, progress, reasons, records,
steps, template, words."""
