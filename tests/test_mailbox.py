"""Reading the sending mailbox, read-only: the [mailbox] settings, and reading with real parts.

- IMAP: a real Dovecot (tests/imap_server.py) on 127.0.0.1 with real TLS (implicit and
  STARTTLS), a password login, and XOAUTH2 whose tokens Dovecot checks against INTROSPECTION
  STAND-IN (the identity provider's introspection endpoint);
- tokens: TOKEN SOURCE STAND-IN hands the reader what letter-merge login's sign-in would (MSAL
  and Google's libraries need Microsoft's and Google's clouds, which cannot run here);
- Microsoft Graph: GRAPH STAND-IN, a local HTTPS server (trustme certificate) serving the
  endpoints the reader calls, with paging as Graph pages. Microsoft's cloud cannot run here.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import imaplib
import json
import ssl
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keyring
import pytest
import trustme
from keyrings.alt.file import PlaintextKeyring

from letter_merge.config import Settings, load_settings
from letter_merge.errors import InputError
from letter_merge.mail.inbox import graph as graph_reader
from letter_merge.mail.inbox import imap as imap_reader
from letter_merge.mail.inbox.mailbox import Fetched, MailboxError, mailbox_password, read_mailbox
from letter_merge.mail.signin.common import SignedIn
from letter_merge.steps import Next
from tests.helpers import StandInHandler, free_port, serving_http
from tests.imap_server import (
    OTHER_PASSWORD,
    OTHER_USER,
    PASSWORD,
    USER,
    Dovecot,
    running_dovecot,
)

TODAY = dt.date(2021, 7, 1)
needs_dovecot = pytest.mark.imap


def write_settings(folder: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    path = folder / "letter-merge.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=environ or {}, today=TODAY)


def letter(number: int, subject: str = "") -> bytes:
    """A small message, different for each number, with CRLF line ends as IMAP keeps them."""
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.council.example>\r\n"
        f"To: {USER}\r\n"
        f"Subject: {subject or f'Undeliverable: Annual Review letter {number}'}\r\n"
        f"Message-ID: <bounce-{number}@mx.council.example>\r\n"
        "\r\n"
        f"Delivery to ce{number}@council.example failed.\r\n"
    ).encode()


@pytest.fixture(autouse=True)
def test_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    """TEST KEYRING: a real keyring backend in the test's folder, so that no test reads (or
    finds a password in) the keyring of whoever runs them."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "test-keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


# settings


def test_the_mailbox_follows_smtp_for_microsoft_365(tmp_path: Path) -> None:
    settings = write_settings(
        tmp_path,
        '[smtp]\nhost = "smtp.office365.com"\nusername = "review@ombudsman.example"\n'
        'auth = "oauth2"\n[oauth2]\nclient_id = "app"\ntenant = "ombudsman.example"\n',
    )
    mailbox = settings.mailbox
    assert (mailbox.host, mailbox.port, mailbox.security) == ("outlook.office365.com", 993, "tls")
    assert (mailbox.username, mailbox.folder, mailbox.auth, mailbox.mark) == (
        "review@ombudsman.example",
        "INBOX",
        "oauth2",
        "",
    )


def test_the_mailbox_follows_smtp_for_gmail_and_other_servers(tmp_path: Path) -> None:
    gmail = write_settings(tmp_path, '[smtp]\nhost = "smtp.gmail.com"\nusername = "a@gmail.com"\n')
    assert (gmail.mailbox.host, gmail.mailbox.port, gmail.mailbox.auth) == (
        "imap.gmail.com",
        993,
        "password",
    )
    other = write_settings(tmp_path, '[smtp]\nhost = "mail.ombudsman.example"\nport = 25\n')
    assert (other.mailbox.host, other.mailbox.port, other.mailbox.security) == (
        "mail.ombudsman.example",
        993,
        "tls",
    )
    starttls = write_settings(tmp_path, '[mailbox]\nhost = "imap.example"\nsecurity = "starttls"\n')
    assert starttls.mailbox.port == 143  # the port goes with the security unless set


