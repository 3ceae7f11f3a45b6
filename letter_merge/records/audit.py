"""Each council's whole history, and the audit record (CSV): every approval, every message ever
queued (corrections and re-sends too) with the approval behind it, and every event. Read from
the records as they were loaded; nothing is changed."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from letter_merge.files import write_atomic
from letter_merge.records.join import Records
from letter_merge.records.ledger import SENT, Approval, Delivery, Event, Message
from letter_merge.records.publication import PUBLISHED
from letter_merge.records.standing import Standing, delivery_state


@dataclass(frozen=True)
class History:
    """One council: where it stands, and everything recorded about it, oldest first."""

    standing: Standing
    approvals: tuple[Approval, ...]
    messages: tuple[Message, ...]  # withdrawn ones too
    events: tuple[Event, ...]


def history(records: Records, authority: str) -> History:
    return History(
        records.standing(authority),
        tuple(a for a in records.approval_history if a.authority == authority),
        tuple(m for m in records.messages if m.authority == authority),
        tuple(e for e in records.events if e.authority == authority),
    )


CSV_COLUMNS = (
    "authority",
    "state",
    "why",
    "proof",
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
    "came_back",
    "came_back_detail",
    "published_at",  # when this message's letter was put in the publish folder
    "email_before",
)


def write_csv(records: Records, path: Path) -> None:
    """The audit record: one row for every message ever queued, re-sends and corrections
    included, with the approval behind it; and a row for each council with no message yet.
    Cells starting = + - @ are prefixed with ' so that Excel shows, not runs, them."""
    approvals = {a.id: a for a in records.approval_history}
    published: dict[str, str] = {}
    for event in records.events:
        if event.event == PUBLISHED:
            published.setdefault(event.message_id, event.at)
    by_authority: dict[str, list[Message]] = {}
    for queued in records.messages:
        by_authority.setdefault(queued.authority, []).append(queued)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for standing in records.standings():
        current = standing.approval
        rows: list[Message | None] = list(by_authority.get(standing.authority, [])) or [None]
        for message in rows:
            approval = approvals.get(message.approval_id or 0) if message else current
            record = standing.record
            row = [
                standing.authority,
                standing.state,
                standing.why,
                standing.proof_result,
                "; ".join(standing.went_to) or (record.recipient.email if record else ""),
                message.message_id if message else "",
                _kind(message) if message else "",
                message.correction if message else "",
                message.state if message else "",
                message.queued_at if message else "",
                message.sent_at if message else "",
                str(message.attempts) if message else "",
                message.last_reply if message else "",
                "; ".join(message.recipients) if message else "",
                message.subject if message else "",
                message.pdf_sha256 if message else "",
                approval.approved_by if approval else "",
                approval.approved_at if approval else "",
                approval.despite_proof if approval else "",
                *(_came_back(standing.deliveries, message) if message else ("", "")),
                published.get(message.message_id, "") if message else "",
                "; ".join(standing.went_to_before),
            ]
            writer.writerow([_excel_safe(value) for value in row])
    write_atomic(path, buffer.getvalue().encode("utf-8-sig"))  # the BOM tells Excel it is UTF-8


def _kind(message: Message) -> str:
    if message.resend_of:
        return "re-send"
    return "correction" if message.correction else "first"


def _came_back(deliveries: tuple[Delivery, ...], message: Message) -> tuple[str, str]:
    """What came back to the mailbox about this message: its word and every finding, in
    words ('' when nothing has, or it was never sent)."""
    if message.state != SENT:
        return "", ""
    kind, _ = delivery_state(list(deliveries), message)
    about = [d.summary() for d in deliveries if d.message_id == message.message_id]
    return kind or "delivered as far as we know", "; ".join(about)


def _excel_safe(value: str) -> str:
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
