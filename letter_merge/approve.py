"""Approving built letters: someone looked at these exact PDFs (bound by their SHA-256) and says
they may go. An approval is never changed or replaced; a letter rebuilt afterwards is approved
again, as a new approval.

Only a letter built from the inputs as they are now, whose PDF is the one built and passed the
proof as it is now, is approved; `despite_proof` approves one whose proof failed or is missing,
with the reason recorded. Every other letter is listed with why, and what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from letter_merge.batch import Batch, select_names
from letter_merge.clock import now
from letter_merge.errors import InputError
from letter_merge.records.join import Records
from letter_merge.records.ledger import Approval, open_ledger
from letter_merge.steps import Blocker


@dataclass
class ApproveReport:
    approved: list[str] = field(default_factory=list)
    despite_proof: list[str] = field(default_factory=list)  # approved although proof said no
    already: list[str] = field(default_factory=list)  # the same PDF approved before: kept
    refused: list[tuple[str, Blocker]] = field(default_factory=list)


def approve_letters(
    batch: Batch, by: str, *, only: Sequence[str] = (), despite_proof: str = ""
) -> ApproveReport:
    """Record that `by` checked these letters' PDFs as they are now (every built letter, or
    those named in `only`)."""
    if not by.strip():
        raise InputError("Say who checked the letters: their name is kept on the record.")
    records = Records.load(batch.settings, batch)
    records.require_built()
    built = [s.authority for s in records.standings() if s.record is not None]
    chosen = select_names(built, only) if only else built
    report = ApproveReport()
    approvals = []
    stamp = now()
    for authority in chosen:
        standing = records.standing(authority)
        refusal = standing.approve_blocker(despite_proof=bool(despite_proof.strip()))
        if refusal is not None:
            report.refused.append((authority, refusal))
            continue
        if standing.approval_holds:
            report.already.append(authority)
            continue
        record = standing.record
        assert record is not None and record.pdf is not None
        despite = "" if standing.proof_passed else despite_proof.strip()
        approvals.append(
            Approval(authority, record.pdf.path, record.pdf.sha256, by.strip(), stamp, despite)
        )
        (report.despite_proof if despite else report.approved).append(authority)
    if approvals:
        with open_ledger(batch.settings.paths) as ledger:
            ledger.approve(approvals)
    return report
