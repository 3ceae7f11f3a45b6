"""Approving built letters, and queueing one email per approved letter as a standard .eml file.

An approval is bound to the SHA-256 of the PDF that was looked at: a letter rebuilt afterwards is
no longer approved. A queued message is fixed, Message-ID included, when it is queued; queueing
again adds nothing for a letter whose approved PDF already has its message.
"""

from __future__ import annotations

import email.policy
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from letter_merge.batch import Batch, PlannedLetter
from letter_merge.build import MANIFEST_NAME, read_manifest, source_sha256, template_identity
from letter_merge.config import Settings
from letter_merge.errors import InputError, Problem, ProblemsFound
from letter_merge.files import sha256_file, write_atomic
from letter_merge.ledger import LEDGER_NAME, Approval, Ledger, now
from letter_merge.render import render_text

OUTBOX = "outbox"


def ledger_for(settings: Settings) -> Ledger:
    return Ledger(settings.year_dir / LEDGER_NAME)


def built_letters(settings: Settings) -> dict[str, dict[str, Any]]:
    """The manifest's entry for every built letter, by authority."""
    manifest = read_manifest(settings.year_dir / MANIFEST_NAME)
    entries = manifest.get("letters", []) if manifest.get("year") == settings.year else []
    if not entries:
        raise InputError(
            f"No letters have been built for {settings.year}; run 'letter-merge build' first."
        )
    return {entry["authority"]: entry for entry in entries}


def approve_letters(settings: Settings, by: str) -> int:
    """Record that `by` checked every built PDF as it is now. All of them, or none."""
    if not by.strip():
        raise InputError("--by needs the name of the person who checked the letters.")
    problems = []
    approvals = []
    stamp = now()
    for authority, entry in built_letters(settings).items():
        pdf = entry.get("files", {}).get("pdf")
        if not pdf:
            problems.append(Problem(authority, "has no PDF; build it first (letter-merge build)."))
            continue
        path = settings.year_dir / pdf["path"]
        if not path.is_file() or sha256_file(path) != pdf["sha256"]:
            problems.append(
                Problem(
                    authority,
                    f"{pdf['path']} is missing or has changed since it was built; build again "
                    "and look at it before approving.",
                )
            )
            continue
        approvals.append(Approval(authority, pdf["path"], pdf["sha256"], by.strip(), stamp))
    if problems:
        raise ProblemsFound(problems, heading="Nothing was approved:")
    with ledger_for(settings) as ledger:
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
    entries = built_letters(settings)
    body_template = _read_email_template(settings.email_template)
    template_hash = template_identity(batch)
    report = QueueReport()
    with ledger_for(settings) as ledger:
        approvals = ledger.approvals()
        for letter in batch.letters():
            authority = letter.council.authority
            approval = approvals.get(authority)
            why = _not_ready(settings, letter, entries.get(authority), approval, template_hash)
            if why:
                report.skipped.append((authority, why))
                continue
            assert approval is not None
            if ledger.message_for(authority, approval.pdf_sha256):
                report.already.append(authority)
                continue
            pdf = settings.year_dir / approval.pdf_path
            message = build_message(settings, letter, pdf, body_template)
            eml = settings.year_dir / OUTBOX / f"{letter.stem}.eml"
            write_atomic(eml, message.as_bytes(policy=email.policy.SMTP))
            ledger.add_message(
                message_id=str(message["Message-ID"]),
                authority=authority,
                pdf_sha256=approval.pdf_sha256,
                eml_path=eml.relative_to(settings.year_dir).as_posix(),
                recipients=envelope_recipients(message),
                subject=str(message["Subject"]),
            )
            report.queued.append(authority)
    return report


def _not_ready(
    settings: Settings,
    letter: PlannedLetter,
    entry: Mapping[str, Any] | None,
    approval: Approval | None,
    template_hash: str,
) -> str:
    if entry is None or "pdf" not in entry.get("files", {}):
        return "not built; run letter-merge build"
    if entry.get("source_sha256") != source_sha256(template_hash, letter):
        return "the workbook or template changed since it was built; build, check and approve again"
    if approval is None:
        return "not approved; run letter-merge approve"
    pdf = settings.year_dir / approval.pdf_path
    if not pdf.is_file() or sha256_file(pdf) != approval.pdf_sha256:
        return "its PDF changed after approval; check it and approve again"
    return ""


def _read_email_template(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(
            f"{path}: the email template cannot be read ({error.strerror}); check "
            "[paths] email_template in letter-merge.toml."
        ) from None


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
