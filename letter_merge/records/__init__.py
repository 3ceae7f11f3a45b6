"""The records of a batch and the one answer to where each letter stands. Owns: the manifest
(what was built), the proof's results and cards (proofs), the ledger (approvals, messages, events,
deliveries), the office's decisions about averages (decisions), what a letter is made from
(sources), and the join (standing): each letter's state, and for each step whether it may go
ahead and what to do next (steps). Nothing outside records/ reads or writes a record.
May import: batch, chart, clock, config, decisions, errors, figures, files, paths, pdf, reasons,
steps, sync, words."""
