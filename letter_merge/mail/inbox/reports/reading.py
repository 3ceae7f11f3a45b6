"""Reading one message found in the sending mailbox: a bounce, a delay warning, an automatic reply,
a person's answer or none of these, and which message of ours it is about.

The front of the reading: it decides what a message is (a spam complaint, a delivery report by
its fields or by its words, a read receipt, a reply) and hands it to the module that reads that
kind (notices, bounces, replies; mime reads the parts). A message is tied to ours only by the
Message-IDs it carries, never by its subject. Nothing here raises: a message that cannot be
understood comes back with `problem` saying why, so one bad message never stops the reading of
the rest.
"""

from __future__ import annotations

import dataclasses
import re
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from letter_merge.mail.inbox.reports import mime
from letter_merge.mail.inbox.reports.bounces import RETURNED_MESSAGE_TYPES, read_delivery_report
from letter_merge.mail.inbox.reports.challenges import read_challenge
from letter_merge.mail.inbox.reports.dsn import MAX_DIAGNOSTIC, STATUS_TYPES
from letter_merge.mail.inbox.reports.kinds import (
    AUTO_REPLY,
    BOUNCED,
    CHALLENGE,
    COMPLAINT,
    DELAYED,
    DELIVERED,
    REPLY,
    UNKNOWN,
    UNREADABLE,
    Finding,
    Report,
    make_report,
    unreadable,
)
from letter_merge.mail.inbox.reports.notices import FEEDBACK_TYPE, read_complaint, read_notification
from letter_merge.mail.inbox.reports.replies import (
    MAX_WORDS,
    is_automatic,
    read_receipt,
    read_reply,
    says_auto_reply,
)
from letter_merge.mail.inbox.reports.server_words import (
    report_text,
    split_quoted,
    subject_kind,
    text_kind,
)

__all__ = [
    "AUTO_REPLY",
    "BOUNCED",
    "CHALLENGE",
    "COMPLAINT",
    "DELAYED",
    "DELIVERED",
    "MAX_DIAGNOSTIC",
    "MAX_WORDS",
    "REPLY",
    "UNKNOWN",
    "UNREADABLE",
    "Finding",
    "Report",
    "is_automatic",
    "read_report",
]


def read_report(raw: bytes) -> Report:
    """What the raw message is: never raises, whatever the bytes."""
    try:
        return _read(bytes(raw))
    except Exception as error:  # the last guard: a parser or decoder fault on hostile input
        return unreadable(raw, error)


def _read(raw: bytes) -> Report:
    problems: list[str] = []
    if len(raw) > mime.MAX_BYTES:
        raw = raw[: mime.MAX_BYTES]
        problems.append(
            f"It is larger than {mime.MAX_BYTES // (1024 * 1024)} MB; only the start was read."
        )
    if not raw.strip():
        return Report(kind=UNKNOWN, problem="The message is empty.")
    # Blank lines before the headers (a message saved or pasted with them) are not the body.
    raw = raw.lstrip(b" \t\r\n")
    try:
        message = BytesParser(policy=compat32).parsebytes(raw)
    except RecursionError:  # the parser recurses into nested parts
        message = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
        problems.append("Its parts are nested too deeply to be told apart; it was read as text.")
    if not any(True for _ in message.raw_items()):
        return Report(
            kind=UNKNOWN,
            problem="This is not an email: it has no headers (Date, From, Message-ID and so on).",
        )
    problems.extend(mime.damage(message))
    return _read_message(message, problems, wrapped=True)


