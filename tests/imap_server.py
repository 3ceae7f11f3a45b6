"""A real Dovecot IMAP server for the tests, on 127.0.0.1 and free ports: its configuration,
state, log and mail in a temporary folder of its own; a user with a password (and a second whose password is not ASCII); TLS with a
certificate from a test authority (trustme), on one port from the start (implicit TLS) and on
another after STARTTLS; and OAuth 2.0 sign-in (XOAUTH2), each token checked by Dovecot's oauth2
passdb against INTROSPECTION STAND-IN: a small HTTP server here that answers, as an identity
provider's introspection endpoint would (RFC 7662), for the tokens the test accepts.

Started as root, Dovecot runs as Dovecot does when installed: it refuses to run its login
processes or reach mail as root, so those run as `nobody`, who owns the temporary folder.
Started as anyone else, every Dovecot process runs as that user (Dovecot's rootless set-up:
default_internal_user and default_login_user are that user, and no service is chrooted).
The program is started and stopped through letter_merge.process, as the package starts programs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import imaplib
import json
import os
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from letter_merge.process import ask_to_end, end_program, start_program
from tests.helpers import free_port, serving_http

USER = "review@ombudsman.example"
PASSWORD = 'Imap pa55 "quoted" \\ back'  # quotes and a backslash: the login must escape them
# A second user of the same mail, whose password IMAP's LOGIN cannot carry (it is not ASCII).
OTHER_USER = "bounces@ombudsman.example"
OTHER_PASSWORD = "Grüße-aus-Derby-7"
START_SECONDS = 15
# Where Dovecot's programs are, by system (Debian and Ubuntu first).
DOVECOT_PROGRAMS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
IMAP_PROGRAMS = (
    "/usr/lib/dovecot/imap",
    "/usr/libexec/dovecot/imap",
    "/usr/local/libexec/dovecot/imap",
)
NOT_INSTALLED = (
    "Dovecot's IMAP server is not installed (Debian: apt-get install dovecot-imapd; "
    "make test installs it)"
)


@dataclass
class IntrospectionStandIn:
    """INTROSPECTION STAND-IN: the identity provider's token introspection endpoint, which
    Dovecot asks about each token (GET with the token as bearer). A token in `accepted` is
    active and belongs to USER; any other is not active."""

    port: int = 0
    accepted: set[str] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)  # the tokens Dovecot asked about, in turn

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/introspect"


@contextlib.contextmanager
def introspection_stand_in() -> Iterator[IntrospectionStandIn]:
    stand_in = IntrospectionStandIn()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            stand_in.asked.append(token)
            if self.path == "/introspect" and token in stand_in.accepted:
                answer: dict[str, object] = {"active": True, "email": USER}
            else:
                answer = {"active": False}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving_http(Handler) as port:
        stand_in.port = port
        yield stand_in


@dataclass
class Dovecot:
    root: Path  # its configuration, state, log and mail
    tls_port: int  # implicit TLS (as 993)
    starttls_port: int  # STARTTLS (as 143)
    ca_file: Path  # the authority that signed its certificate
    introspection: IntrospectionStandIn
    owner: tuple[int, int]  # who the mail belongs to (uid, gid)
    user: str = USER
    password: str = PASSWORD
    delivered: int = 0

    def folder_path(self, folder: str = "INBOX") -> Path:
        """The folder's Maildir (Maildir++: a folder is '.Name', the name as IMAP writes it)."""
        maildir = self.root / "Maildir"
        return maildir if folder == "INBOX" else maildir / f".{folder}"

    def deliver(
        self,
        raw: bytes,
        *,
        folder: str = "INBOX",
        seen: bool = False,
        received: dt.datetime | None = None,
    ) -> str:
        """Put a message in a folder, as a mail server delivers it (a file in Maildir; its time
        is the message's received date); its file's unique name."""
        path = self.folder_path(folder)
        for part in ("tmp", "new", "cur"):
            (path / part).mkdir(parents=True, exist_ok=True)
            self._own(path / part)
        self._own(path)
        self.delivered += 1
        unique = f"{1_700_000_000 + self.delivered}.M{self.delivered}P{os.getpid()}.test"
        staged = path / "tmp" / unique
        staged.write_bytes(raw)
        when = (received or dt.datetime.now(dt.UTC)).timestamp()
        os.utime(staged, (when, when))
        self._own(staged)
        staged.rename(path / "cur" / f"{unique}:2,{'S' if seen else ''}")
        return unique

    def state(self, folder: str = "INBOX") -> dict[str, str]:
        """Each message's unique name -> its flags, as they are on disk (S: \\Seen)."""
        found = {}
        for part in ("new", "cur"):
            for message in (self.folder_path(folder) / part).iterdir():
                unique, _, flags = message.name.partition(":2,")
                found[unique] = flags
        return found

    def use_as_mailbox(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make it the working folder's sending mailbox: [mailbox] in its letter-merge.toml
        (implicit TLS), the password in the environment, its authority trusted."""
        with (folder / "letter-merge.toml").open("a", encoding="utf-8") as settings:
            settings.write(
                f'[mailbox]\nhost = "127.0.0.1"\nport = {self.tls_port}\n'
                f'security = "tls"\nusername = "{self.user}"\n'
            )
        monkeypatch.setenv("SSL_CERT_FILE", str(self.ca_file))
        monkeypatch.setenv("LETTER_MERGE_MAILBOX_PASSWORD", self.password)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _own(self, path: Path) -> None:
        if sys.platform != "win32":
            if os.geteuid() == 0:
                os.chown(path, *self.owner)


def find_dovecot() -> str:
    """Dovecot's program; the test is skipped, saying why, where it or its IMAP server is
    missing."""
    program = shutil.which("dovecot") or next(
        (p for p in DOVECOT_PROGRAMS if os.access(p, os.X_OK)), None
    )
    if program is None or not any(os.access(p, os.X_OK) for p in IMAP_PROGRAMS):
        pytest.skip(NOT_INSTALLED)
    return program


@contextlib.contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    program = find_dovecot()
    # Not pytest's tmp_path: under root that is closed to `nobody`, and Dovecot's sockets need a
    # short path (at most 107 bytes).
    root = Path(tempfile.mkdtemp(prefix="letter-merge-dovecot-"))
    try:
        with introspection_stand_in() as introspection:
            server = _configure(root, introspection)
            process = start_program([program, "-F", "-c", root / "dovecot.conf"])
            try:
                _wait_until_listening(server, process.poll)
                yield server
            finally:
                # A session's imap process ends just after its client has gone; stopped in
                # that moment, Dovecot takes up to seconds to end instead of a few ms.
                time.sleep(0.1)
                ask_to_end(process)
                end_program(process, grace=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _configure(root: Path, introspection: IntrospectionStandIn) -> Dovecot:
    if sys.platform == "win32":
        pytest.skip("Dovecot does not run on Windows")
    import grp
    import pwd

    # Under root: `nobody` (see the module); otherwise whoever runs the tests.
    account = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.getuid())
    group = grp.getgrgid(account.pw_gid).gr_name
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    certificate.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    certificate.private_key_pem.write_to_path(str(root / "key.pem"))
    authority.cert_pem.write_to_path(str(root / "ca.pem"))
    server = Dovecot(
        root=root,
        tls_port=free_port(),
        starttls_port=free_port(),
        ca_file=root / "ca.pem",
        introspection=introspection,
        owner=(account.pw_uid, account.pw_gid),
    )
    (root / "users").write_text(
        f"{USER}:{{PLAIN}}{PASSWORD}::::::\n{OTHER_USER}:{{PLAIN}}{OTHER_PASSWORD}::::::\n",
        encoding="utf-8",
    )
    (root / "oauth2.conf.ext").write_text(
        "introspection_mode = auth\n"
        f"introspection_url = {introspection.url}\n"
        "force_introspection = yes\n"
        "username_attribute = email\n"
        "active_attribute = active\n"
        "active_value = true\n"
        "timeout_msecs = 5000\n",
        encoding="utf-8",
    )
    (root / "dovecot.conf").write_text(
        f"""# A Dovecot for one test; nothing outside {root} is read or written.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {account.pw_name}
default_internal_group = {group}
default_login_user = {account.pw_name}
first_valid_uid = {account.pw_uid}
first_valid_gid = {account.pw_gid}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
auth_mechanisms = plain login xoauth2 oauthbearer
# A refused sign-in is answered at once (Dovecot still checks only twice a second).
auth_failure_delay = 0
mail_location = maildir:{root}/Maildir
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {root}/users
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = uid={account.pw_uid} gid={account.pw_gid} home={root}/home
}}
service anvil {{
  chroot =
  # Without it, each refused sign-in from 127.0.0.1 would slow the next by seconds.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth-worker {{
  user = $default_internal_user
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {server.starttls_port}
  }}
  inet_listener imaps {{
    port = {server.tls_port}
    ssl = yes
  }}
}}
""",
        encoding="utf-8",
    )
    for folder in ("run", "state", "home", "Maildir/cur", "Maildir/new", "Maildir/tmp"):
        (root / folder).mkdir(parents=True)
    if os.geteuid() == 0:
        for path in [root, *root.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)
    return server


def _wait_until_listening(server: Dovecot, ended: Callable[[], int | None]) -> None:
    """Until Dovecot greets on both ports, the TLS one with its certificate. Each probe says
    LOGOUT: a connection dropped unannounced keeps a login process, and Dovecot's shutdown,
    waiting for seconds."""
    context = ssl.create_default_context(cafile=str(server.ca_file))
    deadline = time.monotonic() + START_SECONDS
    probes: list[Callable[[], imaplib.IMAP4]] = [
        lambda: imaplib.IMAP4_SSL("127.0.0.1", server.tls_port, ssl_context=context, timeout=5),
        lambda: imaplib.IMAP4("127.0.0.1", server.starttls_port, timeout=5),
    ]
    while probes:
        if ended() is not None:
            pytest.fail(f"Dovecot did not start; its log:\n{server.log()}")
        try:
            with probes[0]():
                probes.pop(0)
        except (OSError, imaplib.IMAP4.error):
            if time.monotonic() > deadline:
                pytest.fail(f"Dovecot did not listen within {START_SECONDS} s:\n{server.log()}")
            time.sleep(0.05)
