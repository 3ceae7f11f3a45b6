"""Email, in three packages by job: send/ (the outbox, sending over SMTP or Microsoft Graph, the
pace), signin/ (OAuth 2.0 sign-in with Microsoft or Google, and the keyring), inbox/ (reading the
sending mailbox over IMAP or Graph, and what came back: reports/); and graph, the one Microsoft
Graph client sending and reading share. Whether a message may go is asked of records/.
May import: batch, clock, config, decisions, environment, errors, files, pdf, progress, reasons,
records, steps, template, words."""
