"""Sending queued messages over SMTP: each once, to exactly its recipients, at a bounded rate.

Before a message leaves, its attachment must be the approved PDF, that PDF must still be the one in
the letters folder, and its text must name the authority the message is addressed to. The ledger
marks a message "sending" before the SMTP exchange and "sent" after it, so a message whose
exchange was cut off is never sent again by itself: it is "in doubt" until someone settles it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from letter_merge.batch import select_names
from letter_merge.config import Settings, SmtpSettings
from letter_merge.errors import InputError, LetterMergeError
from letter_merge.files import exclusive
from letter_merge.mail.ledger import (
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    Approval,
    Ledger,
    Message,
    open_ledger,
)
from letter_merge.mail.oauth import Tokens, token_source
from letter_merge.mail.outbox import envelope_recipients
from letter_merge.mail.signin import xoauth2
from letter_merge.manifest import LetterRecord, approval_is_current, read_manifest
from letter_merge.pdf.reading import names, pdf_text, require_poppler
from letter_merge.progress import Progress, no_progress

log = logging.getLogger(__name__)

PASSWORD_VARIABLE = "LETTER_MERGE_SMTP_PASSWORD"
KEYRING_SERVICE = "letter-merge"
TRIES = 3  # per message and run, for temporary (4xx) failures
BACKOFF_SECONDS = 2.0


class SendStopped(LetterMergeError):
    """The run cannot go on (the server refused the login, or cannot be reached)."""


class _Reply(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code


class _InDoubt(Exception):
    """The connection broke after the message was handed over: it may or may not have arrived."""


@dataclass(frozen=True)
class Outgoing:
    """A message about to go, as the confirmation and --dry-run describe it."""

    authority: str
    recipients: tuple[str, ...]
    correction: str  # the reason, for a correction
    sent_before: str  # when this council was last sent a letter, for a correction
    retry: bool  # it failed before and is being sent again (--retry-failed)


@dataclass(frozen=True)
class SendPlan:
    """What a send is about to do: shown, and confirmed, before anything goes."""

    server: str  # host:port (security)
    sender: str
    login: str  # the SMTP user, "" for none
    messages: tuple[Outgoing, ...]
    rate_per_minute: int
    test_to: str | None

    @property
    def corrections(self) -> int:
        return sum(1 for m in self.messages if m.correction)

    @property
    def minutes(self) -> float:
        return len(self.messages) / self.rate_per_minute


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # 5xx: the server's words
    deferred: list[tuple[str, str]] = field(default_factory=list)  # 4xx after all tries
    refused: list[tuple[str, str]] = field(default_factory=list)  # our own checks said no
    in_doubt: list[str] = field(default_factory=list)
    would_send: list[Outgoing] = field(default_factory=list)  # --dry-run
    plan: SendPlan | None = None  # --dry-run: what a real send would say before it asks
    cancelled: bool = False  # the confirmation was answered no: nothing was sent

    @property
    def problems(self) -> bool:
        return bool(self.failed or self.deferred or self.refused or self.in_doubt)


def smtp_password(smtp: SmtpSettings, environ: dict[str, str] | None = None) -> str | None:
    """From the environment, else the system keyring; never from a file or the command line."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get(PASSWORD_VARIABLE):
        return environ[PASSWORD_VARIABLE]
    if not smtp.username:
        return None
    try:
        import keyring
        import keyring.errors

        return keyring.get_password(KEYRING_SERVICE, smtp.username)
    except Exception:  # no keyring on this system: the environment is the way
        return None


