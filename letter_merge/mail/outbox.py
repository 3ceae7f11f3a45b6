"""Approving built letters, and queueing one email per approved letter as a standard .eml file.

An approval is bound to the SHA-256 of the PDF that was looked at, and is never changed or
replaced: a letter rebuilt afterwards is approved again, as a new approval. A queued message is
fixed, Message-ID included, when it is queued, and keeps its own .eml. A council that has been
sent a letter is sent another only as a correction, asked for by name and with a reason.
"""

from __future__ import annotations

import email.policy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from letter_merge.batch import Batch, PlannedLetter, select_names
from letter_merge.build import source_sha256, template_identity
from letter_merge.config import Settings
from letter_merge.errors import InputError
from letter_merge.files import write_atomic
from letter_merge.mail.ledger import (
    FAILED,
    QUEUED,
    SENT,
    WITHDRAWN,
    Approval,
    Ledger,
    now,
    open_ledger,
)
from letter_merge.manifest import LetterRecord, approval_is_current, built_letters
from letter_merge.proof.record import read_results


@dataclass
class ApproveReport:
    approved: list[str] = field(default_factory=list)
    despite_proof: list[str] = field(default_factory=list)  # approved although proof said no
    already: list[str] = field(default_factory=list)  # the same PDF approved before: kept
    refused: list[tuple[str, str]] = field(default_factory=list)  # (authority, why)


def approve_letters(
    settings: Settings, by: str, *, only: Sequence[str] = (), despite_proof: str = ""
) -> ApproveReport:
    """Record that `by` checked these letters' PDFs as they are now (every built letter, or
    those named in `only`). A letter approved before with the same PDF keeps that approval;
    one whose proof failed, or that was rebuilt since the last proof, is refused unless
    `despite_proof` says why, which is recorded."""
    if not by.strip():
        raise InputError("--by needs the name of the person who checked the letters.")
    paths = settings.paths
    records = built_letters(paths)
    chosen = select_names(records, only) if only else list(records)
    proofs = read_results(paths.proof_results)
    report = ApproveReport()
    approvals = []
    stamp = now()
    with open_ledger(paths) as ledger:
        current = ledger.approvals()
        for authority in chosen:
            record = records[authority]
            if record.pdf is None:
                report.refused.append((authority, "has no PDF; build it (letter-merge build)"))
                continue
            if not record.pdf.matches(paths):
                report.refused.append(
                    (authority, "its PDF is missing or changed since it was built; build again")
                )
                continue
            previous = current.get(authority)
            if previous is not None and previous.pdf_sha256 == record.pdf.sha256:
                report.already.append(authority)
                continue
            proof = proofs.get(authority)
            if proof is None or proof.pdf_sha256 != record.pdf.sha256:
                why = "not proofed since it was built; run letter-merge proof and look at it"
            elif not proof.passed:
                why = f"failed the proof ({'; '.join(proof.problems)})"
            else:
                why = ""
            if why and not despite_proof.strip():
                report.refused.append(
                    (authority, f'{why} (or approve it with --despite-proof "why")')
                )
                continue
            approvals.append(
                Approval(
                    authority,
                    record.pdf.path,
                    record.pdf.sha256,
                    by.strip(),
                    stamp,
                    despite_proof.strip() if why else "",
                )
            )
            (report.despite_proof if why else report.approved).append(authority)
        if approvals:
            ledger.approve(approvals)
    return report


@dataclass
class QueueReport:
    queued: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # this PDF's message is queued or sent
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (authority, why)


