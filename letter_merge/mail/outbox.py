"""Queueing one email per approved letter as a standard .eml file.

A queued message is fixed, Message-ID included, when it is queued, and keeps its own .eml. A
council that has been sent a letter is sent another only as a correction: asked for by name and
with a reason, or because the office decided that every letter an average's change reaches is
corrected (letter-merge averages correct).
"""

from __future__ import annotations

import email.policy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from letter_merge.batch import Batch, PlannedLetter, select_names
from letter_merge.config import Settings
from letter_merge.decisions import CORRECT
from letter_merge.errors import InputError
from letter_merge.files import write_atomic
from letter_merge.records.ledger import FAILED, QUEUED, WITHDRAWN, Approval, Ledger, open_ledger
from letter_merge.records.standing import Records, Standing
from letter_merge.template.html_email import add_body, email_body, is_rich


@dataclass
class QueueReport:
    queued: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    resends: list[str] = field(default_factory=list)  # the same letter, to a corrected address
    already: list[str] = field(default_factory=list)  # this PDF's message is queued or sent
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (authority, why)


def queue_messages(
    batch: Batch,
    corrections: Mapping[str, str] | None = None,
    note: str = "",
    resends: Sequence[str] = (),
) -> QueueReport:
    """An .eml in outbox/ and a queue entry for every approved letter whose PDF has none yet.

    A council already sent a letter is queued again only when it is in `corrections` (name ->
    the reason, recorded for the office), or when the office decided to correct every letter
    an average's change reaches. `note` is what each correction's email tells the council (the
    email templates' {{ correction_note }}); without one it says only that the letter replaces
    the one sent before."""
    settings = batch.settings
    paths = settings.paths
    wanted = _corrections(batch, corrections or {})
    if not batch.email_template and not is_rich(settings.email_template):
        raise InputError(
            f"{settings.email_template}: no such email template; check [paths] email_template "
            "in letter-merge.toml."
        )
    records = Records.load(settings, batch)
    records.require_built()
    decided = _decided_corrections(records)
    resending = set(select_names([c.authority for c in batch.workbook.councils], resends))
    report = QueueReport()
    with open_ledger(paths) as ledger:
        for letter in batch.letters():
            authority = letter.council.authority
            standing = records.standing(authority)
            why = not_ready(standing)
            if why:
                report.skipped.append((authority, why))
                continue
            approval = standing.approval
            assert approval is not None
            if authority in resending:
                _resend(batch, ledger, records, letter, standing, report)
                continue
            messages = list(standing.messages)
            addresses = current_addresses(letter)
            for waiting in messages:  # queued to an address the workbook no longer has
                if waiting.state in (QUEUED, FAILED) and _folded(waiting.recipients) != addresses:
                    ledger.set_state(
                        waiting.message_id,
                        WITHDRAWN,
                        event="withdrawn",
                        reply="its address changed",
                    )
                    messages.remove(waiting)
            if any(m.pdf_sha256 == approval.pdf_sha256 for m in messages):
                report.already.append(authority)
                continue
            sent = standing.sent
            correction = wanted.pop(authority, "") or (decided.get(authority, "") if sent else "")
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
            _queue(batch, ledger, records, letter, approval, correction, note if correction else "")
            (report.corrections if correction else report.queued).append(authority)
    for authority in wanted:  # named as corrections, but not ready: said above, or here
        if not any(a == authority for a, _ in report.skipped):
            report.skipped.append((authority, "its corrected letter is already queued or sent"))
    return report


def _resend(
    batch: Batch,
    ledger: Ledger,
    records: Records,
    letter: PlannedLetter,
    standing: Standing,
    report: QueueReport,
) -> None:
    """The same approved letter again, to the address now in the workbook, after its message
    bounced: recorded as a re-send of that message (the bounce stays on the record)."""
    authority = letter.council.authority
    came_back, said = standing.delivery
    last = standing.sent[-1] if standing.sent else None
    if came_back != "bounced" or last is None or said is None:
        report.skipped.append(
            (authority, "--resend is for a letter whose message bounced; this one has not")
        )
        return
    approval = standing.approval
    assert approval is not None
    if any(m.resend_of == last.message_id and m.state != FAILED for m in standing.messages):
        report.already.append(authority)  # re-sent (or queued to be) already
        return
    if last.pdf_sha256 != approval.pdf_sha256:
        report.skipped.append(
            (authority, "its letter changed since it was sent: queue it with --correction")
        )
        return
    pdf = batch.settings.paths.absolute(approval.pdf_path)
    # A re-sent correction is still a correction, with its subject and reason.
    message = build_message(batch.settings, batch, letter, pdf, correction=last.correction)
    recipients = envelope_recipients(message)
    bounced = {
        d.recipient.casefold()
        for d in standing.deliveries
        if d.message_id == last.message_id and d.kind == "bounced" and d.recipient
    }
    still = sorted(r for r in recipients if r.casefold() in bounced)
    if still or {r.casefold() for r in recipients} == {r.casefold() for r in last.recipients}:
        report.skipped.append(
            (
                authority,
                f"{', '.join(still) or 'its address'} bounced and is still in its To or Cc: "
                "correct it in the workbook's Contacts sheet, then queue --resend again",
            )
        )
        return
    paths = batch.settings.paths
    eml = _free_name(paths.outbox, f"{letter.stem} (re-sent)", "", records)
    write_atomic(eml, message.as_bytes(policy=email.policy.SMTP))
    ledger.add_message(
        message_id=str(message["Message-ID"]),
        authority=authority,
        pdf_sha256=approval.pdf_sha256,
        eml_path=paths.relative(eml),
        recipients=recipients,
        subject=str(message["Subject"]),
        approval_id=approval.id,
        correction=last.correction,
        resend_of=last.message_id,
    )
    report.resends.append(authority)


