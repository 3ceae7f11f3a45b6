"""Approving, queueing and sending letters, and where each stands: the ledger (ledger), approval
and the outbox (outbox), SMTP (send), status. May import: proof, pdf and every top-level
module."""
