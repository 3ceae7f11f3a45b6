"""Delivery reports: bounces, delay warnings and delivery notices, read from their RFC 3464 fields
first (dsn.py) and from the words servers write for people second (server_words.py); each
recipient's address, status, the server's words, and the original message's Message-IDs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from letter_merge.mail.inbox.reports import mime
from letter_merge.mail.inbox.reports.dsn import (
    MAX_FINDINGS,
    finding_of,
    names_recipient,
    parse_status_text,
    status_blocks,
    status_of,
)
from letter_merge.mail.inbox.reports.kinds import (
    BOUNCED,
    DELAYED,
    DELIVERED,
    UNKNOWN,
    Finding,
    Report,
    make_report,
)
from letter_merge.mail.inbox.reports.server_words import (
    bare_names,
    quoted_header_block,
    quoted_message_ids,
    report_text,
    salvaged_ids,
    senders_named,
    split_quoted,
    subject_kind,
    text_findings,
    text_kind,
    unnamed,
)
from letter_merge.reasons import OTHER, classify

RETURNED_MESSAGE_TYPES = ("message/rfc822", "message/global")
_RETURNED_HEADER_TYPES = (
    "text/rfc822-headers",
    "message/global-headers",
    "message/rfc822-headers",  # not a registered type, but written
)
_WORST = (BOUNCED, DELAYED, DELIVERED)


def read_delivery_report(
    message: Message, leaves: list[Message], status_parts: list[Message], problems: list[str]
) -> Report:
    """A bounce, delay warning or delivery notice: RFC 3464 fields first, its words second."""
    per_message: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    for part in status_parts:
        for block in status_blocks(part, problems):
            if names_recipient(block):
                blocks.append(block)
            else:
                for name, value in block.items():
                    per_message.setdefault(name, value)
    text = report_text(leaves, problems)
    said, quoted = split_quoted(text)
    exclude = set(mime.addresses([mime.header(message, "From"), mime.header(message, "To")]))
    listed = mime.addresses(mime.all_headers(message, "X-Failed-Recipients"))
    subject = subject_kind(mime.header(message, "Subject"))
    from_text = text_findings(said, listed, exclude, text_kind(said) or subject)
    is_report = mime.content_type(message) == "multipart/report" or bool(status_parts)
    structure_lost = (
        mime.content_type(message).startswith("multipart/") and not message.is_multipart()
    )
    if blocks:
        findings = _with_text(
            [finding_of(b) for b in blocks[:MAX_FINDINGS]], from_text, len(blocks) == 1
        )
    else:
        salvaged = [b for b in parse_status_text(text) if names_recipient(b)]
        findings = [finding_of(b) for b in salvaged[:MAX_FINDINGS]] or from_text
        if status_parts:
            problems.append("Its delivery-status part names no recipient; " + _read_from(findings))
        elif structure_lost:
            problems.append("It is a delivery report; " + _read_from(findings))
        elif is_report:
            problems.append(
                "It says it is a delivery report but has no delivery-status part; "
                + _read_from(findings)
            )
    kind = _worst(f.kind for f in findings) or text_kind(said) or subject or UNKNOWN
    if kind == UNKNOWN and not problems:
        problems.append("It looks like a delivery report, but says nothing of what happened.")
    returned = returned_original(leaves, problems)
    quoted_headers = quoted_header_block(quoted)
    ids = _original_ids(
        message, leaves, per_message, returned, quoted_headers, quoted, text, structure_lost
    )
    original = returned if returned is not None else quoted_headers
    recipients = () if original is None else recipients_of(original)
    if kind in (BOUNCED, DELAYED) and not any(f.recipient for f in findings):
        # Listed by local part alone, else the one address its words or the original give.
        findings = bare_names(said, text, _reporting_domain(message), kind) or unnamed(
            findings, kind, said, recipients, exclude
        )
    # Our own return address, or a postmaster the words mention, beside a recipient that failed.
    ours = _our_addresses(message, original, per_message, said)
    others = [f for f in findings if not _never_failed(f.recipient, ours)]
    if any(f.recipient for f in others):
        findings = others
    if len(findings) == 1 and classify(kind, findings[0].status, findings[0].diagnostic) == OTHER:
        # The server's words say nothing telling: what the report says around them may.
        reason = classify(findings[0].kind, findings[0].status, said)
        findings = [dataclasses.replace(findings[0], reason=reason.name)]
    return make_report(
        message, kind, ids, problems, findings=tuple(findings), recipients=recipients
    )


def _original_ids(
    message: Message,
    leaves: list[Message],
    per_message: dict[str, str],
    returned: Message | None,
    quoted_headers: Message | None,
    quoted: str,
    text: str,
    structure_lost: bool,
) -> list[str]:
    """The Message-IDs of the message a report is about: from the original it returns, its
    fields, its In-Reply-To, the headers it quotes; failing those, wherever one stands."""
    ids = []
    if returned is not None:
        ids += mime.message_ids(mime.header(returned, "Message-ID"))
    ids += mime.message_ids(per_message.get("x-original-message-id", ""))
    reply_ids = mime.reply_ids(message)
    ids += reply_ids
    if quoted_headers is not None:
        ids += mime.message_ids(mime.header(quoted_headers, "Message-ID"))
    elif quoted:
        ids += quoted_message_ids(quoted)
    if structure_lost:
        ids += salvaged_ids(text)  # the MIME structure is lost: the ids still stand in its text
    if len(ids) == len(reply_ids):
        # Nothing returned or quoted where servers usually put it: a Message-ID line anywhere in
        # its words ("The header of the original message is following", a headers attachment).
        ids += quoted_message_ids(text)
        # Or as a part's own headers: a returned header block sent as a part without a
        # Content-Type of its own, whose first lines the parser takes for the part's headers.
        ids += [i for p in leaves if p is not message for i in _own_ids(p)][:1]
    if len(ids) == len(reply_ids):
        # Last, anywhere in its body as written: parts a damaged boundary hides are there too.
        ids += quoted_message_ids(mime.as_text(message).partition("\n\n")[2])
    return ids


_MAIL_SYSTEM_LOCAL = ("postmaster", "mailer-daemon", "mailer_daemon", "mail-daemon")


def _never_failed(recipient: str, ours: set[str]) -> bool:
    """Our own return address, or a mail system's postmaster: not the failed recipient where
    the report names another."""
    return bool(recipient) and (
        recipient in ours or recipient.partition("@")[0] in _MAIL_SYSTEM_LOCAL
    )


def _our_addresses(
    message: Message, original: Message | None, per_message: dict[str, str], said: str
) -> set[str]:
    """The addresses that are ours: the report is sent to our return address; the original it
    returns was sent from it (its Return-Path: its From may be anyone's); the report may name
    its sender."""
    headers = mime.all_headers(message, "To")
    if original is not None:
        for name in ("Return-Path", "Errors-To"):
            headers += mime.all_headers(original, name)
    sender = per_message.get("x-postfix-sender", "")
    headers.append(sender.partition(";")[2] or sender)
    return {a.lower() for a in mime.addresses(headers)} | set(senders_named(said))


def _reporting_domain(message: Message) -> str:
    """The domain of a mail system's own address the report comes from (AOL's
    MAILER-DAEMON@aol.com), to make whole the local parts it lists; '' otherwise."""
    address = mime.first(mime.addresses([mime.header(message, "From")]))
    local, _, domain = address.lower().partition("@")
    return domain if local in _MAIL_SYSTEM_LOCAL else ""


def _worst(kinds: Iterable[str]) -> str:
    present = set(kinds)
    return next((kind for kind in _WORST if kind in present), "")


def _with_text(findings: list[Finding], said: list[Finding], single: bool) -> list[Finding]:
    """Fill what the fields leave out (Exim gives no Diagnostic-Code for some failures) from
    what the report's text says of the same address, or of its only address."""
    by_address = {f.recipient: f for f in said}
    filled = []
    for finding in findings:
        words = by_address.get(finding.recipient) or (
            said[0] if single and len(said) == 1 else None
        )
        if words is not None and not finding.diagnostic:
            finding = dataclasses.replace(
                finding,
                recipient=finding.recipient or words.recipient,
                status=status_of(finding.status, words.diagnostic),
                diagnostic=words.diagnostic,
            )
        filled.append(finding)
    return filled


