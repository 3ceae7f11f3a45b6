"""Reading the sending mailbox over IMAP, strictly read-only (with a password or OAuth 2.0): the
folder is opened with EXAMINE, never SELECT; bodies are fetched with BODY.PEEK[], which leaves
\\Seen alone; there is no COPY, MOVE, EXPUNGE or CLOSE. The one STORE is `mark_seen_imap`, run
only when [mailbox] mark = "seen" asks for it."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import imaplib
import logging
import re
import ssl
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from letter_merge.config import MailboxSettings, Settings
from letter_merge.errors import InputError
from letter_merge.mail.inbox.common import (
    PASSWORD_VARIABLE,
    TIMEOUT_SECONDS,
    Fetched,
    MailboxError,
    as_text,
    mailbox_password,
    server_words,
    where,
)
from letter_merge.mail.signin.common import KEYRING_SERVICE, xoauth2
from letter_merge.mail.signin.oauth import Tokens, token_source
from letter_merge.steps import Next

log = logging.getLogger(__name__)

FETCH_CHUNK = 50  # messages one UID FETCH asks for
# IMAP dates are English whatever the locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def read_imap(
    settings: Settings, since: dt.date | None, environ: Mapping[str, str]
) -> list[Fetched]:
    mailbox = settings.mailbox
    try:
        with _session(settings, environ) as imap:
            uidvalidity = _examine(imap, mailbox)
            uids = _search(imap, mailbox, since)
            return [
                Fetched(f"imap:{mailbox.folder}:{uidvalidity}:{uid}", raw)
                for uid, raw in _fetch(imap, mailbox, uids)
            ]
    except (imaplib.IMAP4.abort, OSError) as error:  # the connection broke, or timed out
        raise MailboxError(
            f"The connection to the IMAP server {where(mailbox)} broke while reading "
            f"{mailbox.folder!r} ({server_words(error)}). Nothing was changed; try again."
        ) from None
    except imaplib.IMAP4.error as error:  # a command the server would not take (BAD)
        raise MailboxError(
            f"The IMAP server {where(mailbox)} would not take a request while reading "
            f"{mailbox.folder!r} ({server_words(error)}). Nothing was changed."
        ) from None


@contextlib.contextmanager
def _session(settings: Settings, environ: Mapping[str, str]) -> Iterator[imaplib.IMAP4]:
    """A connection to [mailbox], signed in; logged out at the end (LOGOUT only: CLOSE would be
    harmless after EXAMINE, but is not needed)."""
    mailbox = settings.mailbox
    # A missing password is said before anything is asked of the server.
    password = _login_password(settings, environ) if mailbox.auth == "password" else ""
    imap = _connect(mailbox, environ)
    try:
        if mailbox.auth == "oauth2":
            _sign_in_with_token(imap, mailbox, token_source(settings, purpose="imap"))
        else:
            _log_in(imap, mailbox, password)
        yield imap
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            imap.logout()


def _connect(mailbox: MailboxSettings, environ: Mapping[str, str]) -> imaplib.IMAP4:
    address = where(mailbox)
    context = _tls_context(environ)
    try:
        if mailbox.security == "tls":
            return imaplib.IMAP4_SSL(
                mailbox.host, mailbox.port, ssl_context=context, timeout=TIMEOUT_SECONDS
            )
        imap = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TIMEOUT_SECONDS)
        if mailbox.security == "starttls":
            try:
                imap.starttls(context)
            except BaseException:
                imap.shutdown()
                raise
        return imap
    except ssl.SSLCertVerificationError as error:
        raise MailboxError(
            f"Cannot connect securely to the IMAP server {address}: its certificate is not trusted "
            f"({error.verify_message}). Check [mailbox] host (it must be the name on the "
            "server's certificate)."
        ) from None
    except ssl.SSLError as error:
        raise MailboxError(
            f"Cannot connect securely to the IMAP server {address} ({error.reason or error}). "
            f"Check [mailbox] port and security.{_port_hint(mailbox)}"
        ) from None
    except imaplib.IMAP4.error as error:  # no STARTTLS offered, or no IMAP server there
        raise MailboxError(
            f"The server at {address} did not answer as an IMAP server should ({server_words(error)}). "
            f"Check [mailbox] port and security.{_port_hint(mailbox)}"
        ) from None
    except OSError as error:  # refused, no such host, timed out
        raise MailboxError(
            f"Cannot connect to the IMAP server {address} ({server_words(error)}). Check [mailbox] host "
            f"and port, and that this computer may reach it.{_port_hint(mailbox)}"
        ) from None


def _tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """Certificates checked against the system's authorities, or against the bundle in
    SSL_CERT_FILE (an office's inspecting proxy; a test's own authority)."""
    return ssl.create_default_context(cafile=environ.get("SSL_CERT_FILE") or None)


def _login_password(settings: Settings, environ: Mapping[str, str]) -> str:
    mailbox = settings.mailbox
    password = mailbox_password(settings, environ)
    if not mailbox.username:
        raise InputError(
            "[mailbox] username is not set: write the address of the mailbox to read, e.g. "
            'username = "annual.review@ombudsman.example".'
        )
    if not password:
        raise InputError(
            f"There is no password to read the mailbox {mailbox.username}: set "
            f"{PASSWORD_VARIABLE}, or store it in the system keyring (keyring set "
            f"{KEYRING_SERVICE} {mailbox.username})."
        )
    return password


def _log_in(imap: imaplib.IMAP4, mailbox: MailboxSettings, password: str) -> None:
    try:
        if password.isascii():
            imap.login(mailbox.username, password)
        else:  # LOGIN carries ASCII only; SASL PLAIN carries UTF-8
            response = f"\0{mailbox.username}\0{password}".encode()
            imap.authenticate("PLAIN", lambda _challenge: response)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as error:
        raise MailboxError(
            f"The IMAP server {where(mailbox)} refused the login for {mailbox.username!r} "
            f"({server_words(error, password)}). Check [mailbox] username and the password in "
            f"{PASSWORD_VARIABLE} or the keyring.{_password_hint(mailbox)}"
        ) from None


def _sign_in_with_token(imap: imaplib.IMAP4, mailbox: MailboxSettings, tokens: Tokens) -> None:
    """AUTHENTICATE XOAUTH2 with a current token; once more with a renewed one if the server
    refuses it."""
    offered = [c.split("=", 1)[1] for c in imap.capabilities if c.startswith("AUTH=")]
    if "XOAUTH2" not in offered:
        raise MailboxError(
            f"The IMAP server {where(mailbox)} does not offer OAuth 2.0 sign-in (XOAUTH2; it "
            f"offers {', '.join(offered) or 'none'}). Check [mailbox] host, or set auth = "
            '"password".'
        )
    for renew in (False, True):
        username, token = tokens.token(renew=renew)
        username = mailbox.username or username
        # The first answer carries the token; to an error challenge (a JSON reason) the client
        # answers with nothing, and the server then says NO.
        answers = iter([xoauth2(username, token).encode()])

        def answer(_challenge: bytes, said: Iterator[bytes] = answers) -> bytes:
            return next(said, b"")

        try:
            imap.authenticate("XOAUTH2", answer)
            return
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:
            if renew:
                raise MailboxError(
                    f"The IMAP server {where(mailbox)} refused the sign-in for {username!r} "
                    f"({server_words(error, token)}). Sign in again, and check that the mailbox "
                    "may be read with IMAP, and that the app may read it.",
                    next_step=Next.SIGN_IN,
                ) from None
            log.info("the IMAP server refused the token; renewing it once")


def _examine(imap: imaplib.IMAP4, mailbox: MailboxSettings) -> str:
    """Open the folder read-only (EXAMINE); its UIDVALIDITY."""
    try:
        status, data = imap.select(_quoted(_to_imap_utf7(mailbox.folder)), readonly=True)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as error:
        status, data = "BAD", [str(error).encode()]
    if status != "OK":
        raise MailboxError(
            f"There is no folder {mailbox.folder!r} in the mailbox {mailbox.username} at "
            f"{where(mailbox)} ({server_words(data)}). Check [mailbox] folder; the folders there: "
            f"{', '.join(_folder_names(imap)) or 'none listed'}."
        )
    _, values = imap.response("UIDVALIDITY")
    return as_text(values[-1]) if values and values[-1] else "0"


def _search(imap: imaplib.IMAP4, mailbox: MailboxSettings, since: dt.date | None) -> list[str]:
    criteria = ("SINCE", _imap_date(since)) if since else ("ALL",)
    status, data = imap.uid("SEARCH", *criteria)
    if status != "OK":
        raise MailboxError(
            f"The IMAP server {where(mailbox)} would not list the messages in "
            f"{mailbox.folder!r} ({server_words(data)}). Nothing was changed; try again."
        )
    return b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii").split()


def _fetch(
    imap: imaplib.IMAP4, mailbox: MailboxSettings, uids: list[str]
) -> Iterator[tuple[int, bytes]]:
    """Each message whole, by UID, oldest first; BODY.PEEK[] leaves \\Seen as it was."""
    for start in range(0, len(uids), FETCH_CHUNK):
        chunk = uids[start : start + FETCH_CHUNK]
        status, data = imap.uid("FETCH", ",".join(chunk), "(BODY.PEEK[])")
        if status != "OK":
            raise MailboxError(
                f"The IMAP server {where(mailbox)} would not hand over messages from "
                f"{mailbox.folder!r} ({server_words(data)}). Nothing was changed; try again."
            )
        yield from sorted(_bodies(data))


def _bodies(data: Iterable[Any]) -> Iterator[tuple[int, bytes]]:
    """(UID, message) from a FETCH response, where the UID may come before the message or, as
    some servers send it, after it."""
    waiting: bytes | None = None
    for item in data:
        if isinstance(item, tuple):
            uid = _uid(item[0])
            if uid is None:
                waiting = item[1]
            else:
                yield uid, item[1]
        elif waiting is not None and isinstance(item, bytes):
            uid = _uid(item)
            if uid is not None:
                yield uid, waiting
                waiting = None


def _uid(text: bytes) -> int | None:
    found = re.search(rb"\bUID (\d+)", text)
    return int(found.group(1)) if found else None


def _folder_names(imap: imaplib.IMAP4) -> list[str]:
    """The folders the mailbox has (LIST, which changes nothing), for an error message."""
    try:
        status, data = imap.list()
    except imaplib.IMAP4.error:
        return []
    names = []
    for line in data if status == "OK" else []:
        if not isinstance(line, bytes):
            continue  # a name sent as a literal: not worth listing
        found = re.match(rb'\([^)]*\) (?:"(?:[^"\\]|\\.)*"|NIL) (.+)$', line)
        if found:
            name = found.group(1).strip()
            if name.startswith(b'"'):
                name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
            names.append(_from_imap_utf7(name.decode("ascii", "replace")))
    return names


def _imap_date(day: dt.date) -> str:
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _to_imap_utf7(name: str) -> str:
    """A folder name as IMAP writes it (RFC 3501's modified UTF-7): 'Rückläufer' ->
    'R&APw-ckl&AOQ-ufer'."""
    out: list[str] = []
    other = ""

    def flush() -> None:
        nonlocal other
        if other:
            packed = base64.b64encode(other.encode("utf-16-be")).decode("ascii")
            out.append("&" + packed.rstrip("=").replace("/", ",") + "-")
            other = ""

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            other += char
    flush()
    return "".join(out)


def _from_imap_utf7(name: str) -> str:
    def decode(found: re.Match[str]) -> str:
        packed = found.group(1)
        if not packed:
            return "&"
        packed = packed.replace(",", "/")
        return base64.b64decode(packed + "=" * (-len(packed) % 4)).decode("utf-16-be", "replace")

    return re.sub(r"&([A-Za-z0-9+,]*)-", decode, name)


# Microsoft Graph


def mark_seen_imap(settings: Settings, keys: list[str], environ: Mapping[str, str]) -> int:
    """Mark these messages (keys from `read_mailbox`) as read: only when [mailbox] mark =
    "seen" asks for it by name, only over IMAP, and only in the folder as it was read (the same
    UIDVALIDITY). The one change letter-merge ever makes in a mailbox. How many it marked."""
    mailbox = settings.mailbox
    try:
        with _session(settings, environ) as imap:
            status, _ = imap.select(_quoted(_to_imap_utf7(mailbox.folder)))  # read-write
            _, values = imap.response("UIDVALIDITY")
            validity = as_text(values[-1]) if values and values[-1] else "0"
            prefix = f"imap:{mailbox.folder}:{validity}:"
            uids = [key[len(prefix) :] for key in keys if key.startswith(prefix)]
            if status != "OK" or not uids:
                return 0
            status, data = imap.uid("STORE", ",".join(uids), "+FLAGS.SILENT", "(\\Seen)")
    except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError) as error:
        raise MailboxError(
            f"The reports could not be marked read at {where(mailbox)} ({server_words(error)}); they "
            "were recorded all the same."
        ) from None
    if status != "OK":
        raise MailboxError(
            f"The IMAP server {where(mailbox)} would not mark the reports read "
            f"({server_words(data)}); they were recorded all the same."
        )
    return len(uids)


def _port_hint(mailbox: MailboxSettings) -> str:
    if mailbox.security == "tls" and mailbox.port == 143:
        return ' Port 143 is for security = "starttls"; "tls" is usually port 993.'
    if mailbox.security != "tls" and mailbox.port == 993:
        return ' Port 993 is for security = "tls".'
    return ""


def _password_hint(mailbox: MailboxSettings) -> str:
    if mailbox.host.lower() == "outlook.office365.com":
        return (
            ' Microsoft 365 no longer takes passwords for IMAP: set auth = "oauth2" in [mailbox] '
            "and sign in (the manual, For IT: Microsoft 365 with OAuth 2.0)."
        )
    if mailbox.host.lower() == "imap.gmail.com":
        return (
            " Gmail takes an app password here, not the account's own; or set auth = "
            '"oauth2" in [mailbox] (the manual, For IT: Gmail and Google Workspace).'
        )
    return ""
