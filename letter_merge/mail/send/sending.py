"""Sending queued messages, over SMTP or Microsoft Graph: each once, to exactly its recipients, at a
bounded rate.

Before a message leaves, records/ (Standing) is asked whether it may: its attachment must be the
approved PDF, that PDF must still be the one in the letters folder, and its text must name the
authority the message is addressed to. The ledger marks a message "sending" before it is handed over and "sent" after, so a message whose hand-over
was cut off is never sent again by itself: it is "in doubt" until it is settled, by hand (SMTP) or,
through Graph, by finding it in the mailbox by its internetMessageId before anything else goes.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path

from letter_merge.batch import load_batch, select_names
from letter_merge.config import Settings
from letter_merge.files import exclusive
from letter_merge.mail.send.outbox import envelope_recipients
from letter_merge.mail.send.transport import (
    BACKOFF_SECONDS,
    TRIES,
    InDoubt,
    Reply,
    SendStopped,
    SmtpConnection,
    Transport,
    refused_send_as,
    send_as_refused,
)
from letter_merge.mail.signin.oauth import token_source
from letter_merge.progress import Progress, no_progress
from letter_merge.records.join import Records
from letter_merge.records.ledger import (
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    Ledger,
    Message,
    open_ledger,
)
from letter_merge.records.standing import QueuedEmail, in_doubt_why
from letter_merge.steps import Blocker
from letter_merge.template.html_email import with_test_note

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """A message about to go, as the confirmation and --dry-run describe it."""

    authority: str
    recipients: tuple[str, ...]
    correction: str  # the reason, for a correction
    sent_before: str  # when this council was last sent a letter, for a correction
    retry: bool  # it failed before and is being sent again (--retry-failed)
    resend: bool = False  # the letter sent before, unchanged, to a corrected address


# [smtp] security, in words for the confirmation.
SECURITY_WORDS = {
    "starttls": "encrypted (STARTTLS)",
    "ssl": "encrypted (SSL/TLS from the start)",
    "none": "NOT encrypted: only for a server on this computer or a trusted network",
}


@dataclass(frozen=True)
class SendPlan:
    """What a send is about to do: shown, and confirmed, before anything goes."""

    server: str  # host:port, and its security in words
    sender: str
    login: str  # the SMTP user, "" for none
    messages: tuple[Outgoing, ...]
    rate_per_minute: int
    test_to: str | None

    @property
    def corrections(self) -> int:
        return sum(1 for m in self.messages if m.correction)

    @property
    def resends(self) -> int:
        return sum(1 for m in self.messages if m.resend)

    @property
    def retries(self) -> int:
        return sum(1 for m in self.messages if m.retry)

    @property
    def minutes(self) -> float:
        return len(self.messages) / self.rate_per_minute


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # 5xx: the server's words
    deferred: list[tuple[str, str]] = field(default_factory=list)  # 4xx after all tries
    refused: list[tuple[str, Blocker]] = field(default_factory=list)  # our own checks said no
    in_doubt: list[str] = field(default_factory=list)
    # each message in doubt: its council, and why, with whom to ask (records' in_doubt_why)
    doubts: list[tuple[str, str]] = field(default_factory=list)
    # in doubt when the run began, settled by finding it in the mailbox: (authority, it was sent)
    settled: list[tuple[str, bool]] = field(default_factory=list)
    would_send: list[Outgoing] = field(default_factory=list)  # --dry-run
    plan: SendPlan | None = None  # --dry-run: what a real send would say before it asks
    cancelled: bool = False  # the confirmation was answered no: nothing was sent

    @property
    def problems(self) -> bool:
        return bool(self.failed or self.deferred or self.refused or self.in_doubt)


def server_in_words(settings: Settings) -> str:
    """Where messages go and how the connection is protected: 'smtp.example:587, encrypted
    (STARTTLS)', or Microsoft Graph."""
    if settings.send.via == "graph":
        return "Microsoft Graph (encrypted, HTTPS)"
    smtp = settings.smtp
    return f"{smtp.host}:{smtp.port}, {SECURITY_WORDS.get(smtp.security, smtp.security)}"