def resolve_in_doubt(settings: Settings, outcome: str) -> list[str]:
    """Settle messages left 'sending' by an interrupted run: 'sent' (it arrived) or 'retry'."""
    with _send_lock(settings), open_ledger(settings.paths) as ledger:
        doubtful = ledger.messages(SENDING)
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
    require_poppler("to check each letter before it is sent", ("pdftotext",))
    report = SendReport()
    paths = settings.paths
    with contextlib.ExitStack() as stack:
        if not dry_run:
            stack.enter_context(_send_lock(settings))
        ledger = stack.enter_context(open_ledger(paths, read_only=dry_run))
        report.in_doubt = [m.authority for m in ledger.messages(SENDING)]
        states = (QUEUED, FAILED) if retry_failed else (QUEUED,)
        waiting = ledger.messages(*states)
        if only:
            chosen = set(select_names({m.authority for m in ledger.messages()}, only))
            waiting = [m for m in waiting if m.authority in chosen]
        if limit is not None:
            waiting = waiting[:limit]
        approvals = ledger.approvals()
        manifest = read_manifest(paths.manifest)
        records = manifest.by_authority() if manifest and manifest.year == paths.year else {}
        checks = _Checks(settings, ledger, approvals, records, report, record=not dry_run)
        ready = [(m, e) for m in waiting if (e := checks.message(m)) is not None]
        plan = _plan(settings, ledger, [m for m, _ in ready], test_to)
        if dry_run:
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
        tokens = token_source(settings) if settings.smtp.auth == "oauth2" else None
        with _Smtp(settings.smtp, password, sleep, tokens) as smtp:
            for number, (message, checked) in enumerate(ready, start=1):
                # Checked again right before it goes: a run at 30 a minute takes a while.
                email = checked if number == 1 else checks.message(message)
                if email is not None and test_to:
                    _send_test(smtp, sender, email, test_to)
                    ledger.record(message.authority, "test copy sent", f"to {test_to}")
                    report.sent.append(message.authority)
                elif email is not None:
                    _send_one(smtp, ledger, sender, message, email, report)
                on_progress("Sending", number, len(ready))
    return report


def _plan(
    settings: Settings, ledger: Ledger, messages: Sequence[Message], test_to: str | None
) -> SendPlan:
    smtp = settings.smtp
    outgoing = []
    for message in messages:
        earlier = [
            m
            for m in ledger.messages(SENT, authority=message.authority)
            if m.message_id != message.message_id
        ]
        outgoing.append(
            Outgoing(
                message.authority,
                message.recipients,
                message.correction,
                earlier[-1].sent_at[:16].replace("T", " ") if earlier else "",
                message.state == FAILED,
            )
        )
    return SendPlan(
        server=f"{smtp.host}:{smtp.port} ({smtp.security})",
        sender=settings.email_from,
        login=smtp.username,
        messages=tuple(outgoing),
        rate_per_minute=smtp.rate_per_minute,
        test_to=test_to,
    )


class _Refused(Exception):
    pass


@dataclass
class _Checks:
    """Whether a queued message may go: still exactly what was approved for its authority."""

    settings: Settings
    ledger: Ledger
    approvals: dict[str, Approval]
    records: dict[str, LetterRecord]
    report: SendReport
    record: bool  # write refusals to the ledger (not in a dry run)

    def message(self, message: Message) -> EmailMessage | None:
        """The message if it may go; otherwise None, with the reason reported (and recorded)."""
        try:
            return self._checked(message)
        except _Refused as refusal:
            self.report.refused.append((message.authority, str(refusal)))
            if self.record:
                self.ledger.set_state(
                    message.message_id,
                    message.state,
                    reply=f"not sent: {refusal}",
                    event="not sent: failed its checks",
                )
            return None

    def _checked(self, message: Message) -> EmailMessage:
        paths = self.settings.paths
        eml = paths.absolute(message.eml_path)
        try:
            email = message_from_bytes(eml.read_bytes(), policy=policy.default)
        except OSError:
            raise _Refused(f"{message.eml_path} is missing; run letter-merge queue") from None
        assert isinstance(email, EmailMessage)
        attachments = [
            p for p in email.iter_attachments() if p.get_content_type() == "application/pdf"
        ]
        if len(attachments) != 1:
            raise _Refused("the message does not carry exactly one PDF")
        if hashlib.sha256(attachments[0].get_content()).hexdigest() != message.pdf_sha256:
            raise _Refused("its attachment is not the approved PDF")
        approval = self.approvals.get(message.authority)
        if approval is None or approval.pdf_sha256 != message.pdf_sha256:
            raise _Refused("its approval has changed since it was queued; queue again")
        record = self.records.get(message.authority)
        if not approval_is_current(record, approval.pdf_sha256, paths):
            raise _Refused(
                f"{approval.pdf_path} has changed since it was approved; check and approve again"
            )
        # The attachment is byte for byte the approved PDF on disk (same SHA-256), so reading
        # that file reads what the council will receive.
        if not names(pdf_text(paths.absolute(approval.pdf_path)), message.authority):
            raise _Refused(f"its PDF does not name {message.authority}")
        if envelope_recipients(email) != message.recipients:
            raise _Refused("its To and Cc differ from what was queued")
        return email


