"""Email: the outbox (one .eml per message), sending (send, transport, oauth, microsoft,
google, signin), and what comes back (mailbox, reports, delivery). Owns: building, sending and
reading messages; whether a message may go is asked of records/.
May import: batch, clock, config, decisions, errors, files, pdf, progress, records, words."""