def resolve_in_doubt(settings: Settings, outcome: str, only: Sequence[str] = ()) -> list[str]:
    """Settle messages left 'sending' by an interrupted run: 'sent' (it arrived) or 'retry';
    those of the councils `only` names, or all."""
    with _send_lock(settings), open_ledger(settings.paths) as ledger:
        messages = Records.load(settings).messages
        doubtful = [m for m in messages if m.state == SENDING]
        if only and messages:  # councils sent nothing yet have nothing in doubt either
            chosen = set(select_names({m.authority for m in messages}, only))
            doubtful = [m for m in doubtful if m.authority in chosen]
        for message in doubtful:
            state = SENT if outcome == "sent" else QUEUED
            ledger.set_state(
                message.message_id,
                state,
                reply=f"settled by hand as {outcome}",
                event=f"settled as {outcome}",
            )
        return [m.authority for m in doubtful]


def send_messages(
    settings: Settings,
    *,
    test_to: str | None = None,
    only: Sequence[str] = (),
    limit: int | None = None,
    dry_run: bool = False,
    retry_failed: bool = False,
    password: str | None = None,
    confirm: Callable[[SendPlan], bool] | None = None,
    on_progress: Progress = no_progress,
    sleep: Callable[[float], None] = time.sleep,
) -> SendReport:
    """Send what is queued (with `retry_failed`, what the server refused before too), or a
    copy of each to `test_to` only. Every message is checked against its approval first;
    `confirm` is shown the plan and may say no. With `dry_run`, connect to nothing and change
    nothing: the ledger is opened read-only and no lock is taken."""
    report = SendReport()
    paths = settings.paths
    batch = load_batch(settings)
    with contextlib.ExitStack() as stack:
        if not dry_run:
            stack.enter_context(_send_lock(settings))
        # Read once, after taking the lock: what is waiting, and where each letter stands.
        records = Records.load(settings, batch)
        ledger = None if dry_run else stack.enter_context(open_ledger(paths))
        report.in_doubt = [m.authority for m in records.messages if m.state == SENDING]
        report.doubts = [
            (m.authority, in_doubt_why(m)) for m in records.messages if m.state == SENDING
        ]
        states = (QUEUED, FAILED) if retry_failed else (QUEUED,)
        chosen = set(select_names({m.authority for m in records.messages}, only)) if only else None
        waiting = _waiting(records, states, chosen, limit)
        transport: Transport | None = None
        if ledger is not None and report.in_doubt and settings.send.via == "graph":
            # Found in the mailbox before anything else goes: sent, or queued again (and a
            # draft it left sent as it is, by the same connection).
            transport = stack.enter_context(_transport(settings, password, sleep))
            _settle(transport, ledger, records.messages, report)
            records = Records.load(settings, batch)
            waiting = _waiting(records, states, chosen, limit)
        checks = _Checks(settings, ledger, records, report)
        ready = [(m, e) for m in waiting if (e := checks.message(m)) is not None]
        plan = _plan(settings, records, [m for m, _ in ready], test_to)
        if ledger is None:
            report.would_send = list(plan.messages)
            report.plan = plan
            return report
        if not ready:
            return report
        if confirm is not None and not confirm(plan):
            report.cancelled = True
            return report
        if retry_failed and not test_to:
            for message, _ in ready:
                if message.state == FAILED:
                    ledger.set_state(message.message_id, QUEUED, event="retry requested")
        sender = parseaddr(settings.email_from)[1]
        if transport is None:
            transport = stack.enter_context(_transport(settings, password, sleep))
        for number, (message, checked) in enumerate(ready, start=1):
            # Checked again right before it goes: a run at 30 a minute takes a while.
            email = checked if number == 1 else checks.message(message)
            if email is not None and test_to:
                _send_test(transport, sender, email, test_to)
                ledger.record(message.authority, "test copy sent", f"to {test_to}")
                report.sent.append(message.authority)
            elif email is not None:
                _send_one(transport, ledger, sender, message, email, report)
            on_progress("Sending", number, len(ready))
    return report


def _waiting(
    records: Records, states: tuple[str, ...], chosen: set[str] | None, limit: int | None
) -> list[Message]:
    """The messages a send takes: in one of `states`, of the councils `chosen` (None: all),
    at most `limit`."""
    waiting = [m for m in records.messages if m.state in states]
    if chosen is not None:
        waiting = [m for m in waiting if m.authority in chosen]
    return waiting if limit is None else waiting[:limit]