def _send_test(smtp: _Smtp, sender: str, email: EmailMessage, test_to: str) -> None:
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
    try:
        smtp.transmit(sender, (test_to,), copy.as_bytes(policy=policy.SMTP))
    except _Reply as refusal:
        raise SendStopped(
            f"The mail server refused the test address {test_to} ({refusal}); check the "
            "address. No message went to any council."
        ) from None
    except _InDoubt as error:
        raise SendStopped(f"The test copy to {test_to} may not have arrived ({error}).") from None


def _send_one(
    smtp: _Smtp,
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
        except _InDoubt as error:
            ledger.set_state(
                message.message_id, SENDING, reply=f"in doubt: {error}", event="in doubt"
            )
            report.in_doubt.append(message.authority)
            return
        except _Reply as error:
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


class _Smtp:
    """One connection, reused across messages and reopened when it drops; at most
    `rate_per_minute` messages a minute."""

    def __init__(
        self,
        settings: SmtpSettings,
        password: str | None,
        sleep: Callable[[float], None],
        tokens: Tokens | None = None,
    ) -> None:
        self.settings = settings
        self.password = password
        self.tokens = tokens
        self.sleep = sleep
        self.interval = 60.0 / settings.rate_per_minute
        self._last_start = -float("inf")
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> _Smtp:
        if self.settings.auth == "password" and self.settings.username and not self.password:
            raise InputError(
                f"[smtp] username is set but there is no password: set {PASSWORD_VARIABLE}, or "
                f"store it in the system keyring (keyring set {KEYRING_SERVICE} "
                f"{self.settings.username})."
            )
        self._smtp = self._connect()  # a refused login stops the run before anything is marked
        return self

    def __exit__(self, *exc: object) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.host}:{s.port}"
        last = ""
        for attempt in range(TRIES):
            try:
                if s.security == "ssl":
                    smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                        s.host, s.port, timeout=60, context=ssl.create_default_context()
                    )
                else:
                    smtp = smtplib.SMTP(s.host, s.port, timeout=60)
                    if s.security == "starttls":
                        smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo_or_helo_if_needed()  # mail() does not greet by itself, unlike sendmail()
                try:
                    if s.auth == "oauth2":
                        self._sign_in(smtp, where)
                    elif s.username:
                        smtp.login(s.username, self.password or "")
                except (smtplib.SMTPException, LetterMergeError):
                    smtp.close()
                    raise
                return smtp
            except smtplib.SMTPAuthenticationError as error:
                reply = f"{error.smtp_code} {_text(error.smtp_error)}"
                if "5.7.30" in reply or "basic authentication is not supported" in reply.lower():
                    raise SendStopped(
                        f"The SMTP server {where} refused the password login for {s.username!r} "
                        f"({reply}): this mailbox no longer accepts passwords. Set auth = "
                        '"oauth2" in [smtp] and sign in with letter-merge login (README: '
                        "Microsoft 365). Nothing more was sent."
                    ) from None
                raise SendStopped(
                    f"The SMTP server {where} refused the login for {s.username!r} "
                    f"({reply}); check [smtp] username and "
                    f"the password in {PASSWORD_VARIABLE} or the keyring. Nothing more was sent."
                ) from None
            except ssl.SSLError as error:  # a certificate problem does not go away by retrying
                raise SendStopped(
                    f"Cannot connect securely to the SMTP server {where} ({error}); check [smtp] "
                    "host (it must match the server's certificate), port and security."
                ) from None
            except (smtplib.SMTPException, OSError) as error:
                last = str(error) or type(error).__name__
                self.sleep(BACKOFF_SECONDS * 2**attempt)
        raise SendStopped(
            f"Cannot connect to the SMTP server {where} ({last}); check [smtp] host, port and "
            "security. What was not sent stays queued."
        )

    def _sign_in(self, smtp: smtplib.SMTP, where: str) -> None:
        """SMTP AUTH XOAUTH2 with a current token; once more with a renewed one if the server
        refuses it (it may have expired during a long batch)."""
        assert self.tokens is not None
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        if "XOAUTH2" not in offered:
            raise SendStopped(
                f"The SMTP server {where} does not offer OAuth 2.0 sign-in (XOAUTH2; it offers "
                f"{', '.join(offered) or 'none'}); check [smtp] host, port and security."
            )
        for renew in (False, True):
            username, token = self.tokens.token(renew=renew)
            # The initial response carries the token; to an error challenge (a JSON reason)
            # the client answers with nothing, and the server then says 535.
            response = xoauth2(username, token)
            try:
                smtp.auth(
                    "XOAUTH2",
                    lambda challenge=None, initial=response: initial if challenge is None else "",
                )
                return
            except smtplib.SMTPAuthenticationError as error:
                if renew:
                    raise SendStopped(
                        f"The SMTP server {where} refused the sign-in for {username!r} "
                        f"({error.smtp_code} {_text(error.smtp_error)}). Sign in again: "
                        "letter-merge login (and check that the mailbox may send with SMTP AUTH). "
                        "Nothing more was sent."
                    ) from None
                log.info("the server refused the token; renewing it once")

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def transmit(self, sender: str, recipients: tuple[str, ...], data: bytes) -> str:
        """One SMTP transaction; the server's final reply. Raises _Reply for a refusal and
        _InDoubt when the connection breaks once the message may have been accepted."""
        wait = self._last_start + self.interval - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last_start = time.monotonic()
        for attempt in range(2):  # a connection found dead before the message went is reopened
            if self._smtp is None:
                self._smtp = self._connect()
            smtp = self._smtp
            try:
                code, text = smtp.mail(sender)
                if code == 421:  # the server is closing this connection: open a new one
                    self._drop()
                    if attempt:
                        raise _Reply(code, _text(text))
                    continue
                _check((code, text))
                for recipient in recipients:
                    code, text = smtp.rcpt(recipient)
                    if code not in (250, 251):
                        smtp.rset()
                        raise _Reply(code, f"{recipient}: {_text(text)}")
            except (smtplib.SMTPServerDisconnected, OSError):
                self._drop()
                if attempt:
                    raise _Reply(
                        421, "the connection was lost before the message was sent"
                    ) from None
                continue
            try:
                code, text = smtp.data(data)
            except smtplib.SMTPDataError as error:
                raise _Reply(error.smtp_code, _text(error.smtp_error)) from None
            except (smtplib.SMTPServerDisconnected, OSError) as error:
                self._drop()
                raise _InDoubt(f"the connection was lost during DATA ({error})") from None
            if code != 250:
                raise _Reply(code, _text(text))
            return f"{code} {_text(text)}"
        raise AssertionError("unreachable")


def _check(reply: tuple[int, bytes]) -> None:
    code, text = reply
    if code != 250:
        raise _Reply(code, _text(text))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@contextlib.contextmanager
def _send_lock(settings: Settings) -> Iterator[None]:
    """Only one send at a time for a year's batch; a second one says so and stops."""
    path = settings.paths.lock("send")
    busy = (
        f"Another 'letter-merge send' is already running for {settings.year} ({path}); "
        "wait for it to finish."
    )
    with exclusive(path, busy):
        yield
