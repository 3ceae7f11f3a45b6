"""What a message found in the sending mailbox is: its kind, what a report says of each recipient
(Finding), and the Report that reading one message gives."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from letter_merge.mail.inbox.reports import mime
from letter_merge.reasons import classify

BOUNCED, DELAYED, DELIVERED = "bounced", "delayed", "delivered"
AUTO_REPLY, REPLY, UNKNOWN = "auto-reply", "reply", "unknown"
COMPLAINT = "complaint"  # a spam complaint (ARF feedback report): marked as junk by the recipient
# A challenge-response (Boxbe, Bluebottle, a "confirm you are a person" filter): our message is
# held until the sender confirms; neither a delivery nor a failure, and not the person's reply.
CHALLENGE = "challenge"
UNREADABLE = "It could not be read ("  # how the problem of a message nothing could read begins

MAX_IDS = 50


@dataclass(frozen=True)
class Finding:
    """What a report says about one recipient."""

    recipient: str  # address, lower-cased; '' when the report does not say
    kind: str  # BOUNCED, DELAYED or DELIVERED (Action: delivered, relayed or expanded)
    status: str  # enhanced status code, e.g. "5.1.1"; '' if none
    diagnostic: str  # the server's words, on one line, at most MAX_DIAGNOSTIC characters
    reason: str = ""  # why, as mail/reasons.py names it ("address unknown"); '' if delivered
    # The address as our message gave it, where the server delivered to another (an alias, a
    # forward: "x@y (expanded from <ceo@y>)"); '' when it is the recipient itself.
    original_recipient: str = ""


@dataclass(frozen=True)
class Report:
    """What one message in the mailbox is, and which message of ours it is about."""

    kind: str  # BOUNCED, DELAYED, DELIVERED, COMPLAINT, CHALLENGE, AUTO_REPLY, REPLY, UNKNOWN
    message_id: str = ""  # the report's own Message-ID: to record each report once
    date: str = ""  # its Date, ISO 8601 in UTC; '' if missing or unreadable
    sender: str = ""  # its From address, lower-cased
    subject: str = ""
    # Message-IDs of the message it is about, most trusted first: the returned original's, the
    # report's X-Original-Message-ID (Gmail), In-Reply-To, References (nearest first),
    # Exchange's X-MS-Exchange-Parent-Message-Id, then the headers a report quotes in its text.
    original_ids: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()  # per recipient, for delivery reports
    original_recipients: tuple[str, ...] = ()  # To and Cc of the returned original
    words: str = ""  # for replies and automatic replies: the first of the sender's own words
    problem: str = ""  # '' normally; what is wrong with a message that cannot be fully read


def make_report(
    message: Message,
    kind: str,
    ids: Iterable[str],
    problems: list[str],
    *,
    findings: tuple[Finding, ...] = (),
    recipients: tuple[str, ...] = (),
    words: str = "",
) -> Report:
    own = mime.first(mime.message_ids(mime.header(message, "Message-ID")))
    # A report's returned original may carry the same id as the report (a test server does
    # that); a reply never refers to itself.
    wanted = [i for i in mime.unique(ids) if i != own or kind in (BOUNCED, DELAYED, COMPLAINT)]
    wanted = wanted[:MAX_IDS]
    findings = tuple(
        f
        if f.reason or f.kind == DELIVERED
        else dataclasses.replace(f, reason=classify(f.kind, f.status, f.diagnostic).name)
        for f in findings
    )
    return Report(
        kind=kind,
        message_id=own,
        date=mime.iso_date(mime.header(message, "Date")),
        sender=mime.first(mime.addresses([mime.header(message, "From")])),
        subject=mime.header(message, "Subject"),
        original_ids=tuple(wanted),
        findings=findings,
        original_recipients=recipients,
        words=words,
        problem=" ".join(mime.unique(problems)),
    )


def unreadable(raw: object, error: Exception) -> Report:
    """What little can be said of a message the parser or a decoder gave up on."""
    problem = f"{UNREADABLE}{type(error).__name__}: {mime.one_line(str(error), 120)})."
    try:
        head = raw[:65536] if isinstance(raw, bytes | bytearray) else b""
        headers = HeaderParser(policy=compat32).parsestr(bytes(head).decode("latin-1"), True)
        return Report(
            kind=UNKNOWN,
            message_id=mime.first(mime.message_ids(mime.header(headers, "Message-ID"))),
            date=mime.iso_date(mime.header(headers, "Date")),
            sender=mime.first(mime.addresses([mime.header(headers, "From")])),
            subject=mime.header(headers, "Subject"),
            problem=problem,
        )
    except Exception:  # nothing more can be said
        return Report(kind=UNKNOWN, problem=problem)
