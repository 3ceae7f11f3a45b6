"""Reading the sending mailbox for bounce reports and replies, strictly read-only: IMAP (with a
password or OAuth 2.0), or Microsoft Graph for Microsoft 365 tenants that have turned IMAP off.
Each message comes back whole, with a key that names it in the mailbox; what it says is for
another stage to work out.

Nothing here changes the mailbox: the folder is opened with EXAMINE, never SELECT; bodies are
fetched with BODY.PEEK[], which leaves \\Seen alone; there is no STORE, COPY, MOVE, EXPUNGE or
CLOSE. Graph is asked with GET only.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import imaplib
import logging
import os
import re
import ssl
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from letter_merge.config import MailboxSettings, Settings
from letter_merge.errors import InputError, LetterMergeError
from letter_merge.mail.oauth import Tokens, token_source
from letter_merge.mail.signin import KEYRING_SERVICE, http_session, xoauth2
from letter_merge.mail.transport import smtp_password, stored_password

log = logging.getLogger(__name__)

PASSWORD_VARIABLE = "LETTER_MERGE_MAILBOX_PASSWORD"
GRAPH_URL_VARIABLE = "LETTER_MERGE_MAILBOX_GRAPH_URL"  # a national cloud, or a stand-in
GRAPH_URL = "https://graph.microsoft.com/v1.0"
TIMEOUT_SECONDS = 60  # for each read from the server
FETCH_CHUNK = 50  # messages one UID FETCH asks for
GRAPH_PAGE = 50  # messages one page of Graph's list holds
GRAPH_TRIES = 3  # when Graph says it is too busy (429, 503, 504)
GRAPH_WAIT_SECONDS = 30  # the longest wait Graph's Retry-After is obeyed for
# IMAP dates are English whatever the locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Graph's names for the folders every mailbox has; any other folder is looked up by its name.
GRAPH_FOLDERS = ("inbox", "junkemail", "archive", "deleteditems", "sentitems", "drafts", "outbox")


class MailboxError(LetterMergeError):
    """The mailbox could not be read; the message says what to do. Nothing in it was changed."""


@dataclass(frozen=True)
class Fetched:
    """One message as the mailbox holds it."""

    key: str  # stable in the mailbox: "imap:{folder}:{uidvalidity}:{uid}" or "graph:{id}"
    raw: bytes  # the whole RFC 5322 message


def read_mailbox(
    settings: Settings,
    *,
    since: dt.date | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Fetched]:
    """Every message in [mailbox] folder (received on or after `since`, when given), oldest
    first, without changing anything in the mailbox."""
    environ = os.environ if environ is None else environ
    if settings.mailbox.auth == "graph":
        return _read_graph(settings, since, environ)
    return _read_imap(settings, since, environ)


def mark_seen(settings: Settings, keys: list[str], environ: Mapping[str, str] | None = None) -> int:
    """Mark these messages (keys from `read_mailbox`) as read: only when [mailbox] mark =
    "seen" asks for it by name, only over IMAP, and only in the folder as it was read (the same
    UIDVALIDITY). The one change letter-merge ever makes in a mailbox. How many it marked."""
    mailbox = settings.mailbox
    if mailbox.mark != "seen" or mailbox.auth == "graph" or not keys:
        return 0
    environ = os.environ if environ is None else environ
    try:
        with _session(settings, environ) as imap:
            status, _ = imap.select(_quoted(_to_imap_utf7(mailbox.folder)))  # read-write
            _, values = imap.response("UIDVALIDITY")
            validity = _text(values[-1]) if values and values[-1] else "0"
            prefix = f"imap:{mailbox.folder}:{validity}:"
            uids = [key[len(prefix) :] for key in keys if key.startswith(prefix)]
            if status != "OK" or not uids:
                return 0
            status, data = imap.uid("STORE", ",".join(uids), "+FLAGS.SILENT", "(\\Seen)")
    except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError) as error:
        raise MailboxError(
            f"The reports could not be marked read at {_where(mailbox)} ({_reason(error)}); they "
            "were recorded all the same."
        ) from None
    if status != "OK":
        raise MailboxError(
            f"The IMAP server {_where(mailbox)} would not mark the reports read "
            f"({_reason(data)}); they were recorded all the same."
        )
    return len(uids)


def mailbox_password(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """LETTER_MERGE_MAILBOX_PASSWORD, else the keyring's for [mailbox] username; when that is
    the sending mailbox's username, SMTP's password (LETTER_MERGE_SMTP_PASSWORD) after that."""
    mailbox = settings.mailbox
    password = stored_password(PASSWORD_VARIABLE, mailbox.username, environ)
    if password is None and mailbox.username == settings.smtp.username:
        password = smtp_password(settings.smtp, environ)
    return password


# IMAP


def _read_imap(
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
            f"The connection to the IMAP server {_where(mailbox)} broke while reading "
            f"{mailbox.folder!r} ({_reason(error)}). Nothing was changed; try again."
        ) from None
    except imaplib.IMAP4.error as error:  # a command the server would not take (BAD)
        raise MailboxError(
            f"The IMAP server {_where(mailbox)} would not take a request while reading "
            f"{mailbox.folder!r} ({_reason(error)}). Nothing was changed."
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
    where = _where(mailbox)
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
            f"Cannot connect securely to the IMAP server {where}: its certificate is not trusted "
            f"({error.verify_message}). Check [mailbox] host (it must be the name on the "
            "server's certificate)."
        ) from None
    except ssl.SSLError as error:
        raise MailboxError(
            f"Cannot connect securely to the IMAP server {where} ({error.reason or error}). "
            f"Check [mailbox] port and security.{_port_hint(mailbox)}"
        ) from None
    except imaplib.IMAP4.error as error:  # no STARTTLS offered, or no IMAP server there
        raise MailboxError(
            f"The server at {where} did not answer as an IMAP server should ({_reason(error)}). "
            f"Check [mailbox] port and security.{_port_hint(mailbox)}"
        ) from None
    except OSError as error:  # refused, no such host, timed out
        raise MailboxError(
            f"Cannot connect to the IMAP server {where} ({_reason(error)}). Check [mailbox] host "
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
            f"The IMAP server {_where(mailbox)} refused the login for {mailbox.username!r} "
            f"({_reason(error, password)}). Check [mailbox] username and the password in "
            f"{PASSWORD_VARIABLE} or the keyring.{_password_hint(mailbox)}"
        ) from None


def _sign_in_with_token(imap: imaplib.IMAP4, mailbox: MailboxSettings, tokens: Tokens) -> None:
    """AUTHENTICATE XOAUTH2 with a current token; once more with a renewed one if the server
    refuses it."""
    offered = [c.split("=", 1)[1] for c in imap.capabilities if c.startswith("AUTH=")]
    if "XOAUTH2" not in offered:
        raise MailboxError(
            f"The IMAP server {_where(mailbox)} does not offer OAuth 2.0 sign-in (XOAUTH2; it "
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
                    f"The IMAP server {_where(mailbox)} refused the sign-in for {username!r} "
                    f"({_reason(error, token)}). Sign in again: letter-merge login (and check "
                    "that the mailbox may be read with IMAP, and that the app may read it)."
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
            f"{_where(mailbox)} ({_reason(data)}). Check [mailbox] folder; the folders there: "
            f"{', '.join(_folder_names(imap)) or 'none listed'}."
        )
    _, values = imap.response("UIDVALIDITY")
    return _text(values[-1]) if values and values[-1] else "0"


def _search(imap: imaplib.IMAP4, mailbox: MailboxSettings, since: dt.date | None) -> list[str]:
    criteria = ("SINCE", _imap_date(since)) if since else ("ALL",)
    status, data = imap.uid("SEARCH", *criteria)
    if status != "OK":
        raise MailboxError(
            f"The IMAP server {_where(mailbox)} would not list the messages in "
            f"{mailbox.folder!r} ({_reason(data)}). Nothing was changed; try again."
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
                f"The IMAP server {_where(mailbox)} would not hand over messages from "
                f"{mailbox.folder!r} ({_reason(data)}). Nothing was changed; try again."
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


def _read_graph(
    settings: Settings, since: dt.date | None, environ: Mapping[str, str]
) -> list[Fetched]:
    base = (environ.get(GRAPH_URL_VARIABLE) or GRAPH_URL).rstrip("/")
    if not base.startswith("https://"):
        raise InputError(f"{GRAPH_URL_VARIABLE} = {base!r} must be an https:// address.")
    graph = _Graph(settings, base, environ)
    folder = graph.folder(settings.mailbox.folder)
    listed = graph.message_ids(folder, since)
    return [Fetched(f"graph:{message_id}", graph.mime(message_id)) for message_id in listed]


class _Graph:
    """GET requests to one mailbox in Microsoft Graph, with a bearer token renewed once if
    refused, and Graph's requests to slow down obeyed."""

    def __init__(self, settings: Settings, base: str, environ: Mapping[str, str]) -> None:
        self.base = base
        self.mailbox = settings.mailbox
        self.session = http_session(environ)
        self.tokens = token_source(settings, purpose="graph")
        self.token = ""
        # An app (client credentials) names the mailbox; a signed-in person reads their own.
        user = self.mailbox.username or settings.smtp.username
        self.who = (
            f"users/{urllib.parse.quote(user, safe='@')}"
            if settings.oauth2.flow == "client-credentials"
            else "me"
        )
        self.name = user or "the signed-in user"

    def folder(self, name: str) -> str:
        """Graph's id for [mailbox] folder: a name every mailbox has (inbox), or one found by
        its display name among the top-level folders."""
        if name.lower() in GRAPH_FOLDERS:
            return name.lower()
        escaped = name.replace("'", "''")
        found = self.get_json(
            f"{self.base}/{self.who}/mailFolders",
            {"$filter": f"displayName eq '{escaped}'", "$select": "id,displayName"},
        )
        for entry in found.get("value", []):
            return str(entry["id"])
        listed = self.get_json(
            f"{self.base}/{self.who}/mailFolders", {"$select": "displayName", "$top": "100"}
        )
        names = [str(entry.get("displayName", "")) for entry in listed.get("value", [])]
        raise MailboxError(
            f"There is no folder {name!r} in the mailbox of {self.name} (Microsoft Graph). Check "
            f"[mailbox] folder: a top-level folder's name, or one of {', '.join(GRAPH_FOLDERS)}; "
            f"the folders there: {', '.join(names) or 'none listed'}."
        )

    def message_ids(self, folder: str, since: dt.date | None) -> list[str]:
        """The ids of the folder's messages (received on or after `since`), oldest first."""
        params = {"$select": "id,receivedDateTime", "$top": str(GRAPH_PAGE)}
        if since:
            params["$filter"] = f"receivedDateTime ge {since.isoformat()}T00:00:00Z"
        url: str | None = f"{self.base}/{self.who}/mailFolders/{folder}/messages"
        found: list[tuple[str, str]] = []
        while url:
            page = self.get_json(url, params)
            params = {}  # the next page's address carries them
            for entry in page.get("value", []):
                received = str(entry.get("receivedDateTime", ""))
                if since is None or received[:10] >= since.isoformat():
                    found.append((received, str(entry["id"])))
            url = page.get("@odata.nextLink")
            if url and not url.startswith(self.base + "/"):
                # The token goes only where it was meant for.
                raise MailboxError(
                    f"Microsoft Graph sent the next page of {self.name}'s messages elsewhere "
                    f"({urllib.parse.urlsplit(url).netloc}); nothing more was read."
                )
        return [message_id for _, message_id in sorted(found)]

    def mime(self, message_id: str) -> bytes:
        quoted = urllib.parse.quote(message_id, safe="")
        return bytes(self.get(f"{self.base}/{self.who}/messages/{quoted}/$value").content)

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        answer = self.get(url, params)
        try:
            data = answer.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise MailboxError(
                f"Microsoft Graph's answer from {urllib.parse.urlsplit(url).path} was not what "
                f"it sends; check {GRAPH_URL_VARIABLE} if it is set."
            )
        return data

    def get(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        import requests

        renewed = False
        tries = 0
        while True:
            if not self.token:
                _, self.token = self.tokens.token()
            try:
                answer = self.session.get(
                    url,
                    params=params,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=TIMEOUT_SECONDS,
                    # As given: requests would otherwise let the process's REQUESTS_CA_BUNDLE
                    # override the bundle the session was made with.
                    verify=self.session.verify,
                )
            except requests.exceptions.SSLError as error:
                raise MailboxError(
                    f"Cannot connect securely to Microsoft Graph at {self.base} "
                    f"({_reason(error, self.token)}); an inspecting proxy's certificate "
                    "authority belongs in REQUESTS_CA_BUNDLE."
                ) from None
            except requests.RequestException as error:
                raise MailboxError(
                    f"Cannot reach Microsoft Graph at {self.base} ({type(error).__name__}); "
                    "check the network and try again. Nothing was changed."
                ) from None
            if answer.status_code == 401 and not renewed:
                log.info("Microsoft Graph refused the token; renewing it once")
                _, self.token = self.tokens.token(renew=True)
                renewed = True
                continue
            if answer.status_code in (429, 503, 504) and tries < GRAPH_TRIES - 1:
                tries += 1
                time.sleep(_retry_after(answer))
                continue
            if answer.status_code == 200:
                return answer
            raise self._refused(answer, url)

    def _refused(self, answer: Any, url: str) -> MailboxError:
        try:
            error = answer.json().get("error", {})
            said = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
        except (ValueError, AttributeError):
            said = ""
        said = _reason(said or answer.reason or "no reason given", self.token)
        status = answer.status_code
        if status == 401:
            return MailboxError(
                f"Microsoft Graph refused the sign-in for {self.name} ({status} {said}). Sign in "
                "again: letter-merge login."
            )
        if status == 403:
            return MailboxError(
                f"Microsoft Graph may not read the mailbox of {self.name} ({status} {said}): the "
                "app needs the permission Mail.Read, which an administrator grants in Entra ID "
                "(README: Microsoft 365)."
            )
        if status == 404 and "/mailFolders/" in url:
            return MailboxError(
                f"There is no folder {self.mailbox.folder!r} in the mailbox of {self.name} "
                f"({status} {said}). Check [mailbox] folder."
            )
        return MailboxError(
            f"Microsoft Graph could not read the mailbox of {self.name} ({status} {said}). "
            "Nothing was changed; try again later."
        )


def _retry_after(answer: Any) -> float:
    try:
        wait = float(answer.headers.get("Retry-After", "5"))
    except ValueError:
        wait = 5.0
    return max(0.0, min(wait, GRAPH_WAIT_SECONDS))


# Messages


def _where(mailbox: MailboxSettings) -> str:
    return f"{mailbox.host}:{mailbox.port}"


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
            "and sign in with letter-merge login (README: Microsoft 365)."
        )
    if mailbox.host.lower() == "imap.gmail.com":
        return (
            " Gmail takes an app password here, not the account's own; or set auth = "
            '"oauth2" in [mailbox] (README: Gmail and Google Workspace).'
        )
    return ""


def _reason(what: object, *secrets: str) -> str:
    """What the server or the library said, short, on one line, and never with a secret in it
    (a server that repeats what it was sent must not put the password in a message)."""
    if isinstance(what, list | tuple):
        what = b" ".join(w for w in what if isinstance(w, bytes))
    elif isinstance(what, imaplib.IMAP4.error) and what.args and isinstance(what.args[0], bytes):
        what = what.args[0]  # imaplib passes on the server's words as they came
    if isinstance(what, OSError) and not str(what):
        text = type(what).__name__
    else:
        text = _text(what) if isinstance(what, bytes) else str(what)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "…")
    text = " ".join(text.split())
    return (text[:200] + "…") if len(text) > 200 else text or "no reason given"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