def current_addresses(letter: PlannedLetter) -> frozenset[str]:
    """The To and Cc the workbook gives the council now, ignoring case."""
    return _folded((letter.council.email, *letter.council.cc))


def _folded(addresses: Sequence[str]) -> frozenset[str]:
    return frozenset(a.casefold() for a in addresses if a)


def _decided_corrections(records: Records) -> dict[str, str]:
    """Letters the office decided to correct because an average moved: authority -> reason."""
    reasons: dict[str, str] = {}
    for decision in records.decisions:
        if decision.choice != CORRECT:
            continue
        for authority in decision.letters:
            sent = records.standing(authority).sent
            done = any(m.correction == decision.because for m in sent)  # acted on already
            if sent and not done:
                reasons[authority] = decision.because
    return reasons


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
    batch: Batch,
    ledger: Ledger,
    records: Records,
    letter: PlannedLetter,
    approval: Approval,
    correction: str,
    note: str,
) -> None:
    settings = batch.settings
    paths = settings.paths
    pdf = paths.absolute(approval.pdf_path)
    message = build_message(settings, batch, letter, pdf, correction=correction, note=note)
    eml = _free_name(paths.outbox, letter.stem, correction, records)
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


def _free_name(outbox: Path, stem: str, correction: str, records: Records) -> Path:
    """A file name no earlier message of this batch has: each message keeps its own .eml."""
    used = {Path(m.eml_path).name for m in records.messages}
    label = " (correction)" if correction else ""
    number = 1
    while True:
        suffix = label if number == 1 else f" ({'correction ' if correction else ''}{number})"
        candidate = outbox / f"{stem}{suffix}.eml"
        if candidate.name not in used and not candidate.exists():
            return candidate
        number += 1


def not_ready(standing: Standing) -> str:
    """Why a letter cannot be queued as it is now ("" when it can be)."""
    record = standing.record
    if record is None or record.pdf is None:
        return "not built with a PDF; run letter-merge build"
    if standing.out_of_date:
        return (
            f"built from older inputs ({standing.what_changed}); build, proof and approve it again"
        )
    if standing.approval is None:
        return "not approved; run letter-merge approve"
    if not standing.approval_holds:
        return "its PDF changed after approval; proof it and approve it again"
    return ""


def build_message(
    settings: Settings,
    batch: Batch,
    letter: PlannedLetter,
    pdf: Path,
    *,
    correction: str = "",
    note: str = "",
) -> EmailMessage:
    """The email for `letter`; with `correction` (the reason, recorded for the office and never
    put in the email), a correction, telling the council `note` if given."""
    council = letter.council
    subject = batch.subject(letter.fields, correction=bool(correction), note=note)
    plain = batch.email_body(letter.fields, correction=bool(correction), note=note)
    body = email_body(
        settings, plain, letter.fields, title=subject, correction=bool(correction), note=note
    )
    attachment = pdf.name
    if correction:
        # A correction reads as one in the inbox, whatever [email] subject says.
        if subject == batch.subject(letter.fields):
            subject = f"Corrected: {subject}"
        attachment = f"{pdf.stem} (corrected){pdf.suffix}"
    message = EmailMessage()
    try:
        message["From"] = settings.email_from
        message["To"] = formataddr((council.full_name, council.email))
        if council.cc:
            message["Cc"] = ", ".join(council.cc)
        message["Subject"] = subject
    except ValueError as error:  # a line break in a header value
        raise InputError(f"{council.authority}: cannot be sent as it is ({error}).") from None
    message["Date"] = formatdate(localtime=True)
    domain = parseaddr(settings.email_from)[1].rpartition("@")[2] or "letter-merge.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    add_body(message, body)
    message.add_attachment(
        pdf.read_bytes(), maintype="application", subtype="pdf", filename=attachment
    )
    return message


def envelope_recipients(message: EmailMessage) -> tuple[str, ...]:
    """Exactly the To and Cc addresses: nobody else ever receives a letter."""
    headers = [str(v) for v in (message.get_all("To", []) + message.get_all("Cc", []))]
    return tuple(address for _, address in getaddresses(headers) if address)
