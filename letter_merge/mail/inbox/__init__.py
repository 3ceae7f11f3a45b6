"""Reading the sending mailbox: over IMAP (imap) or Microsoft Graph (graph), one way chosen in
mailbox, what both share in common; what each message found is (reports/); and what came back
about each letter sent, recorded (delivery).
May import: clock, config, environment, errors, records, reasons, steps."""
