"""What one message found in the mailbox is: reading sorts it into a delivery report (bounces,
which reads the standard RFC 3464 fields in dsn and the servers' own words in server_words), a
complaint or a notification (notices), a challenge-response that asks the sender to confirm
(challenges), a reply or an automatic one (replies); kinds names them, mime reads mail as it
arrives, damaged or not.
May import: reasons."""
