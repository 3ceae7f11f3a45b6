"""Notices that are not delivery reports but say what became of a message: spam complaints
(ARF feedback reports, RFC 5965: the recipient marked it as junk) and Amazon SES's notices of a
bounce, complaint or delivery, sent by email as JSON."""

from __future__ import annotations

import json
from email.message import Message

from letter_merge.mail.inbox.reports import mime
from letter_merge.mail.inbox.reports.bounces import recipients_of, returned_original
from letter_merge.mail.inbox.reports.dsn import (
    MAX_FINDINGS,
    clean_diagnostic,
    is_address,
    status_blocks,
    status_of,
)
from letter_merge.mail.inbox.reports.kinds import (
    BOUNCED,
    COMPLAINT,
    DELIVERED,
    Finding,
    Report,
    make_report,
)
from letter_merge.mail.inbox.reports.server_words import report_text

FEEDBACK_TYPE = "message/feedback-report"


def read_complaint(message: Message, leaves: list[Message], problems: list[str]) -> Report:
    """A spam complaint (an ARF feedback report, RFC 5965): the recipient marked our message as
    junk, or their server reports it failed its checks."""
    fields: dict[str, str] = {}
    for part in leaves:
        if mime.content_type(part) == FEEDBACK_TYPE:
            for block in status_blocks(part, problems):
                for name, value in block.items():
                    fields.setdefault(name, value)
    returned = returned_original(leaves, problems)
    named = mime.addresses(
        [fields.get("original-rcpt-to", ""), fields.get("removal-recipient", "")]
    )
    if not named and returned is not None:
        named = list(recipients_of(returned))
    said = fields.get("feedback-type", "abuse")
    findings = tuple(
        Finding(address, COMPLAINT, "", f"Feedback-Type: {said}")
        for address in mime.unique(named)[:MAX_FINDINGS]
    )
    ids = [] if returned is None else mime.message_ids(mime.header(returned, "Message-ID"))
    ids += mime.reply_ids(message)
    recipients = () if returned is None else recipients_of(returned)
    return make_report(message, COMPLAINT, ids, problems, findings=findings, recipients=recipients)


def read_notification(
    message: Message, leaves: list[Message], problems: list[str]
) -> Report | None:
    """Amazon SES's notice of a bounce, complaint or delivery, sent by email (through SNS) as
    JSON; None when the message is no such notice."""
    text = report_text(leaves, problems)
    start = text.find("{")
    if start < 0 or ('"notificationType"' not in text and '"eventType"' not in text):
        return None
    try:
        notice, _ = json.JSONDecoder(strict=False).raw_decode(text[start:])  # lines re-wrapped
    except ValueError:
        return None
    if not isinstance(notice, dict):
        return None
    what = str(notice.get("notificationType") or notice.get("eventType") or "").lower()
    kind = {"bounce": BOUNCED, "complaint": COMPLAINT, "delivery": DELIVERED}.get(what)
    if kind is None:
        return None
    details = notice.get(what)
    details = details if isinstance(details, dict) else {}
    listed = details.get(
        {"bounce": "bouncedRecipients", "complaint": "complainedRecipients"}.get(what, "recipients")
    )
    findings = []
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, str):
            entry = {"emailAddress": entry}
        if not isinstance(entry, dict) or not is_address(str(entry.get("emailAddress", ""))):
            continue
        diagnostic = clean_diagnostic(str(entry.get("diagnosticCode", "")))
        status = status_of(str(entry.get("status", "")), diagnostic)
        address = str(entry["emailAddress"]).lower()
        findings.append(Finding(address, kind, status, diagnostic))
    sent = notice.get("mail")
    sent = sent if isinstance(sent, dict) else {}
    headers = sent.get("headers")
    ids = [
        i
        for header in (headers if isinstance(headers, list) else [])
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id"
        for i in mime.message_ids(str(header.get("value", "")))
    ]
    common = sent.get("commonHeaders")
    if isinstance(common, dict):
        ids += mime.message_ids(str(common.get("messageId", "")))
    return make_report(message, kind, ids, problems, findings=tuple(findings[:MAX_FINDINGS]))