def _transport(
    settings: Settings, password: str | None, sleep: Callable[[float], None]
) -> contextlib.AbstractContextManager[Transport]:
    """The way [send] via names: the [smtp] server, or Microsoft Graph."""
    if settings.send.via == "graph":
        from letter_merge.mail.send.graph import GraphConnection

        return GraphConnection(settings, token_source(settings), sleep)
    tokens = token_source(settings) if settings.smtp.auth == "oauth2" else None
    return SmtpConnection(settings.smtp, password, sleep, tokens)


def _settle(
    transport: Transport, ledger: Ledger, messages: Sequence[Message], report: SendReport
) -> None:
    """Messages left "sending" (a run cut off mid-send) looked up in the mailbox by their
    internetMessageId: sent ones marked sent, ones that never went queued again; ones that
    cannot be found out stay in doubt."""
    for message in messages:
        if message.state != SENDING:
            continue
        found = transport.look_up(message.message_id)
        if found.state == "sent":
            ledger.set_state(
                message.message_id,
                SENT,
                reply=f"in doubt, then {found.reason}; internetMessageId {message.message_id}",
                event="in doubt settled: it was sent",
            )
        elif found.state in ("draft", "absent"):
            ledger.set_state(
                message.message_id,
                QUEUED,
                reply=f"in doubt, then {found.reason}",
                event="in doubt settled: it was not sent",
            )
        else:
            continue
        report.in_doubt.remove(message.authority)
        report.doubts = [d for d in report.doubts if d[0] != message.authority]
        report.settled.append((message.authority, found.state == "sent"))


def _plan(
    settings: Settings, records: Records, messages: Sequence[Message], test_to: str | None
) -> SendPlan:
    smtp = settings.smtp
    outgoing = []
    for message in messages:
        earlier = [
            m
            for m in records.messages
            if m.authority == message.authority
            and m.state == SENT
            and m.message_id != message.message_id
        ]
        outgoing.append(
            Outgoing(
                message.authority,
                message.recipients,
                message.correction,
                earlier[-1].sent_at[:16].replace("T", " ") if earlier else "",
                message.state == FAILED,
                bool(message.resend_of),
            )
        )
    server = server_in_words(settings)
    login = smtp.username
    if settings.send.via == "graph":
        login = "the app (client credentials)" if settings.oauth2.is_app else ""
    return SendPlan(
        server=server,
        sender=settings.email_from,
        login=login,
        messages=tuple(outgoing),
        rate_per_minute=smtp.rate_per_minute,
        test_to=test_to,
    )


@dataclass
class _Checks:
    """Whether a queued message may go, asked of its Standing (records/), which decides."""

    settings: Settings
    ledger: Ledger | None  # where refusals are recorded (none in a dry run)
    records: Records
    report: SendReport

    def message(self, message: Message) -> EmailMessage | None:
        """The message if it may go; otherwise None, with the reason reported (and recorded)."""
        email = _read_eml(self.settings.paths.absolute(message.eml_path))
        queued = QueuedEmail(
            found=email is not None,
            pdfs=tuple(
                p.get_content()
                for p in (email.iter_attachments() if email is not None else ())
                if p.get_content_type() == "application/pdf"
            ),
            recipients=envelope_recipients(email) if email is not None else (),
        )
        standing = self.records.standing(message.authority)
        blocker = standing.outgoing_blocker(message, queued, self.settings.paths)
        if blocker is None:
            return email
        self.report.refused.append((message.authority, blocker))
        if self.ledger is not None:
            self.ledger.set_state(
                message.message_id,
                message.state,
                reply=f"not sent: {blocker.why}",
                event="not sent: failed its checks",
            )
        return None


def _read_eml(path: Path) -> EmailMessage | None:
    """The queued message as its .eml holds it now; None when it cannot be read."""
    try:
        email = message_from_bytes(path.read_bytes(), policy=policy.default)
    except OSError:
        return None
    assert isinstance(email, EmailMessage)
    return email


