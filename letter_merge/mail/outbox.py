"""Approving built letters, and queueing one email per approved letter as a standard .eml file.

An approval is bound to the SHA-256 of the PDF that was looked at: a letter rebuilt afterwards is
no longer approved. A queued message is fixed, Message-ID included, when it is queued; queueing
again adds nothing for a letter whose approved PDF already has its message.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from letter_merge.batch import Batch, PlannedLetter
from letter_merge.build import source_sha256, template_identity
from letter_merge.config import Settings
from letter_merge.errors import InputError, Problem, ProblemsFound
from letter_merge.files import write_atomic
from letter_merge.mail.ledger import Approval, now, open_ledger
from letter_merge.manifest import LetterRecord, approval_is_current, built_letters
from letter_merge.template.text import render_text
from letter_merge.untrusted import read_text_file


def approve_letters(settings: Settings, by: str) -> int:
    """Record that `by` checked every built PDF as it is now. All of them, or none."""
    if not by.strip():
        raise InputError("--by needs the name of the person who checked the letters.")
    paths = settings.paths
    problems = []
    approvals = []
    stamp = now()
    for authority, record in built_letters(paths).items():
        if record.pdf is None:
            problems.append(Problem(authority, "has no PDF; build it first (letter-merge build)."))
            continue
        if not record.pdf.matches(paths):
            problems.append(
                Problem(
                    authority,
                    f"{record.pdf.path} is missing or has changed since it was built; build again "
                    "and look at it before approving.",
                )
            )
            continue
        approvals.append(Approval(authority, record.pdf.path, record.pdf.sha256, by.strip(), stamp))
    if problems:
        raise ProblemsFound(problems, heading="Nothing was approved:")
    with open_ledger(paths) as ledger:
        ledger.approve(approvals)
    return len(approvals)


@dataclass
class QueueReport:
    queued: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (authority, why)


def queue_messages(batch: Batch) -> QueueReport:
    """An .eml in outbox/ and a queue entry for every approved letter that has none yet."""
    settings = batch.settings
    paths = settings.paths
    records = built_letters(paths)
    body_template = _read_email_template(settings.email_template)
    template_hash = template_identity(batch)
    report = QueueReport()
    with open_ledger(paths) as ledger:
        approvals = ledger.approvals()
        for letter in batch.letters():
            authority = letter.council.authority
            approval = approvals.get(authority)
            why = _not_ready(settings, letter, records.get(authority), approval, template_hash)
            if why:
                report.skipped.append((authority, why))
                continue
            assert approval is not None
            if ledger.message_for(authority, approval.pdf_sha256):
                report.already.append(authority)
                continue
            pdf = paths.absolute(approval.pdf_path)
            message = build_message(settings, letter, pdf, body_template)
            eml = paths.outbox / f"{letter.stem}.eml"
            write_atomic(eml, message.as_bytes(policy=email.policy.SMTP))
            ledger.add_message(
                message_id=str(message["Message-ID"]),
                authority=authority,
                pdf_sha256=approval.pdf_sha256,
                eml_path=paths.relative(eml),
                recipients=envelope_recipients(message),
                subject=str(message["Subject"]),
            )
            report.queued.append(authority)
    return report


def _not_ready(
    settings: Settings,
    letter: PlannedLetter,
    record: LetterRecord | None,
    approval: Approval | None,
    template_hash: str,
) -> str:
    if record is None or record.pdf is None:
        return "not built; run letter-merge build"
    if record.source_sha256 != source_sha256(template_hash, letter):
        return "the workbook or template changed since it was built; build, check and approve again"
    if approval is None:
        return "not approved; run letter-merge approve"
    if not approval_is_current(record, approval.pdf_sha256, settings.paths):
        return "its PDF changed after approval; check it and approve again"
    return ""


def _read_email_template(path: Path) -> str:
    return read_text_file(path, "email template", "[paths] email_template")


def build_message(
    settings: Settings, letter: PlannedLetter, pdf: Path, body_template: str
) -> EmailMessage:
    council = letter.council
    body = render_text(body_template, letter.fields, settings.email_template.name)
    message = EmailMessage()
    try:
        message["From"] = settings.email_from
        message["To"] = formataddr((council.salutation, council.email))
        if council.cc:
            message["Cc"] = ", ".join(council.cc)
        message["Subject"] = letter.subject
    except ValueError as error:  # a line break in a header value
        raise InputError(f"{council.authority}: cannot be sent as it is ({error}).") from None
    message["Date"] = formatdate(localtime=True)
    domain = parseaddr(settings.email_from)[1].rpartition("@")[2] or "letter-merge.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(body)
    message.add_attachment(
        pdf.read_bytes(), maintype="application", subtype="pdf", filename=pdf.name
    )
    return message


def envelope_recipients(message: EmailMessage) -> tuple[str, ...]:
    """Exactly the To and Cc addresses: nobody else ever receives a letter."""
    headers = [str(v) for v in (message.get_all("To", []) + message.get_all("Cc", []))]
    return tuple(address for _, address in getaddresses(headers) if address)
