"""Where every letter stands: built, approved, queued, sent, failed, in doubt, and why."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from letter_merge.config import Settings
from letter_merge.files import write_atomic
from letter_merge.mail.ledger import FAILED, QUEUED, SENDING, SENT, Message, open_ledger
from letter_merge.manifest import approval_is_current, built_letters

# The states, in the order a letter moves through them, and what each means.
STATES = {
    "build failed": "the last build could not make its PDF; see the build's message",
    "built": "built, not yet approved",
    "approval void": "approved, then rebuilt or changed: check it and approve again",
    "approved": "approved, not yet queued",
    QUEUED: "queued, waiting for send",
    "in doubt": "a send was cut off mid-message: it may have arrived; settle with send --resolve",
    SENT: "accepted by the mail server",
    FAILED: "refused by the mail server; see its reply",
}


@dataclass(frozen=True)
class LetterStatus:
    authority: str
    state: str
    email: str
    pdf: str
    approved_by: str
    approved_at: str
    message_id: str
    updated_at: str
    attempts: int
    last_reply: str


def letter_statuses(settings: Settings) -> list[LetterStatus]:
    paths = settings.paths
    records = built_letters(paths)
    with open_ledger(paths, read_only=True) as ledger:
        approvals = ledger.approvals()
        latest: dict[str, Message] = {}
        for message in ledger.messages():  # oldest first: the last one wins
            latest[message.authority] = message
    result = []
    for authority, record in records.items():
        pdf = record.pdf
        approval = approvals.get(authority)
        last = latest.get(authority)
        approved = approval is not None and approval_is_current(record, approval.pdf_sha256, paths)
        if last is not None and (
            last.state == SENT or (approved and approval and last.pdf_sha256 == approval.pdf_sha256)
        ):
            state = "in doubt" if last.state == SENDING else last.state
        elif not pdf:
            state = "build failed"
        elif approved:
            state = "approved"
        elif approval:
            state = "approval void"
        else:
            state = "built"
        result.append(
            LetterStatus(
                authority=authority,
                state=state,
                email=record.recipient.email,
                pdf=pdf.path if pdf else "",
                approved_by=approval.approved_by if approval else "",
                approved_at=approval.approved_at if approval else "",
                message_id=last.message_id if last else "",
                updated_at=last.updated_at if last else "",
                attempts=last.attempts if last else 0,
                last_reply=last.last_reply if last else "",
            )
        )
    return result


def counts(statuses: list[LetterStatus]) -> Counter[str]:
    return Counter(s.state for s in statuses)


def write_csv(statuses: list[LetterStatus], path: Path) -> None:
    """The audit record. Cells starting = + - @ are prefixed with ' so Excel shows, not runs, them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f.name for f in fields(LetterStatus)])
    for status in statuses:
        writer.writerow([_excel_safe(str(v)) for v in asdict(status).values()])
    write_atomic(path, buffer.getvalue().encode("utf-8-sig"))  # the BOM tells Excel it is UTF-8


def _excel_safe(value: str) -> str:
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