def test_environment_variables_override_every_mailbox_key(tmp_path: Path) -> None:
    text = (
        '[smtp]\nhost = "smtp.office365.com"\nusername = "file@ombudsman.example"\n'
        '[mailbox]\nhost = "imap.file.example"\nport = 994\nfolder = "Bounces"\n'
    )
    environ = {
        "LETTER_MERGE_MAILBOX_HOST": "127.0.0.1",
        "LETTER_MERGE_MAILBOX_PORT": "1143",
        "LETTER_MERGE_MAILBOX_SECURITY": "none",
        "LETTER_MERGE_MAILBOX_USERNAME": " reader@ombudsman.example ",
        "LETTER_MERGE_MAILBOX_FOLDER": "Replies",
        "LETTER_MERGE_MAILBOX_AUTH": "oauth2",
        "LETTER_MERGE_MAILBOX_MARK": "seen",
    }
    mailbox = write_settings(tmp_path, text, environ).mailbox
    assert mailbox.__dict__ == {
        "host": "127.0.0.1",
        "port": 1143,
        "security": "none",
        "username": "reader@ombudsman.example",
        "folder": "Replies",
        "auth": "oauth2",
        "mark": "seen",
    }
    # without the variables, the file's values, and [smtp]'s where the file has none
    mailbox = write_settings(tmp_path, text).mailbox
    assert (mailbox.host, mailbox.port, mailbox.folder, mailbox.username) == (
        "imap.file.example",
        994,
        "Bounces",
        "file@ombudsman.example",
    )


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        (
            '[mailbox]\npassword = "hunter2"\n',
            {},
            "letter-merge.toml: [mailbox] password must not be in the settings file; remove it "
            "and set LETTER_MERGE_MAILBOX_PASSWORD or store it in the system keyring.",
        ),
        (
            '[mailbox]\nsecurity = "ssl"\n',
            {},
            """letter-merge.toml: [mailbox] security = 'ssl': use one of "tls", "starttls", "none".""",
        ),
        (
            "",
            {"LETTER_MERGE_MAILBOX_AUTH": "basic"},
            """LETTER_MERGE_MAILBOX_AUTH = 'basic': use one of "password", "oauth2", "graph".""",
        ),
        (
            '[mailbox]\nmark = "deleted"\n',
            {},
            """letter-merge.toml: [mailbox] mark = 'deleted': use one of "", "seen".""",
        ),
        (
            '[mailbox]\nport = "imaps"\n',
            {},
            "letter-merge.toml: [mailbox] port = 'imaps' is not a whole number.",
        ),
        ("", {"LETTER_MERGE_MAILBOX_PORT": "0"}, "LETTER_MERGE_MAILBOX_PORT = 0 must be from 1"),
        (
            '[mailbox]\nhost = "imap.council.example"\nsecurity = "none"\n',
            {},
            'letter-merge.toml: [mailbox] security = "none" would send the password unencrypted, '
            "which is allowed only to this machine (127.0.0.1 or localhost), not to "
            "'imap.council.example'",
        ),
        (
            '[oauth2]\nprovider = "google"\nflow = "browser"\n[mailbox]\nauth = "graph"\n',
            {},
            'letter-merge.toml: [mailbox] auth = "graph" reads a Microsoft 365 mailbox, but '
            "[oauth2] provider is 'google'",
        ),
        (
            '[mailbox]\nfolder = " "\n',
            {},
            'letter-merge.toml: [mailbox] folder is empty: write it in quotes, e.g. "INBOX".',
        ),
    ],
)
def test_a_wrong_mailbox_setting_names_itself(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        write_settings(tmp_path, text, environ)
    assert str(caught.value).startswith(message)
    assert "hunter2" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_no_tls_is_allowed_to_this_machine(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "localhost"):
        text = f'[mailbox]\nhost = "{host}"\nsecurity = "none"\n'
        assert write_settings(tmp_path, text).mailbox.port == 143


def test_the_password_comes_from_the_environment_or_keyring_never_the_file(
    tmp_path: Path, test_keyring: PlaintextKeyring
) -> None:
    same = write_settings(tmp_path, f'[smtp]\nusername = "{USER}"\n')
    other = write_settings(
        tmp_path,
        f'[smtp]\nusername = "{USER}"\n[mailbox]\nusername = "bounces@ombudsman.example"\n',
    )
    assert mailbox_password(same, {"LETTER_MERGE_MAILBOX_PASSWORD": "from-env"}) == "from-env"
    # the sending mailbox itself: SMTP's password serves
    assert mailbox_password(same, {"LETTER_MERGE_SMTP_PASSWORD": "smtp-pass"}) == "smtp-pass"
    assert mailbox_password(other, {"LETTER_MERGE_SMTP_PASSWORD": "smtp-pass"}) is None
    test_keyring.set_password("letter-merge", "bounces@ombudsman.example", "kept-in-keyring")
    assert mailbox_password(other, {}) == "kept-in-keyring"
    assert mailbox_password(other, {"LETTER_MERGE_MAILBOX_PASSWORD": "env-first"}) == "env-first"


# IMAP, with a real Dovecot


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def imap_settings(
    folder: Path, server: Dovecot, *, security: str = "tls", extra: str = ""
) -> Settings:
    port = server.tls_port if security == "tls" else server.starttls_port
    return write_settings(
        folder,
        f'[smtp]\nhost = "127.0.0.1"\nusername = "{USER}"\n'
        f'[mailbox]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\n{extra}',
    )


def trusted(server: Dovecot, **more: str) -> dict[str, str]:
    """The reader's environment: the test authority trusted, and the password."""
    return {
        "SSL_CERT_FILE": str(server.ca_file),
        "LETTER_MERGE_MAILBOX_PASSWORD": PASSWORD,
        **more,
    }


@needs_dovecot
@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_reads_every_message_whole_over_tls(
    tmp_path: Path, dovecot: Dovecot, security: str
) -> None:
    for number in (1, 2, 3):
        dovecot.deliver(letter(number), seen=number == 2)
    settings = imap_settings(tmp_path, dovecot, security=security)

    fetched = read_mailbox(settings, environ=trusted(dovecot))

    assert [f.raw for f in fetched] == [letter(1), letter(2), letter(3)]
    keys = [f.key.split(":") for f in fetched]
    assert [k[:2] for k in keys] == [["imap", "INBOX"]] * 3
    assert len({k[2] for k in keys}) == 1 and keys[0][2].isdigit()  # UIDVALIDITY
    assert [k[3] for k in keys] == ["1", "2", "3"]  # UIDs
    parsed = email.message_from_bytes(fetched[0].raw, policy=email.policy.default)
    assert parsed["Subject"] == "Undeliverable: Annual Review letter 1"
    # read again: the same keys, nothing new
    assert read_mailbox(settings, environ=trusted(dovecot)) == fetched


@needs_dovecot
def test_reading_changes_nothing_in_the_mailbox(
    tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EXAMINE, UID SEARCH and UID FETCH (BODY.PEEK[]) only: unread stays unread."""
    for number in range(1, 6):
        dovecot.deliver(letter(number), seen=number in (2, 4))
    before = dovecot.state()
    sent: list[str] = []
    command = imaplib.IMAP4._command  # type: ignore[attr-defined]  # where every command goes

    def spy(imap: imaplib.IMAP4, name: str, *args: Any) -> Any:
        sent.append(f"{name} {args[0]}" if name == "UID" else name)
        return command(imap, name, *args)

    monkeypatch.setattr(imaplib.IMAP4, "_command", spy)
    monkeypatch.setattr(imap_reader, "FETCH_CHUNK", 2)  # three FETCHes for five messages

    fetched = read_mailbox(imap_settings(tmp_path, dovecot), environ=trusted(dovecot))

    assert len(fetched) == 5
    assert dovecot.state() == before
    assert sorted(before.values()) == ["", "", "", "S", "S"]
    assert sent == [
        "CAPABILITY",
        "LOGIN",
        "EXAMINE",
        "UID SEARCH",
        "UID FETCH",
        "UID FETCH",
        "UID FETCH",
        "LOGOUT",
    ]


@needs_dovecot
def test_the_flags_check_sees_a_message_being_read(tmp_path: Path, dovecot: Dovecot) -> None:
    """The check above can fail: a client that SELECTs and FETCHes BODY[] marks \\Seen."""
    unique = dovecot.deliver(letter(1))
    context = ssl.create_default_context(cafile=str(dovecot.ca_file))
    with imaplib.IMAP4_SSL("127.0.0.1", dovecot.tls_port, ssl_context=context) as client:
        client.login(USER, PASSWORD)
        client.select("INBOX")
        client.uid("FETCH", "1", "(BODY[])")
    assert dovecot.state() == {unique: "S"}


@needs_dovecot
def test_since_reads_what_arrived_on_or_after_the_day(tmp_path: Path, dovecot: Dovecot) -> None:
    for number, day in ((1, 3), (2, 10), (3, 20)):
        dovecot.deliver(letter(number), received=dt.datetime(2021, 6, day, 12, tzinfo=dt.UTC))
    settings = imap_settings(tmp_path, dovecot)

    newer = read_mailbox(settings, since=dt.date(2021, 6, 10), environ=trusted(dovecot))
    assert [f.raw for f in newer] == [letter(2), letter(3)]
    every = read_mailbox(settings, since=dt.date(2021, 1, 1), environ=trusted(dovecot))
    assert len(every) == 3


@needs_dovecot
def test_another_folder_with_a_name_beyond_ascii(tmp_path: Path, dovecot: Dovecot) -> None:
    # On disk, as IMAP writes the name (RFC 3501's modified UTF-7).
    dovecot.deliver(letter(7), folder="R&APw-ckl&AOQ-ufer")
    dovecot.deliver(letter(8))  # in INBOX: not read
    settings = imap_settings(tmp_path, dovecot, extra='folder = "Rückläufer"\n')

    fetched = read_mailbox(settings, environ=trusted(dovecot))

    assert [f.raw for f in fetched] == [letter(7)]
    assert fetched[0].key.startswith("imap:Rückläufer:")


@needs_dovecot
def test_a_missing_folder_is_named_with_those_there(tmp_path: Path, dovecot: Dovecot) -> None:
    dovecot.deliver(letter(1), folder="Bounces")
    settings = imap_settings(tmp_path, dovecot, extra='folder = "Bouncse"\n')
    with pytest.raises(MailboxError) as caught:
        read_mailbox(settings, environ=trusted(dovecot))
    message = str(caught.value)
    assert message.startswith(
        f"There is no folder 'Bouncse' in the mailbox {USER} at 127.0.0.1:{dovecot.tls_port}"
    )
    assert "Check [mailbox] folder; the folders there: " in message
    assert "Bounces" in message and "INBOX" in message


@needs_dovecot
def test_a_wrong_password_says_what_to_check_and_not_the_password(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    settings = imap_settings(tmp_path, dovecot, security="starttls")
    wrong = "Wrong-pa55-word"
    with pytest.raises(MailboxError) as caught:
        read_mailbox(settings, environ=trusted(dovecot, LETTER_MERGE_MAILBOX_PASSWORD=wrong))
    message = str(caught.value)
    assert message == (
        f"The IMAP server 127.0.0.1:{dovecot.starttls_port} refused the login for {USER!r} "
        "([AUTHENTICATIONFAILED] Authentication failed.). Check [mailbox] username and the "
        "password in LETTER_MERGE_MAILBOX_PASSWORD or the keyring."
    )
    assert wrong not in message and PASSWORD not in message


def test_a_server_that_is_not_there_is_named(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    settings = write_settings(
        tmp_path, f'[mailbox]\nhost = "127.0.0.1"\nport = {port}\nusername = "{USER}"\n'
    )
    with pytest.raises(MailboxError) as caught:
        read_mailbox(settings, environ={"LETTER_MERGE_MAILBOX_PASSWORD": PASSWORD})
    assert str(caught.value) == (
        f"Cannot connect to the IMAP server 127.0.0.1:{port} ([Errno 111] Connection refused). "
        "Check [mailbox] host and port, and that this computer may reach it."
    )


def test_no_password_is_asked_for_by_name_before_connecting(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: connecting would be refused
    settings = write_settings(
        tmp_path, f'[mailbox]\nhost = "127.0.0.1"\nport = {port}\nusername = "{USER}"\n'
    )
    with pytest.raises(InputError) as caught:
        read_mailbox(settings, environ={})
    assert str(caught.value) == (
        f"There is no password to read the mailbox {USER}: set LETTER_MERGE_MAILBOX_PASSWORD, "
        f"or store it in the system keyring (keyring set letter-merge {USER})."
    )


@needs_dovecot
def test_the_keyring_s_password_reads_the_mailbox(
    tmp_path: Path, dovecot: Dovecot, test_keyring: PlaintextKeyring
) -> None:
    dovecot.deliver(letter(1))
    test_keyring.set_password("letter-merge", USER, PASSWORD)
    settings = imap_settings(tmp_path, dovecot)
    fetched = read_mailbox(settings, environ={"SSL_CERT_FILE": str(dovecot.ca_file)})
    assert [f.raw for f in fetched] == [letter(1)]


@needs_dovecot
def test_a_password_beyond_ascii_signs_in(tmp_path: Path, dovecot: Dovecot) -> None:
    """IMAP's LOGIN carries ASCII only: such a password goes by AUTHENTICATE PLAIN (UTF-8)."""
    dovecot.deliver(letter(1))
    settings = imap_settings(tmp_path, dovecot, extra=f'username = "{OTHER_USER}"\n')
    environ = trusted(dovecot, LETTER_MERGE_MAILBOX_PASSWORD=OTHER_PASSWORD)
    assert [f.raw for f in read_mailbox(settings, environ=environ)] == [letter(1)]


@needs_dovecot
def test_an_untrusted_certificate_is_refused(tmp_path: Path, dovecot: Dovecot) -> None:
    """Without the test authority (the system's only), Dovecot's certificate is not trusted."""
    settings = imap_settings(tmp_path, dovecot)
    with pytest.raises(MailboxError) as caught:
        read_mailbox(settings, environ={"LETTER_MERGE_MAILBOX_PASSWORD": PASSWORD})
    assert str(caught.value).startswith(
        f"Cannot connect securely to the IMAP server 127.0.0.1:{dovecot.tls_port}: its "
        "certificate is not trusted ("
    )
    assert "Check [mailbox] host" in str(caught.value)


@needs_dovecot
def test_tls_on_the_starttls_port_says_which_port_goes_with_which(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    settings = write_settings(
        tmp_path,
        f'[mailbox]\nhost = "127.0.0.1"\nport = {dovecot.starttls_port}\nusername = "{USER}"\n',
    )
    with pytest.raises(MailboxError) as caught:
        read_mailbox(settings, environ=trusted(dovecot))
    message = str(caught.value)
    assert message.startswith(
        f"Cannot connect securely to the IMAP server 127.0.0.1:{dovecot.starttls_port} ("
    )
    assert "Check [mailbox] port and security." in message


# XOAUTH2, with the stand-ins for the sign-in and the identity provider


@dataclass
class StandInTokens:
    """TOKEN SOURCE STAND-IN: hands out `tokens` in turn, the next one each time it is asked to
    renew, as letter-merge login's stored sign-in would."""

    tokens: list[str]
    username: str = USER
    asked: list[bool] = field(default_factory=list)  # renew, each time asked
    purposes: list[str] = field(default_factory=list)

    def token(self, *, renew: bool = False) -> tuple[str, str]:
        self.asked.append(renew)
        index = min(sum(self.asked), len(self.tokens) - 1)
        return self.username, self.tokens[index]

    def sign_in(self, show: Any) -> SignedIn:
        raise AssertionError("reading never signs in")

    def status(self) -> SignedIn | None:
        return None

    def sign_out(self) -> bool:
        return False


@pytest.fixture
def stand_in_tokens(monkeypatch: pytest.MonkeyPatch) -> StandInTokens:
    tokens = StandInTokens(tokens=["access-token-1"])

    def token_source(settings: Settings, *, purpose: str = "send") -> StandInTokens:
        tokens.purposes.append(purpose)
        return tokens

    monkeypatch.setattr(imap_reader, "token_source", token_source)
    monkeypatch.setattr(graph_reader, "token_source", token_source)
    return tokens


@needs_dovecot
def test_oauth2_reads_the_mailbox_with_a_token(
    tmp_path: Path, dovecot: Dovecot, stand_in_tokens: StandInTokens
) -> None:
    dovecot.deliver(letter(1))
    dovecot.introspection.accepted.add("access-token-1")
    settings = imap_settings(tmp_path, dovecot, extra='auth = "oauth2"\n')

    fetched = read_mailbox(settings, environ={"SSL_CERT_FILE": str(dovecot.ca_file)})

    assert [f.raw for f in fetched] == [letter(1)]
    assert stand_in_tokens.purposes == ["imap"]  # IMAP's scope, not SMTP's
    assert dovecot.introspection.asked == ["access-token-1"]  # Dovecot checked it


@needs_dovecot
def test_oauth2_renews_a_refused_token_once(
    tmp_path: Path, dovecot: Dovecot, stand_in_tokens: StandInTokens
) -> None:
    dovecot.deliver(letter(1))
    stand_in_tokens.tokens = ["expired-token", "renewed-token"]
    dovecot.introspection.accepted.add("renewed-token")
    settings = imap_settings(tmp_path, dovecot, security="starttls", extra='auth = "oauth2"\n')

    fetched = read_mailbox(settings, environ={"SSL_CERT_FILE": str(dovecot.ca_file)})

    assert len(fetched) == 1
    assert stand_in_tokens.asked == [False, True]
    assert dovecot.introspection.asked == ["expired-token", "renewed-token"]


@needs_dovecot
def test_oauth2_a_wrong_token_says_sign_in_again(
    tmp_path: Path, dovecot: Dovecot, stand_in_tokens: StandInTokens
) -> None:
    stand_in_tokens.tokens = ["wrong-token-1", "wrong-token-2"]
    settings = imap_settings(tmp_path, dovecot, extra='auth = "oauth2"\n')
    with pytest.raises(MailboxError) as caught:
        read_mailbox(settings, environ={"SSL_CERT_FILE": str(dovecot.ca_file)})
    message = str(caught.value)
    assert message.startswith(
        f"The IMAP server 127.0.0.1:{dovecot.tls_port} refused the sign-in for {USER!r} ("
    )
    assert "Sign in again, and check that the mailbox may be read with IMAP" in message
    assert caught.value.next_step == Next.SIGN_IN
    assert "wrong-token" not in message
    assert dovecot.introspection.asked == ["wrong-token-1", "wrong-token-2"]


# Microsoft Graph, with its stand-in


@dataclass
class GraphMessage:
    id: str
    received: str  # receivedDateTime, as Graph writes it
    raw: bytes


@dataclass
class GraphStandIn:
    """GRAPH STAND-IN: the Microsoft Graph endpoints the reader calls, for one mailbox: a folder
    by display name, among the top-level folders or a folder's child folders, a folder's messages a page at a time (newest first, as Graph lists them,
    with @odata.nextLink), and a message's MIME. Only GET is answered."""

    port: int = 0
    accepted: set[str] = field(default_factory=lambda: {"graph-token-1"})
    folders: dict[str, str] = field(default_factory=lambda: {"Bounces": "AAMkAD-bounces=="})
    children: dict[str, dict[str, str]] = field(default_factory=dict)  # parent id -> its folders
    messages: dict[str, list[GraphMessage]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)
    refuse: int = 0  # answer everything with this status
    busy: int = 0  # answer this many requests with 429 first
    elsewhere: str = ""  # send the next page's address to this host instead

    @property
    def base(self) -> str:
        return f"https://localhost:{self.port}/v1.0"

    def answer(self, method: str, target: str, token: str) -> tuple[int, str, bytes]:
        address = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(address.query))
        # Each part of the path unquoted by itself: a message's id may have a / in it.
        parts = [urllib.parse.unquote(p) for p in address.path.removeprefix("/v1.0/").split("/")]
        path = "/".join(parts)
        self.requests.append((method, path, query, token))
        if method != "GET":
            return _graph_error(405, "ErrorInvalidRequest", "Only GET here.")
        if self.busy:
            self.busy -= 1
            return _graph_error(429, "ApplicationThrottled", "Too many requests.")
        if token not in self.accepted:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token has expired.")
        if self.refuse:
            return _graph_error(self.refuse, "ErrorAccessDenied", "Access is denied.")
        who, _, rest = path.partition("/mailFolders")
        if parts[-1] == "$value":
            wanted = parts[-2]
            for listed in self.messages.values():
                for message in listed:
                    if message.id == wanted:
                        return 200, "message/rfc822", message.raw
            return _graph_error(404, "ErrorItemNotFound", "Not found.")
        if rest == "" or rest.endswith("/childFolders"):
            folders = self.folders if rest == "" else self.children.get(parts[-2], {})
            name = query.get("$filter", "").removeprefix("displayName eq ").strip("'")
            found = [
                {"id": id_, "displayName": display}
                for display, id_ in folders.items()
                if not name or display == name.replace("''", "'")
            ]
            return _graph_json({"value": found})
        folder = rest.strip("/").removesuffix("/messages")
        if folder not in self.messages:
            return _graph_error(404, "ErrorItemNotFound", "The folder was not found.")
        listed = sorted(self.messages[folder], key=lambda m: m.received, reverse=True)
        since = query.get("$filter", "").removeprefix("receivedDateTime ge ")
        listed = [m for m in listed if m.received >= since]
        skip, top = int(query.get("$skip", "0")), int(query["$top"])
        page: dict[str, Any] = {
            "value": [{"id": m.id, "receivedDateTime": m.received} for m in listed][
                skip : skip + top
            ]
        }
        if skip + top < len(listed):
            more = {**query, "$skip": str(skip + top)}
            host = self.elsewhere or f"localhost:{self.port}"
            page["@odata.nextLink"] = (
                f"https://{host}/v1.0/{who}/mailFolders/{folder}/messages?"
                + urllib.parse.urlencode(more)
            )
        return _graph_json(page)


def _graph_json(payload: dict[str, Any]) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(payload).encode()


def _graph_error(status: int, code: str, message: str) -> tuple[int, str, bytes]:
    return (
        status,
        "application/json",
        json.dumps({"error": {"code": code, "message": message}}).encode(),
    )


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[tuple[GraphStandIn, dict[str, str]]]:
    """The stand-in on HTTPS, and the reader's environment pointing at it and trusting it."""
    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(context)
    ca_file = tmp_path / "graph-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    stand_in = GraphStandIn()

    class Handler(StandInHandler):
        def reply(self, method: str) -> None:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            status, kind, body = stand_in.answer(method, self.path, token)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(body)

    with serving_http(Handler, tls=context) as port:
        stand_in.port = port
        environ = {
            "LETTER_MERGE_GRAPH_URL": stand_in.base,
            "REQUESTS_CA_BUNDLE": str(ca_file),
        }
        yield stand_in, environ


def graph_settings(folder: Path, *, flow: str = "device-code", extra: str = "") -> Settings:
    return write_settings(
        folder,
        f'[smtp]\nhost = "smtp.office365.com"\nusername = "{USER}"\nauth = "oauth2"\n'
        f'[oauth2]\nclient_id = "app-id"\ntenant = "ombudsman.example"\nflow = "{flow}"\n'
        f'[mailbox]\nauth = "graph"\n{extra}',
    )


def inbox(stand_in: GraphStandIn, count: int) -> list[GraphMessage]:
    messages = [
        GraphMessage(f"AAMkAD/msg_{n}+x=", f"2021-06-{n:02d}T08:30:00Z", letter(n))
        for n in range(1, count + 1)
    ]
    stand_in.messages["inbox"] = messages
    return messages


def test_graph_reads_every_message_page_by_page(
    tmp_path: Path,
    graph: tuple[GraphStandIn, dict[str, str]],
    stand_in_tokens: StandInTokens,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand_in, environ = graph
    stand_in_tokens.tokens = ["graph-token-1"]
    messages = inbox(stand_in, 5)
    monkeypatch.setattr(graph_reader, "GRAPH_PAGE", 2)

    fetched = read_mailbox(graph_settings(tmp_path), environ=environ)

    assert fetched == [Fetched(f"graph:{m.id}", m.raw) for m in messages]  # oldest first
    assert stand_in_tokens.purposes == ["graph"]
    assert {method for method, *_ in stand_in.requests} == {"GET"}
    assert {token for *_, token in stand_in.requests} == {"graph-token-1"}
    listing = [(path, query) for _, path, query, _ in stand_in.requests if "$value" not in path]
    assert [path for path, _ in listing] == ["me/mailFolders/inbox/messages"] * 3  # 3 pages
    assert listing[0][1] == {"$select": "id,receivedDateTime", "$top": "2"}
    assert [path for _, path, _, _ in stand_in.requests if path.endswith("$value")] == [
        f"me/messages/{m.id}/$value" for m in messages
    ]


def test_graph_since_filters_by_received_date(
    tmp_path: Path, graph: tuple[GraphStandIn, dict[str, str]], stand_in_tokens: StandInTokens
) -> None:
    stand_in, environ = graph
    stand_in_tokens.tokens = ["graph-token-1"]
    messages = inbox(stand_in, 5)

    fetched = read_mailbox(graph_settings(tmp_path), since=dt.date(2021, 6, 4), environ=environ)

    assert [f.raw for f in fetched] == [m.raw for m in messages[3:]]
    assert stand_in.requests[0][2]["$filter"] == "receivedDateTime ge 2021-06-04T00:00:00Z"


def test_graph_finds_a_folder_by_name_and_an_app_names_the_mailbox(
    tmp_path: Path, graph: tuple[GraphStandIn, dict[str, str]], stand_in_tokens: StandInTokens
) -> None:
    stand_in, environ = graph
    stand_in_tokens.tokens = ["graph-token-1"]
    stand_in.messages["AAMkAD-bounces=="] = [GraphMessage("b1", "2021-06-01T00:00:00Z", b"x")]
    settings = graph_settings(tmp_path, flow="client-credentials", extra='folder = "Bounces"\n')

    assert read_mailbox(settings, environ=environ) == [Fetched("graph:b1", b"x")]
    paths = [path for _, path, _, _ in stand_in.requests]
    assert paths == [
        f"users/{USER}/mailFolders",
        f"users/{USER}/mailFolders/AAMkAD-bounces==/messages",
        f"users/{USER}/messages/b1/$value",
    ]
    assert stand_in.requests[0][2]["$filter"] == "displayName eq 'Bounces'"


@pytest.mark.parametrize(
    ("folder", "lookups"),
    [
        # A rule files reports under the inbox: the name alone finds it there.
        ("Bounces", ["mailFolders", "mailFolders/inbox/childFolders"]),
        ("Inbox/Bounces", ["mailFolders/inbox/childFolders"]),
        (
            "Archive/2020/Bounces",
            ["mailFolders/archive/childFolders", "mailFolders/AAMk-2020/childFolders"],
        ),
    ],
)
def test_graph_reads_a_sub_folder_by_its_name_or_path(
    tmp_path: Path,
    graph: tuple[GraphStandIn, dict[str, str]],
    stand_in_tokens: StandInTokens,
    folder: str,
    lookups: list[str],
) -> None:
    stand_in, environ = graph
    stand_in_tokens.tokens = ["graph-token-1"]
    stand_in.folders = {"Reports": "AAMk-reports"}
    stand_in.children = {
        "inbox": {"Bounces": "AAMk-inbox-bounces"},
        "archive": {"2020": "AAMk-2020"},
        "AAMk-2020": {"Bounces": "AAMk-2020-bounces"},
    }
    wanted = "AAMk-2020-bounces" if folder.startswith("Archive") else "AAMk-inbox-bounces"
    stand_in.messages[wanted] = [GraphMessage("b1", "2021-06-01T00:00:00Z", b"x")]
    settings = graph_settings(tmp_path, extra=f'folder = "{folder}"\n')

    assert read_mailbox(settings, environ=environ) == [Fetched("graph:b1", b"x")]
    paths = [path.removeprefix("me/") for _, path, _, _ in stand_in.requests]
    assert paths == [*lookups, f"mailFolders/{wanted}/messages", "messages/b1/$value"]
    assert all(method == "GET" for method, _, _, _ in stand_in.requests)


def test_graph_a_missing_folder_is_named_with_those_there(
    tmp_path: Path, graph: tuple[GraphStandIn, dict[str, str]], stand_in_tokens: StandInTokens
) -> None:
    _, environ = graph
    stand_in_tokens.tokens = ["graph-token-1"]
    with pytest.raises(MailboxError) as caught:
        read_mailbox(graph_settings(tmp_path, extra='folder = "Bouncse"\n'), environ=environ)
    assert str(caught.value).startswith(
        f"There is no folder 'Bouncse' in the mailbox of {USER} (Microsoft Graph). Check "
        "[mailbox] folder: a folder's name, a path such as Inbox/Bounces, or one of inbox, "
        "junkemail"
    )
    assert str(caught.value).endswith("the top-level folders there: Bounces.")


def test_graph_renews_a_refused_token_once_and_then_says_sign_in_again(
    tmp_path: Path, graph: tuple[GraphStandIn, dict[str, str]], stand_in_tokens: StandInTokens
) -> None:
    stand_in, environ = graph
    inbox(stand_in, 1)
    stand_in_tokens.tokens = ["stale-token", "graph-token-1"]
    assert len(read_mailbox(graph_settings(tmp_path), environ=environ)) == 1
    assert stand_in_tokens.asked == [False, True]

    stand_in_tokens.tokens = ["stale-token", "still-stale-token"]
    stand_in_tokens.asked.clear()
    with pytest.raises(MailboxError) as caught:
        read_mailbox(graph_settings(tmp_path), environ=environ)
    assert str(caught.value) == (
        f"Microsoft Graph refused the sign-in for {USER} (401 InvalidAuthenticationToken: Access "
        "token has expired.). Sign in again."
    )
    assert "stale" not in str(caught.value)


def test_graph_without_permission_says_mail_read(
    tmp_path: Path, graph: tuple[GraphStandIn, dict[str, str]], stand_in_tokens: StandInTokens
) -> None:
    stand_in, environ = graph
    stand_in_tokens.tokens = ["graph-token-1"]
    stand_in.refuse = 403
    with pytest.raises(MailboxError) as caught:
        read_mailbox(graph_settings(tmp_path), environ=environ)
    assert str(caught.value) == (
        f"Microsoft Graph may not read the mailbox of {USER} (403 ErrorAccessDenied: Access is "
        "denied.): the app needs the permission Mail.Read, which an administrator grants in "
        "Entra ID (the manual, For IT: Microsoft 365 with OAuth 2.0)."
    )


def test_graph_waits_when_asked_to_slow_down(
    tmp_path: Path, graph: tuple[GraphStandIn, dict[str, str]], stand_in_tokens: StandInTokens
) -> None:
    stand_in, environ = graph
    stand_in_tokens.tokens = ["graph-token-1"]
    inbox(stand_in, 1)
    stand_in.busy = 2
    assert len(read_mailbox(graph_settings(tmp_path), environ=environ)) == 1
    assert len(stand_in.requests) == 4  # two 429s, the list, the message


def test_graph_sends_the_token_nowhere_else(
    tmp_path: Path,
    graph: tuple[GraphStandIn, dict[str, str]],
    stand_in_tokens: StandInTokens,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand_in, environ = graph
    stand_in_tokens.tokens = ["graph-token-1"]
    inbox(stand_in, 3)
    stand_in.elsewhere = "graph.attacker.example"
    monkeypatch.setattr(graph_reader, "GRAPH_PAGE", 2)
    with pytest.raises(MailboxError) as caught:
        read_mailbox(graph_settings(tmp_path), environ=environ)
    assert str(caught.value) == (
        f"Microsoft Graph sent the next page of {USER}'s messages elsewhere "
        "(graph.attacker.example); nothing more was read."
    )
    assert len(stand_in.requests) == 1


def test_graph_address_must_be_https(tmp_path: Path) -> None:
    environ = {"LETTER_MERGE_GRAPH_URL": "http://graph.example/v1.0"}
    with pytest.raises(InputError, match="LETTER_MERGE_GRAPH_URL = 'http://graph"):
        read_mailbox(graph_settings(tmp_path), environ=environ)
    earlier = {"LETTER_MERGE_MAILBOX_GRAPH_URL": "http://graph.example/v1.0"}
    with pytest.raises(InputError, match="LETTER_MERGE_MAILBOX_GRAPH_URL = 'http://graph"):
        read_mailbox(graph_settings(tmp_path), environ=earlier)


def test_graph_address_under_its_earlier_name_still_works_and_is_said_to_be_deprecated(
    tmp_path: Path,
    graph: tuple[GraphStandIn, dict[str, str]],
    stand_in_tokens: StandInTokens,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand_in, environ = graph
    stand_in_tokens.tokens = ["graph-token-1"]
    inbox(stand_in, 2)
    monkeypatch.setattr("letter_merge.environment._said", set())
    earlier = {**environ, "LETTER_MERGE_MAILBOX_GRAPH_URL": environ["LETTER_MERGE_GRAPH_URL"]}
    del earlier["LETTER_MERGE_GRAPH_URL"]
    with caplog.at_level("WARNING", logger="letter_merge.environment"):
        assert len(read_mailbox(graph_settings(tmp_path), environ=earlier)) == 2
        assert len(read_mailbox(graph_settings(tmp_path), environ=earlier)) == 2
    said = [r.getMessage() for r in caplog.records if r.name == "letter_merge.environment"]
    assert said == [  # once a run, naming the name to use
        "LETTER_MERGE_MAILBOX_GRAPH_URL is deprecated: it is read as LETTER_MERGE_GRAPH_URL, "
        "the one name for it now; rename it, as a later version will not read "
        "LETTER_MERGE_MAILBOX_GRAPH_URL."
    ]
