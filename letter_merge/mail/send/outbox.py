"""Queueing one email per approved letter as a standard .eml file.

A queued message is fixed, Message-ID included, when it is queued, and keeps its own .eml. A
council that has been sent a letter is sent another only as a correction: asked for by name and
with a reason, or because the office decided that every letter an average's change reaches is
corrected (letter-merge averages correct).
"""

from __future__ import annotations

import copy
import email.policy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from letter_merge.batch import Batch, PlannedLetter, select_names
from letter_merge.config import Settings
from letter_merge.decisions import CORRECT
from letter_merge.errors import InputError
from letter_merge.files import write_atomic
from letter_merge.records.join import Records
from letter_merge.records.ledger import FAILED, QUEUED, WITHDRAWN, Ledger, open_ledger
from letter_merge.records.standing import Standing
from letter_merge.steps import Blocker, Next, actionable_first
from letter_merge.template.html_email import add_body, email_body, is_rich


@dataclass
class QueueReport:
    queued: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    resends: list[str] = field(default_factory=list)  # the same letter, to a corrected address
    already: list[str] = field(default_factory=list)  # this PDF's message is queued or sent
    skipped: list[tuple[str, Blocker]] = field(default_factory=list)


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
    asked = _Asked(wanted, decided, note)
    with open_ledger(paths) as ledger:
        for letter in batch.letters():
            authority = letter.council.authority
            standing = records.standing(authority)
            if authority in resending:
                _resend(batch, ledger, records, letter, standing, report)
            elif standing.unchanged_since_sent:  # a correction would say the same
                _sent_as_it_is(ledger, standing, authority in wanted, report)
                wanted.pop(authority, None)
            else:
                _queue_letter(batch, ledger, records, letter, standing, asked, report)
    report.skipped = actionable_first(report.skipped)
    for authority in wanted:  # named as corrections, but not ready: said above, or here
        if not any(a == authority for a, _ in report.skipped):
            report.skipped.append(
                (authority, Blocker("its corrected letter is already queued or sent", Next.SEND))
            )
    return report


@dataclass(frozen=True)
class _Asked:
    """The corrections a queueing run was asked for: by name (authority -> reason; each taken
    out once queued), and by the office's decisions; and what each tells the council."""

    wanted: dict[str, str]
    decided: dict[str, str]
    note: str


def _sent_as_it_is(ledger: Ledger, standing: Standing, asked: bool, report: QueueReport) -> None:
    """A letter that states again what was sent: its messages still waiting are withdrawn, and
    it is not queued again (a correction asked for it is refused, saying why)."""
    for moot in standing.messages:
        if moot.state in (QUEUED, FAILED) and not moot.resend_of:
            ledger.set_state(
                moot.message_id,
                WITHDRAWN,
                event="withdrawn",
                reply="its letter states again what was sent",
            )
    blocker = standing.correction_blocker(asked=asked)
    if blocker is None:
        report.already.append(standing.authority)
    else:
        report.skipped.append((standing.authority, blocker))


def _queue_letter(
    batch: Batch,
    ledger: Ledger,
    records: Records,
    letter: PlannedLetter,
    standing: Standing,
    asked: _Asked,
    report: QueueReport,
) -> None:
    """The approved letter queued, unless its message is already waiting or sent; as a
    correction when it was asked for (or decided), and only then to a council sent one."""
    authority = letter.council.authority
    blocker = standing.queue_blocker()
    if blocker is not None:
        report.skipped.append((authority, blocker))
        return
    approval = standing.approval
    assert approval is not None
    messages = list(standing.messages)
    for waiting in standing.messages:  # queued to an address the workbook no longer has
        if waiting.state in (QUEUED, FAILED) and standing.addressed_elsewhere(waiting):
            ledger.set_state(
                waiting.message_id, WITHDRAWN, event="withdrawn", reply="its address changed"
            )
            messages.remove(waiting)
    if any(m.pdf_sha256 == approval.pdf_sha256 for m in messages):
        report.already.append(authority)
        return
    correction = asked.wanted.pop(authority, "")
    if standing.sent and not correction:
        correction = asked.decided.get(authority, "")
    blocker = standing.correction_blocker(asked=bool(correction))
    if blocker is not None:
        report.skipped.append((authority, blocker))
        return
    for stale in messages:  # an older version still waiting: this one replaces it
        if stale.state in (QUEUED, FAILED):
            ledger.set_state(
                stale.message_id, WITHDRAWN, event="withdrawn", reply="a newer version"
            )
    note = asked.note if correction else ""
    _queue(batch, ledger, records, letter, standing, correction, note)
    (report.corrections if correction else report.queued).append(authority)