def _send_test(smtp: Transport, sender: str, email: EmailMessage, test_to: str) -> None:
    """A copy to `test_to` only, marked [TEST], that says at its top where the real message
    goes; the real message and its state are untouched."""
    copy = message_from_bytes(email.as_bytes(), policy=policy.default)
    assert isinstance(copy, EmailMessage)
    real_to, real_cc = str(email["To"]), str(email.get("Cc", "") or "")
    del copy["To"], copy["Cc"], copy["Message-ID"]
    copy["To"] = test_to
    copy.replace_header("Subject", f"[TEST] {email['Subject']}")
    copy["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    body = copy.get_body(("plain",))
    if body is not None:
        note = (
            "TEST COPY: this message was not sent to the council. The real one goes to\n"
            f"  To: {real_to}\n  Cc: {real_cc or '(none)'}\n" + "-" * 60 + "\n\n"
        )
        body.set_content(note + str(body.get_content()))
    page = copy.get_body(("html",))
    if page is not None:  # the HTML the chief executive would see, with the same note on top
        page.set_content(with_test_note(str(page.get_content()), real_to, real_cc), subtype="html")
    try:
        smtp.transmit(sender, (test_to,), copy.as_bytes(policy=policy.SMTP))
    except Reply as refusal:
        if refusal.recipient:
            raise SendStopped(
                f"The mail server refused the test address {test_to} ({refusal}); check the "
                "address. No message went to any council."
            ) from None
        raise SendStopped(
            f"The mail server would not take the test copy; it answered: {refusal}. That is "
            "the server's own answer, not about the address: its administrator can say what it "
            "means. No message went to any council."
        ) from None
    except InDoubt as error:
        raise SendStopped(f"The test copy to {test_to} may not have arrived ({error}).") from None


def _send_one(
    smtp: Transport,
    ledger: Ledger,
    sender: str,
    message: Message,
    email: EmailMessage,
    report: SendReport,
) -> None:
    data = email.as_bytes(policy=policy.SMTP)
    for attempt in range(1, TRIES + 1):
        ledger.set_state(message.message_id, SENDING, attempt=True)
        try:
            reply = smtp.transmit(sender, message.recipients, data)
        except SendStopped:  # the server could not be reached again: this one never left
            ledger.set_state(
                message.message_id, QUEUED, reply="not sent: the server could not be reached"
            )
            raise
        except InDoubt as error:
            found = smtp.look_up(message.message_id)  # Graph: in the mailbox, or not
            if found.state == "sent":
                ledger.set_state(
                    message.message_id,
                    SENT,
                    reply=f"{error}; {found.reason}; internetMessageId {message.message_id}",
                )
                report.sent.append(message.authority)
                return
            if found.state == "draft" and attempt < TRIES:  # never went: its draft is sent
                ledger.set_state(message.message_id, QUEUED, reply=f"{error}; {found.reason}")
                continue
            ledger.set_state(
                message.message_id, SENDING, reply=f"in doubt: {error}", event="in doubt"
            )
            report.in_doubt.append(message.authority)
            report.doubts.append((message.authority, in_doubt_why(message)))
            return
        except Reply as error:
            if refused_send_as(error):  # every message would be: the run stops
                ledger.set_state(message.message_id, QUEUED, reply=str(error))
                raise SendStopped(
                    send_as_refused(parseaddr(sender)[1] or sender, via=smtp.via)
                ) from None
            if 400 <= error.code < 500 and attempt < TRIES:
                ledger.set_state(
                    message.message_id, QUEUED, reply=str(error), event="temporary refusal"
                )
                smtp.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                continue
            if 400 <= error.code < 500:
                ledger.set_state(
                    message.message_id, QUEUED, reply=str(error), event="temporary refusal"
                )
                report.deferred.append((message.authority, str(error)))
            else:
                ledger.set_state(message.message_id, FAILED, reply=str(error))
                report.failed.append((message.authority, str(error)))
            return
        ledger.set_state(message.message_id, SENT, reply=reply)
        report.sent.append(message.authority)
        return


@contextlib.contextmanager
def _send_lock(settings: Settings) -> Iterator[None]:
    """Only one send at a time for a year's batch; a second one says so and stops."""
    path = settings.paths.lock("send")
    busy = f"Another send is already running for {settings.year} ({path}); wait for it to finish."
    with exclusive(path, busy):
        yield
