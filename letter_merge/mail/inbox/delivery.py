"""Did every chief executive get it? What came back to the sending mailbox, matched to the letters.

`send` knows only that the mail server took a message. Days later a delivery report may say it
never arrived (an address that stopped working), or that a relay is still trying; a chief
executive's out-of-office answers; a link officer replies. The mailbox is read (never changed:
mailbox.py), each message understood (reports.py) and matched to its letter: by the Message-ID
of the message it is about first; failing that by the address it was sent to, among this
batch's sent messages, when exactly one council's message went there; never by subject. What
matches no letter of the batch is listed as such, never guessed. Each finding is recorded in the
ledger once, however often the mailbox is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from letter_merge.clock import now
from letter_merge.config import Settings
from letter_merge.mail.inbox.mailbox import Fetched, mark_seen, read_mailbox
from letter_merge.mail.inbox.reports.reading import AUTO_REPLY, REPLY, UNKNOWN, Report, read_report
from letter_merge.records.join import Records
from letter_merge.records.ledger import SENT, Delivery, Message, open_ledger


@dataclass
class DeliveryReport:
    """What one reading of the mailbox found."""

    read: int = 0  # messages in the mailbox read
    marked: int = 0  # marked read, where [mailbox] mark = "seen" asks for it
    new: list[Delivery] = field(default_factory=list)  # about this batch's letters, first seen
    unmatched: list[Delivery] = field(default_factory=list)  # about no letter of this batch
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (where, what is wrong)
    already: int = 0  # found by an earlier reading
    other: int = 0  # neither a report nor a reply (newsletters, messages from anyone)


Reader = Callable[..., list[Fetched]]


def read_deliveries(
    settings: Settings,
    *,
    since: dt.date | None = None,
    environ: Mapping[str, str] | None = None,
    reader: Reader = read_mailbox,
) -> DeliveryReport:
    """Read the sending mailbox once and record what it says about this year's letters."""
    report = DeliveryReport()
    matcher = _Matcher(Records.load(settings).messages)
    fetched = reader(settings, since=since, environ=environ)
    report.read = len(fetched)
    found: list[Delivery] = []
    for item in fetched:
        understood = read_report(item.raw)
        if understood.kind == UNKNOWN:
            if understood.problem:
                report.unreadable.append((item.key, understood.problem))
            else:
                report.other += 1
            continue
        found += matcher.findings(understood, item)
    with open_ledger(settings.paths) as ledger:
        added = ledger.add_deliveries(found)
        ledger.mailbox_read(report.read)
    report.marked = mark_seen(
        settings, sorted({d.place for d in added if d.authority}), environ=environ
    )
    report.already = len(found) - len(added)
    report.new = [d for d in added if d.authority]
    report.unmatched = [d for d in added if not d.authority]
    return report


class _Matcher:
    def __init__(self, messages: list[Message]) -> None:
        self.by_id = {m.message_id: m for m in messages}
        # Each address this batch's sent messages went to -> the councils' messages, latest last.
        self.by_address: dict[str, list[Message]] = {}
        for message in messages:
            if message.state == SENT:
                for address in message.recipients:
                    self.by_address.setdefault(address.casefold(), []).append(message)

    def findings(self, report: Report, item: Fetched) -> list[Delivery]:
        identity = report.message_id or "sha256:" + hashlib.sha256(item.raw).hexdigest()
        by_id = next((self.by_id[i] for i in report.original_ids if i in self.by_id), None)
        # A report that names the message it is about, and names none of ours, is about
        # another message (last year's, another office's): never matched by address.
        by_address = not report.original_ids
        common: dict[str, str] = {
            "report": identity,
            "found_at": now(),
            "dated": report.date,
            "sender": report.sender,
            "subject": report.subject,
            "place": item.key,
        }
        if report.kind in (REPLY, AUTO_REPLY) or not report.findings:
            about = [{"recipient": report.sender, "kind": report.kind, "words": report.words}]
        else:
            about = [
                {
                    "recipient": f.recipient,
                    "kind": f.kind,
                    "status": f.status,
                    "diagnostic": f.diagnostic,
                    "reason": f.reason,
                }
                for f in report.findings
            ]
        # By address: the one our message gave, where the server delivered to another (alias).
        given = {f.recipient: f.original_recipient for f in report.findings}
        deliveries = []
        for found in about:
            address = given.get(found["recipient"]) or found["recipient"]
            message, matched_by = self._match(by_id, address if by_address else "")
            deliveries.append(
                Delivery(
                    authority=message.authority if message else "",
                    message_id=message.message_id if message else "",
                    matched_by=matched_by,
                    **found,
                    **common,
                )
            )
        return deliveries

    def _match(self, by_id: Message | None, address: str) -> tuple[Message | None, str]:
        """The message by its Message-ID; else the one council's latest message sent to
        `address` (none when no council's, or several councils', went there)."""
        if by_id is not None:
            return by_id, "message-id"
        sent = self.by_address.get(address.casefold(), []) if address else []
        if len({m.authority for m in sent}) == 1:
            return sent[-1], "recipient"
        return None, ""