def _resend(
    batch: Batch,
    ledger: Ledger,
    records: Records,
    letter: PlannedLetter,
    standing: Standing,
    report: QueueReport,
) -> None:
    """The letter sent, unchanged, again to the address now in the workbook (after its message
    bounced, or because the council's address changed): the message sent, addressed anew, and
    recorded as a re-send of it (what happened to the first stays on the record)."""
    authority = letter.council.authority
    last = standing.sent_last
    waiting = [
        m
        for m in standing.messages
        if last is not None and m.resend_of == last.message_id and m.state in (QUEUED, FAILED)
    ]
    for earlier in waiting:  # queued to an address the workbook has changed since: made anew
        if standing.addressed_elsewhere(earlier):
            ledger.set_state(
                earlier.message_id, WITHDRAWN, event="withdrawn", reply="its address changed"
            )
            waiting.remove(earlier)
    if waiting:  # queued, or refused and waiting to be sent again: never a second copy
        report.already.append(authority)
        return
    blocker = standing.resend_blocker()
    if blocker is not None:
        report.skipped.append((authority, blocker))
        return
    assert last is not None
    paths = batch.settings.paths
    try:
        sent = message_from_bytes(
            paths.absolute(last.eml_path).read_bytes(), policy=email.policy.default
        )
    except OSError:
        report.skipped.append(
            (authority, Blocker(f"the message sent, {last.eml_path}, is missing", Next.CORRECT))
        )
        return
    assert isinstance(sent, EmailMessage)
    message = readdressed(batch.settings, sent, letter)
    recipients = envelope_recipients(message)
    eml = _free_name(paths.outbox, f"{letter.stem} (re-sent)", "", records)
    write_atomic(eml, message.as_bytes(policy=email.policy.SMTP))
    ledger.add_message(
        message_id=str(message["Message-ID"]),
        authority=authority,
        pdf_sha256=last.pdf_sha256,
        eml_path=paths.relative(eml),
        recipients=recipients,
        subject=str(message["Subject"]),
        approval_id=last.approval_id,
        correction=last.correction,
        resend_of=last.message_id,
        statement=last.statement,
        figures=last.figures,
        paragraphs=last.paragraphs,
        template=last.template,
    )
    report.resends.append(authority)


def readdressed(settings: Settings, sent: EmailMessage, letter: PlannedLetter) -> EmailMessage:
    """The message sent, word for word and with its attachment, addressed to the council as
    the workbook gives it now, with a Message-ID and date of its own."""
    council = letter.council
    message = copy.deepcopy(sent)
    for header in ("To", "Cc", "Message-ID", "Date"):
        del message[header]
    message["To"] = formataddr((council.full_name, council.email))
    if council.cc:
        message["Cc"] = ", ".join(council.cc)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=_domain(settings))
    return message


def _decided_corrections(records: Records) -> dict[str, str]:
    """Letters the office decided to correct because an average moved: authority -> reason
    (every such average's, "; " between them)."""
    reasons: dict[str, list[str]] = {}
    for decision in records.decisions:
        if decision.choice != CORRECT:
            continue
        for authority in decision.letters:
            sent = records.standing(authority).sent
            done = any(decision.because in m.correction for m in sent)  # acted on already
            if sent and not done:
                reasons.setdefault(authority, []).append(decision.because)
    for reworded in records.wording_decisions:
        standing = records.standing(reworded.authority)
        if reworded.choice == CORRECT and standing.wording == reworded:
            reasons.setdefault(reworded.authority, []).append(reworded.reason)
    return {authority: "; ".join(because) for authority, because in reasons.items()}


# A correction needs a reason, and a reason (or a note to the council) needs a correction.
NO_REASON = (
    "Say why the letter is corrected: the reason is kept on the office's record (it is not sent)."
)
NO_CORRECTION = (
    "A reason, and what to tell the council, go with a correction: name the council whose "
    "letter is corrected."
)


def asked_corrections(names: Sequence[str], reason: str, note: str = "") -> dict[str, str]:
    """The councils named for a correction, each with `reason` (the office's record, never
    sent), for queue_messages; `note` is what the email tells them."""
    if (reason.strip() or note.strip()) and not names:
        raise InputError(NO_CORRECTION)
    if names and not reason.strip():
        raise InputError(NO_REASON)
    return dict.fromkeys(names, reason)


def _corrections(batch: Batch, corrections: Mapping[str, str]) -> dict[str, str]:
    """Names on the command line, matched to authorities; each with its reason."""
    names = [c.authority for c in batch.workbook.councils]
    chosen: dict[str, str] = {}
    for name, reason in corrections.items():
        if not reason.strip():
            raise InputError(NO_REASON)
        for authority in select_names(names, [name]):
            chosen[authority] = " ".join(reason.split())
    return chosen


def _queue(
    batch: Batch,
    ledger: Ledger,
    records: Records,
    letter: PlannedLetter,
    standing: Standing,
    correction: str,
    note: str,
) -> None:
    settings = batch.settings
    paths = settings.paths
    approval, record = standing.approval, standing.record
    assert approval is not None and record is not None
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
        statement=record.statement,
        figures=dict(record.figures),
        paragraphs=record.paragraphs,
        template=record.template,
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
    message["Message-ID"] = make_msgid(domain=_domain(settings))
    add_body(message, body)
    message.add_attachment(
        pdf.read_bytes(), maintype="application", subtype="pdf", filename=attachment
    )
    return message


def envelope_recipients(message: EmailMessage) -> tuple[str, ...]:
    """Exactly the To and Cc addresses: nobody else ever receives a letter."""
    headers = [str(v) for v in (message.get_all("To", []) + message.get_all("Cc", []))]
    return tuple(address for _, address in getaddresses(headers) if address)


def _domain(settings: Settings) -> str:
    """The sender's domain, for Message-IDs."""
    return parseaddr(settings.email_from)[1].rpartition("@")[2] or "letter-merge.invalid"