def queue_messages(batch: Batch, corrections: Mapping[str, str] | None = None) -> QueueReport:
    """An .eml in outbox/ and a queue entry for every approved letter whose PDF has none yet.

    A council already sent a letter is queued again only when it is in `corrections` (name ->
    the reason, which is recorded and reaches the email templates)."""
    settings = batch.settings
    paths = settings.paths
    records = built_letters(paths)
    wanted = _corrections(batch, corrections or {})
    if not batch.email_template:
        raise InputError(
            f"{settings.email_template}: no such email template; check [paths] email_template "
            "in letter-merge.toml."
        )
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
            messages = [m for m in ledger.messages(authority=authority) if m.state != WITHDRAWN]
            if any(m.pdf_sha256 == approval.pdf_sha256 for m in messages):
                report.already.append(authority)
                continue
            sent = [m for m in messages if m.state == SENT]
            correction = wanted.pop(authority, "")
            if sent and not correction:
                report.skipped.append(
                    (
                        authority,
                        f"was sent a letter on {sent[-1].sent_at[:10]}; to send this changed "
                        f'letter as a correction: letter-merge queue --correction "{authority}" '
                        '--reason "what changed"',
                    )
                )
                continue
            if correction and not sent:
                report.skipped.append(
                    (authority, "has not been sent a letter yet: queue it without --correction")
                )
                continue
            for stale in messages:  # an older version still waiting: this one replaces it
                if stale.state in (QUEUED, FAILED):
                    ledger.set_state(
                        stale.message_id, WITHDRAWN, event="withdrawn", reply="a newer version"
                    )
            _queue(batch, ledger, letter, approval, correction)
            (report.corrections if correction else report.queued).append(authority)
    for authority in wanted:  # named as corrections, but not ready: said above, or here
        if not any(a == authority for a, _ in report.skipped):
            report.skipped.append((authority, "its corrected letter is already queued or sent"))
    return report


def _corrections(batch: Batch, corrections: Mapping[str, str]) -> dict[str, str]:
    """Names on the command line, matched to authorities; each with its reason."""
    names = [c.authority for c in batch.workbook.councils]
    chosen: dict[str, str] = {}
    for name, reason in corrections.items():
        if not reason.strip():
            raise InputError(
                f'--correction "{name}" needs --reason: what was wrong, for the record.'
            )
        for authority in select_names(names, [name]):
            chosen[authority] = " ".join(reason.split())
    return chosen


def _queue(
    batch: Batch, ledger: Ledger, letter: PlannedLetter, approval: Approval, correction: str
) -> None:
    settings = batch.settings
    paths = settings.paths
    pdf = paths.absolute(approval.pdf_path)
    message = build_message(settings, batch, letter, pdf, correction=correction)
    eml = _free_name(paths.outbox, letter.stem, correction, ledger)
    write_atomic(eml, message.as_bytes(policy=email.policy.SMTP))
    ledger.add_message(
        message_id=str(message["Message-ID"]),
        authority=letter.council.authority,
        pdf_sha256=approval.pdf_sha256,
        eml_path=paths.relative(eml),
        recipients=envelope_recipients(message),
        subject=str(message["Subject"]),
        approval_id=approval.id,
        correction=correction,
    )


def _free_name(outbox: Path, stem: str, correction: str, ledger: Ledger) -> Path:
    """A file name no earlier message of this batch has: each message keeps its own .eml."""
    used = {Path(m.eml_path).name for m in ledger.messages()}
    label = " (correction)" if correction else ""
    number = 1
    while True:
        suffix = label if number == 1 else f" ({'correction ' if correction else ''}{number})"
        candidate = outbox / f"{stem}{suffix}.eml"
        if candidate.name not in used and not candidate.exists():
            return candidate
        number += 1


def _not_ready(
    settings: Settings,
    letter: PlannedLetter,
    record: LetterRecord | None,
    approval: Approval | None,
    template_hash: str,
) -> str:
    if record is None or record.pdf is None:
        return "not built with a PDF; run letter-merge build"
    if record.source_sha256 != source_sha256(template_hash, letter):
        return "the workbook or template changed since it was built; build, proof and approve again"
    if approval is None:
        return "not approved; run letter-merge approve"
    if not approval_is_current(record, approval.pdf_sha256, settings.paths):
        return "its PDF changed after approval; proof it and approve again"
    return ""


def build_message(
    settings: Settings, batch: Batch, letter: PlannedLetter, pdf: Path, *, correction: str = ""
) -> EmailMessage:
    council = letter.council
    body = batch.email_body(letter.fields, correction=correction)
    subject = batch.subject(letter.fields, correction=correction)
    message = EmailMessage()
    try:
        message["From"] = settings.email_from
        message["To"] = formataddr((council.salutation, council.email))
        if council.cc:
            message["Cc"] = ", ".join(council.cc)
        message["Subject"] = subject
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
