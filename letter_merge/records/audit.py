"""Where every letter stands now, each council's history, and the audit record (CSV): built,
approved, queued, sent, failed, in doubt, and why. Reads the ledger without changing a byte."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from letter_merge.config import Settings
from letter_merge.files import write_atomic
from letter_merge.mail.ledger import (
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    WITHDRAWN,
    Approval,
    Event,
    Message,
    open_ledger,
)
from letter_merge.manifest import LetterRecord, approval_is_current, built_letters

# The states, in the order a letter moves through them, and what each means.
STATES = {
    "out of date": "the workbook or template changed since it was built: build, proof, approve",
    "build failed": "the last build could not make it; see the build's message",
    "built (.docx only)": "built without its PDF (--no-pdf): build again to make the PDF",
    "built": "built, not yet approved",
    "approval void": "approved, then rebuilt or changed: proof it and approve again",
    "approved": "approved, not yet queued",
    QUEUED: "queued, waiting for send",
    "in doubt": "a send was cut off mid-message: it may have arrived; settle with send --resolve",
    FAILED: "refused by the mail server; see its reply, then send --retry-failed",
    SENT: "accepted by the mail server",
    "changed since sent": "sent; its letter or figures changed since: build, proof, approve it",
    "correction approved": "sent before; a changed letter is approved: queue --correction",
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
    messages: int  # how many messages this council has had queued, corrections included


@dataclass(frozen=True)
class History:
    """One council: where it stands, and everything recorded about it, oldest first."""

    status: LetterStatus
    approvals: tuple[Approval, ...]
    messages: tuple[Message, ...]
    events: tuple[Event, ...]


def letter_statuses(
    settings: Settings, current_sources: Mapping[str, str] | None = None
) -> list[LetterStatus]:
    """Every built letter's state. `current_sources` (authority -> what its letter would be
    made from now) tells which letters are out of date; None when it cannot be worked out."""
    paths = settings.paths
    records = built_letters(paths)
    with open_ledger(paths, read_only=True) as ledger:
        approvals = ledger.approvals()
        messages = ledger.messages()
    by_authority: dict[str, list[Message]] = {}
    for message in messages:  # oldest first
        if message.state != WITHDRAWN:
            by_authority.setdefault(message.authority, []).append(message)
    return [
        _status(
            settings,
            authority,
            record,
            approvals.get(authority),
            by_authority.get(authority, []),
            current_sources,
        )
        for authority, record in records.items()
    ]


def _status(
    settings: Settings,
    authority: str,
    record: LetterRecord,
    approval: Approval | None,
    messages: list[Message],
    current_sources: Mapping[str, str] | None,
) -> LetterStatus:
    approved = approval is not None and approval_is_current(
        record, approval.pdf_sha256, settings.paths
    )
    out_of_date = (
        current_sources is not None and current_sources.get(authority) != record.source_sha256
    )
    last = messages[-1] if messages else None
    changed = record.pdf is None or (last is not None and last.pdf_sha256 != record.pdf.sha256)
    if last is not None and last.state == SENT and (changed or out_of_date):
        state = "correction approved" if approved and not out_of_date else "changed since sent"
    elif last is not None and last.state in (SENT, QUEUED, FAILED, SENDING):
        state = "in doubt" if last.state == SENDING else last.state
    elif out_of_date:
        state = "out of date"
    elif record.pdf is None:
        state = "build failed" if record.error else "built (.docx only)"
    elif approved:
        state = "approved"
    elif approval is not None:
        state = "approval void"
    else:
        state = "built"
    return LetterStatus(
        authority=authority,
        state=state,
        email=record.recipient.email,
        pdf=record.pdf.path if record.pdf else "",
        approved_by=approval.approved_by if approval else "",
        approved_at=approval.approved_at if approval else "",
        message_id=last.message_id if last else "",
        updated_at=last.updated_at if last else "",
        attempts=last.attempts if last else 0,
        last_reply=last.last_reply if last else "",
        messages=len(messages),
    )


def history(settings: Settings, status: LetterStatus) -> History:
    with open_ledger(settings.paths, read_only=True) as ledger:
        return History(
            status,
            tuple(ledger.approval_history(status.authority)),
            tuple(ledger.messages(authority=status.authority)),
            tuple(ledger.events(status.authority)),
        )


def counts(statuses: list[LetterStatus]) -> Counter[str]:
    return Counter(s.state for s in statuses)


CSV_COLUMNS = (
    "authority",
    "state",
    "email",
    "message_id",
    "kind",
    "correction_reason",
    "message_state",
    "queued_at",
    "sent_at",
    "attempts",
    "last_reply",
    "recipients",
    "subject",
    "pdf_sha256",
    "approved_by",
    "approved_at",
    "approved_despite_proof",
)


def write_csv(settings: Settings, statuses: list[LetterStatus], path: Path) -> None:
    """The audit record: one row for every message ever queued, re-sends and corrections
    included, with the approval behind it; and a row for each council with no message yet.
    Cells starting = + - @ are prefixed with ' so that Excel shows, not runs, them."""
    with open_ledger(settings.paths, read_only=True) as ledger:
        approvals = {a.id: a for a in ledger.approval_history()}
        messages = ledger.messages()
    by_authority: dict[str, list[Message]] = {}
    for queued in messages:
        by_authority.setdefault(queued.authority, []).append(queued)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for status in statuses:
        rows: list[Message | None] = list(by_authority.get(status.authority, [])) or [None]
        for message in rows:
            approval = approvals.get(message.approval_id or 0) if message else None
            row = [
                status.authority,
                status.state,
                status.email,
                message.message_id if message else "",
                ("correction" if message.correction else "first") if message else "",
                message.correction if message else "",
                message.state if message else "",
                message.queued_at if message else "",
                message.sent_at if message else "",
                str(message.attempts) if message else "",
                message.last_reply if message else "",
                "; ".join(message.recipients) if message else "",
                message.subject if message else "",
                message.pdf_sha256 if message else "",
                approval.approved_by if approval else status.approved_by,
                approval.approved_at if approval else status.approved_at,
                approval.despite_proof if approval else "",
            ]
            writer.writerow([_excel_safe(value) for value in row])
    write_atomic(path, buffer.getvalue().encode("utf-8-sig"))  # the BOM tells Excel it is UTF-8


def _excel_safe(value: str) -> str:
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
