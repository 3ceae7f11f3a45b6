"""The SMTP transport: one connection reused across a batch, reopened when it drops, signed in with
a password or OAuth 2.0, and paced to the server's rate (pacing.py); and what every transport is
to sending.py (Transport: this one, or Microsoft Graph's in graph.py). A transport knows nothing
of letters or the ledger; sending.py decides what may go and records what happened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from letter_merge.config import SmtpSettings
from letter_merge.environment import SMTP_PASSWORD
from letter_merge.errors import InputError, LetterMergeError
from letter_merge.mail.send.pacing import Pacer
from letter_merge.mail.signin.common import KEYRING_SERVICE, xoauth2
from letter_merge.mail.signin.oauth import Tokens
from letter_merge.steps import Next

log = logging.getLogger(__name__)

PASSWORD_VARIABLE = SMTP_PASSWORD
TRIES = 3  # connection attempts, and tries per message and run for temporary (4xx) failures
BACKOFF_SECONDS = 2.0


class SendStopped(LetterMergeError):
    """The run cannot go on (the server refused the login, or cannot be reached)."""


class Reply(Exception):
    """The server refused the message (or a recipient): its reply code and text."""

    def __init__(self, code: int, text: str, recipient: str = "") -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.recipient = recipient  # the address refused; "" when the message itself was


class InDoubt(Exception):
    """The connection broke after the message was handed over: it may or may not have arrived."""


@dataclass(frozen=True)
class Found:
    """Where a message whose outcome was unknown turned out to be: "sent" (in the mailbox's
    sent messages), "draft" (made but never sent), "absent" (never made, so never sent), or
    "unknown" (this transport cannot tell: SMTP keeps no copy to look in)."""

    state: Literal["sent", "draft", "absent", "unknown"]
    draft_id: str = ""
    reason: str = ""


class Transport(Protocol):
    """What mail/send/sending.py sends through: SmtpConnection or send.graph.GraphConnection."""

    via: str
    sleep: Callable[[float], None]

    @property
    def where(self) -> str: ...

    def transmit(self, sender: str, recipients: tuple[str, ...], data: bytes) -> str: ...

    def look_up(self, message_id: str) -> Found: ...


def send_as_refused(mailbox: str, *, via: str, app: bool = False) -> str:
    """The one message for a refusal to send as the team's mailbox (Graph's ErrorSendAsDenied,
    SMTP's 5.7.60): which mailbox, and what an administrator grants."""
    if app:
        grant = (
            f"include {mailbox} in the app's application access policy (or RBAC for "
            "Applications management scope) in Exchange Online"
        )
    else:
        grant = (
            f"give the signed-in person Send As (or Send on Behalf) on {mailbox} in the "
            "Exchange admin centre (Recipients > Mailboxes > the mailbox > Delegation); it takes "
            "up to an hour to apply"
        )
    return (
        f"Microsoft 365 refused to send as {mailbox} ({'ErrorSendAsDenied' if via == 'graph' else '5.7.60 SendAsDenied'}): "
        f"[email] from names a mailbox this sign-in may not send as. An administrator must {grant}. "
        "Nothing more was sent; what was not sent stays queued."
    )


def smtp_password(smtp: SmtpSettings, environ: Mapping[str, str] | None = None) -> str | None:
    """From the environment, else the system keyring; never from a file or the command line."""
    return stored_password(PASSWORD_VARIABLE, smtp.username, environ)


def stored_password(
    variable: str, username: str, environ: Mapping[str, str] | None = None
) -> str | None:
    """The password in the environment variable `variable`, else the system keyring's for
    `username` (keyring set letter-merge USERNAME); None when neither has one."""
    environ = os.environ if environ is None else environ
    if environ.get(variable):
        return environ[variable]
    if not username:
        return None
    try:
        import keyring
        import keyring.errors

        return keyring.get_password(KEYRING_SERVICE, username)
    except Exception:  # no keyring on this system: the environment is the way
        return None


class SmtpConnection:
    """One connection, reused across messages and reopened when it drops; at most
    `rate_per_minute` messages a minute."""

    via = "smtp"

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
        self.pace = Pacer(settings.rate_per_minute, sleep)
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpConnection:
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
                        '"oauth2" in [smtp] and sign in (the manual, For IT: Microsoft 365 with OAuth 2.0). Nothing more '
                        "was sent.",
                        next_step=Next.SIGN_IN,
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
                        f"({error.smtp_code} {_text(error.smtp_error)}). Sign in again, and check "
                        "that the mailbox may send with SMTP AUTH. Nothing more was sent.",
                        next_step=Next.SIGN_IN,
                    ) from None
                log.info("the server refused the token; renewing it once")

    @property
    def where(self) -> str:
        return f"the SMTP server {self.settings.host}:{self.settings.port}"

    def look_up(self, message_id: str) -> Found:
        """SMTP keeps no copy of what it sent: a message in doubt is settled by hand."""
        return Found("unknown")

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def transmit(self, sender: str, recipients: tuple[str, ...], data: bytes) -> str:
        """One SMTP transaction; the server's final reply. Raises Reply for a refusal and
        InDoubt when the connection breaks once the message may have been accepted."""
        self.pace()
        for attempt in range(2):  # a connection found dead before the message went is reopened
            if self._smtp is None:
                self._smtp = self._connect()
            smtp = self._smtp
            try:
                code, text = smtp.mail(sender)
                if code == 421:  # the server is closing this connection: open a new one
                    self._drop()
                    if attempt:
                        raise Reply(code, _text(text))
                    continue
                _check((code, text))
                for recipient in recipients:
                    code, text = smtp.rcpt(recipient)
                    if code not in (250, 251):
                        smtp.rset()
                        raise Reply(code, f"{recipient}: {_text(text)}", recipient)
            except (smtplib.SMTPServerDisconnected, OSError):
                self._drop()
                if attempt:
                    raise Reply(
                        421, "the connection was lost before the message was sent"
                    ) from None
                continue
            try:
                code, text = smtp.data(data)
            except smtplib.SMTPDataError as error:
                raise Reply(error.smtp_code, _text(error.smtp_error)) from None
            except (smtplib.SMTPServerDisconnected, OSError) as error:
                self._drop()
                raise InDoubt(f"the connection was lost during DATA ({error})") from None
            if code != 250:
                raise Reply(code, _text(text))
            return f"{code} {_text(text)}"
        raise AssertionError("unreachable")


def _check(reply: tuple[int, bytes]) -> None:
    code, text = reply
    if code != 250:
        raise Reply(code, _text(text))


def refused_send_as(error: Reply) -> bool:
    """Exchange Online's refusal to send as the From mailbox (550 5.7.60 SendAsDenied)."""
    return "5.7.60" in str(error) or "sendasdenied" in str(error).lower()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
