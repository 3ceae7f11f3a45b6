"""What one message found in the mailbox is: reading sorts it (reading) into a delivery report
(bounces: the standard RFC 3464 fields, then the servers' own words), a complaint or a
notification (notices), a reply or an automatic one (replies); kinds names them, mime reads mail
as it arrives, damaged or not.
May import: reasons."""