def _read_message(message: Message, problems: list[str], *, wrapped: bool) -> Report:
    """What a parsed message is; with `wrapped`, a report a filter (Trend Micro, a relay)
    attached whole to its own notice is read inside it."""
    content_type = mime.content_type(message)
    report_type = mime.param(message, "report-type").lower()
    subject = mime.header(message, "Subject")
    leaves = list(mime.leaves(message))
    types = {mime.content_type(p) for p in leaves}
    status_parts = [p for p in leaves if mime.content_type(p) in STATUS_TYPES]
    returns = bool(types & set(RETURNED_MESSAGE_TYPES))
    if (
        report_type == "feedback-report"
        or FEEDBACK_TYPE in types
        or (_COMPLAINT_SUBJECT.match(subject) and returns)
    ):
        return read_complaint(message, leaves, problems)
    challenge = read_challenge(message, leaves, split_quoted(report_text(leaves, []))[0], problems)
    if challenge is not None:
        return challenge
    notification = read_notification(message, leaves, problems) if not status_parts else None
    if notification is not None:
        return notification
    if status_parts or (content_type == "multipart/report" and report_type == "delivery-status"):
        return read_delivery_report(message, leaves, status_parts, problems)
    if content_type == "multipart/report" and report_type == "disposition-notification":
        return read_receipt(message, leaves, problems)
    said = split_quoted(report_text(leaves, []))[0]
    forwarded = bool(_FORWARDED.match(subject))
    said_kind = text_kind(said)
    # A mail system's message is a delivery report unless it calls itself an automatic reply
    # and says nothing of a failure (what Auto-Submitted says is not enough). An empty
    # Return-Path alone does not make one: an out-of-office sent so, with no failure in its
    # words or subject and nothing returned, is a reply. So is one from another address whose
    # words say a delivery failed and that returns the original (au one net's no-reply@) or
    # whose subject says so too ("Non-Delivery: <the original's subject>", "... : non remis"),
    # unless a person forwarded it.
    says_failure = bool(said_kind or subject_kind(subject))
    from_mail_system = (
        _from_mail_system(message) and (says_failure or not says_auto_reply(message))
    ) or (_null_return_path(message) and (says_failure or returns))
    # A person's answer to our message (threaded to it, sent by no program) that says a
    # delivery failed is their reply, unless it returns the original as servers do.
    personal = bool(mime.reply_ids(message)) and not is_automatic(message) and not returns
    if from_mail_system or (
        said_kind and (returns or subject_kind(subject)) and not forwarded and not personal
    ):
        report = read_delivery_report(message, leaves, [], problems)
        inner = _attached_report(leaves, problems) if wrapped else None
        if inner is not None:  # its fields are surer than the words of the notice around it
            ids = inner.original_ids + report.original_ids
            return dataclasses.replace(
                report, kind=inner.kind, findings=inner.findings, original_ids=ids
            )
        return report
    if forwarded and subject_kind(subject):
        # A colleague forwarding a bounce: not a reply, and not a report of ours to trust (it
        # may be about any message); the report itself is in the mailbox it came to.
        return make_report(message, UNKNOWN, [], problems)
    return read_reply(message, leaves, problems)


def _attached_report(leaves: list[Message], problems: list[str]) -> Report | None:
    """A delivery report attached whole as a message of its own, read as one."""
    for part in leaves:
        inner = mime.subparts(part) if mime.content_type(part) in RETURNED_MESSAGE_TYPES else []
        if inner and any(mime.content_type(p) in STATUS_TYPES for p in mime.leaves(inner[0])):
            report = _read_message(inner[0], problems, wrapped=False)
            if any(f.recipient for f in report.findings):
                return report
    return None


_FORWARDED = re.compile(r"\s*(?:fwd?|wg|tr)\s*:", re.IGNORECASE)
# Hotmail's and Outlook.com's complaints (JMRP): no feedback-report part, the original attached.
_COMPLAINT_SUBJECT = re.compile(r"\s*complaint about message from", re.IGNORECASE)
_MAIL_SYSTEM_USER = re.compile(
    r"^(?:mailer-?daemon|mail-?daemon|post_?master|microsoftexchange|mail-?delivery|[\w.-]+-admin"
    r"|mailadmin|bounce[sd]?|no-?reply-?bounce|nobody)\b",
    re.IGNORECASE,
)
_MAIL_SYSTEM_NAME = re.compile(
    r"mail delivery (?:system|subsystem|service)|mailer-?daemon|post_?master|mail administrator"
    r"|system administrator|delivery status",
    re.IGNORECASE,
)


def _from_mail_system(message: Message) -> bool:
    """Sent by a mail server about delivery: a mailer daemon or postmaster, Exchange's own
    mailbox, or headers only bounces carry."""
    name, address = mime.first_pair(mime.header(message, "From"))
    user = address.partition("@")[0].lower()
    if _MAIL_SYSTEM_USER.match(user) or (not address and _MAIL_SYSTEM_USER.match(name)):
        return True
    if mime.header(message, "From").strip() == "<>":  # the null sender: only mail systems
        return True
    if _MAIL_SYSTEM_NAME.search(name):
        return True
    return mime.has_header(message, "X-Failed-Recipients") or mime.has_header(
        message, "X-MS-Exchange-Message-Is-Ndr"
    )


def _null_return_path(message: Message) -> bool:
    """Sent with an empty Return-Path, as bounces are, and not calling itself a reply."""
    return mime.header(message, "Return-Path").strip() == "<>" and not says_auto_reply(message)