def _read_from(findings: list[Finding]) -> str:
    if findings:
        return "what it says was read from its text."
    return "its text names no recipient."


def _own_ids(part: Message) -> list[str]:
    return mime.message_ids(mime.header(part, "Message-ID"))


def returned_original(leaves: list[Message], problems: list[str]) -> Message | None:
    """The original as the report returns it: whole, or its headers only."""
    for part in leaves:
        kind = mime.content_type(part)
        if kind in RETURNED_MESSAGE_TYPES:
            subparts = mime.subparts(part)
            if subparts:
                inner = subparts[0]
                if any(True for _ in inner.raw_items()):
                    return inner
                # Encoded, which RFC 2046 forbids for message/rfc822 but servers do.
                encoding = mime.header(part, "Content-Transfer-Encoding").lower()
                text = mime.as_text(inner)
                if encoding in ("base64", "quoted-printable"):
                    text = mime.bytes_text(mime.undo_transfer_encoding(text.strip(), encoding))
            else:
                text = mime.part_text(part, problems)
            return HeaderParser(policy=compat32).parsestr(text.lstrip("\n")[: mime.MAX_TEXT], True)
        if kind in _RETURNED_HEADER_TYPES:
            text = mime.part_text(part, problems).lstrip("\n")
            return HeaderParser(policy=compat32).parsestr(text[: mime.MAX_TEXT], headersonly=True)
    return None


def recipients_of(original: Message) -> tuple[str, ...]:
    return tuple(
        mime.unique(
            mime.addresses(mime.all_headers(original, "To") + mime.all_headers(original, "Cc"))
        )
    )
