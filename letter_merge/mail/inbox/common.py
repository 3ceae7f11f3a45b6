"""What reading the mailbox over IMAP and over Microsoft Graph share: the message as fetched, the
one error, the mailbox's password, and what a server said made safe to show."""

from __future__ import annotations

import imaplib
from collections.abc import Mapping
from dataclasses import dataclass

from letter_merge.config import MailboxSettings, Settings
from letter_merge.environment import MAILBOX_PASSWORD
from letter_merge.errors import LetterMergeError
from letter_merge.mail.send.transport import smtp_password, stored_password

PASSWORD_VARIABLE = MAILBOX_PASSWORD
TIMEOUT_SECONDS = 60  # for each read from the server


class MailboxError(LetterMergeError):
    """The mailbox could not be read; the message says what to do. Nothing in it was changed."""


@dataclass(frozen=True)
class Fetched:
    """One message as the mailbox holds it."""

    key: str  # stable in the mailbox: "imap:{folder}:{uidvalidity}:{uid}" or "graph:{id}"
    raw: bytes  # the whole RFC 5322 message


def mailbox_password(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """LETTER_MERGE_MAILBOX_PASSWORD, else the keyring's for [mailbox] username; when that is
    the sending mailbox's username, SMTP's password (LETTER_MERGE_SMTP_PASSWORD) after that."""
    mailbox = settings.mailbox
    password = stored_password(PASSWORD_VARIABLE, mailbox.username, environ)
    if password is None and mailbox.username == settings.smtp.username:
        password = smtp_password(settings.smtp, environ)
    return password


def where(mailbox: MailboxSettings) -> str:
    return f"{mailbox.host}:{mailbox.port}"


def server_words(what: object, *secrets: str) -> str:
    """What the server or the library said, short, on one line, and never with a secret in it
    (a server that repeats what it was sent must not put the password in a message)."""
    if isinstance(what, list | tuple):
        what = b" ".join(w for w in what if isinstance(w, bytes))
    elif isinstance(what, imaplib.IMAP4.error) and what.args and isinstance(what.args[0], bytes):
        what = what.args[0]  # imaplib passes on the server's words as they came
    if isinstance(what, OSError) and not str(what):
        text = type(what).__name__
    else:
        text = as_text(what) if isinstance(what, bytes) else str(what)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "…")
    text = " ".join(text.split())
    return (text[:200] + "…") if len(text) > 200 else text or "no reason given"


def as_text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
