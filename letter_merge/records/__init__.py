"""The records of a batch and the one answer to where each letter stands: the manifest (what was
built), the proof's results, the ledger (approvals and messages), read together."""
