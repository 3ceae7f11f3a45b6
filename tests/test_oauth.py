"""Sending with OAuth 2.0 (SMTP AUTH XOAUTH2), everything real that can run here:

- a real aiosmtpd server on 127.0.0.1 with STARTTLS (trustme certificates) that offers only
  AUTH XOAUTH2 and checks the user and the token;
- the real MSAL library, its authority pointed at IDENTITY STAND-IN: a local HTTPS server that
  serves exactly the endpoints MSAL calls (discovery, device code, token, refresh). Microsoft's
  identity platform cannot run here; this stands in for it and is named so;
- a real keyring backend (keyrings.alt's file backend) kept in the test's temporary folder: the
  TEST KEYRING, standing in for Windows Credential Manager, the macOS Keychain or Secret Service.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keyring
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner
from keyrings.alt.file import PlaintextKeyring

from letter_merge.cli import cli
from tests.helpers import (
    Recorder,
    StandInHandler,
    approve_and_queue,
    free_port,
    ledger_states,
    run,
    start_http,
)

TENANT = "a1b2c3d4-0000-4000-8000-0000000000aa"  # a directory (tenant) id
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
MAILBOX = "annual.review@ombudsman.example"
SECRET = "app-secret-do-not-leak-7c1f"
GOOGLE_CLIENT_ID = "1234-letter-merge.apps.googleusercontent.com"
GMAIL_SCOPE = "https://mail.google.com/"


@dataclass
class IdentityStandIn:
    """IDENTITY STAND-IN: the endpoints of Microsoft's identity platform that MSAL calls."""

    port: int
    issued: dict[str, float] = field(default_factory=dict)  # access token -> when it expires
    refresh_tokens: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)  # grant types, as asked for
    pending_polls: int = 1  # "authorization_pending" answers before the user has signed in
    refuse: str = ""  # an error to answer every token request with
    counter: int = 0

    @property
    def authority(self) -> str:
        return f"https://localhost:{self.port}/{TENANT}"

    def access_token(self) -> str:
        self.counter += 1
        token = f"at-{self.counter}-{base64.b32encode(bytes([self.counter] * 10)).decode()}"
        self.issued[token] = time.time() + 3600
        return token

    def expire_all(self) -> None:
        """As if every access token had run out (the server, not the client, decides)."""
        for token in self.issued:
            self.issued[token] = 0

    def valid(self, token: str) -> bool:
        return self.issued.get(token, 0) > time.time()

    def tokens(self, scope: str) -> dict[str, Any]:
        refresh = f"rt-{self.counter + 1}"
        self.refresh_tokens.add(refresh)
        claims = {
            "iss": f"{self.authority}/v2.0",
            "aud": CLIENT_ID,
            "sub": "subject-1",
            "oid": "object-1",
            "tid": TENANT,
            "preferred_username": MAILBOX,
            "name": "Annual Review",
            "iat": int(time.time()),
            "nbf": int(time.time()),
            "exp": int(time.time()) + 3600,
        }
        id_token = (
            ".".join(
                base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                for part in ({"alg": "none", "typ": "JWT"}, claims)
            )
            + "."
        )
        client_info = (
            base64.urlsafe_b64encode(json.dumps({"uid": "object-1", "utid": TENANT}).encode())
            .decode()
            .rstrip("=")
        )
        return {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": 3600,
            "access_token": self.access_token(),
            "refresh_token": refresh,
            "id_token": id_token,
            "client_info": client_info,
        }

    def answer(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path.startswith("/google/"):
            return self.answer_google(method, path, form)
        base = f"/{TENANT}"
        if method == "GET" and path == f"{base}/v2.0/.well-known/openid-configuration":
            return 200, {
                "issuer": f"{self.authority}/v2.0",
                "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.authority}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{self.authority}/oauth2/v2.0/devicecode",
            }
        if method == "POST" and path == f"{base}/oauth2/v2.0/devicecode":
            return 200, {
                "device_code": "device-1",
                "user_code": "ABCD-EFGH",
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": "To sign in, use a web browser to open the page "
                "https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate.",
            }
        if method == "POST" and path == f"{base}/oauth2/v2.0/token":
            grant = form.get("grant_type", "")
            self.requests.append(grant)
            if self.refuse:
                return 400, {
                    "error": "invalid_grant"
                    if self.refuse.startswith("AADSTS65001")
                    else "invalid_client",
                    "error_description": f"{self.refuse}: refused by the stand-in.",
                }
            if form.get("client_id") != CLIENT_ID:
                return 400, {"error": "unauthorized_client", "error_description": "AADSTS700016"}
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                if self.pending_polls > 0:
                    self.pending_polls -= 1
                    return 400, {"error": "authorization_pending"}
                return 200, self.tokens(form.get("scope", ""))
            if grant == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
                return 200, self.tokens(form.get("scope", ""))
            if grant == "client_credentials" and form.get("client_secret") == SECRET:
                return 200, {
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "access_token": self.access_token(),
                }
            return 400, {"error": "invalid_grant", "error_description": "AADSTS70000: no."}
        return 404, {"error": "not_found"}

    # Google: the browser sign-in's authorisation page (it signs the person in at once and sends
    # the browser back with a code), and the token endpoint.

    def answer_google(
        self, method: str, path: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if method == "GET" and path == "/google/auth":
            if form.get("client_id") != GOOGLE_CLIENT_ID or form.get("scope") != GMAIL_SCOPE:
                return 400, {"error": "invalid_request"}
            query = urllib.parse.urlencode({"code": "google-code-1", "state": form["state"]})
            return 302, {"Location": f"{form['redirect_uri']}?{query}"}
        if method == "POST" and path == "/google/token":
            grant = form.get("grant_type", "")
            self.requests.append(grant)
            if self.refuse:
                return 400, {"error": self.refuse, "error_description": "refused by the stand-in"}
            if grant == "authorization_code" and form.get("code") == "google-code-1":
                if form.get("client_secret") != SECRET:
                    return 401, {"error": "invalid_client"}
                return 200, self.google_tokens()
            if grant == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
                return 200, self.google_tokens()
            if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                claims = json.loads(
                    base64.urlsafe_b64decode(form["assertion"].split(".")[1] + "==")
                )
                if claims.get("sub") != MAILBOX or claims.get("scope") != GMAIL_SCOPE:
                    return 401, {"error": "unauthorized_client"}
                return 200, {"access_token": self.access_token(), "expires_in": 3600}
            return 400, {"error": "invalid_grant"}
        return 404, {"error": "not_found"}

    def google_tokens(self) -> dict[str, Any]:
        refresh = f"grt-{self.counter + 1}"
        self.refresh_tokens.add(refresh)
        return {
            "access_token": self.access_token(),
            "expires_in": 3600,
            "refresh_token": refresh,
            "scope": GMAIL_SCOPE,
            "token_type": "Bearer",
        }


def serve_identity(stand_in: IdentityStandIn, context: ssl.SSLContext) -> http.server.HTTPServer:
    class Handler(StandInHandler):
        def reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            address = urllib.parse.urlsplit(self.path)
            form = dict(urllib.parse.parse_qsl(body or address.query))
            basic = self.headers.get("Authorization", "")
            if basic.startswith("Basic "):  # the client's id and secret, as HTTP Basic auth
                user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
                form.setdefault("client_id", urllib.parse.unquote(user))
                form.setdefault("client_secret", urllib.parse.unquote(password))
            status, payload = stand_in.answer(method, address.path, form)
            if status == 302:
                self.send_response(302)
                self.send_header("Location", payload["Location"])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return start_http(Handler, tls=context, port=stand_in.port)


class XOAuth2Recorder(Recorder):
    """The SMTP handler: only AUTH XOAUTH2, with tokens the stand-in issued and still honours;
    drops the connection after `drop_after` messages, expiring every token as it does."""

    def __init__(self, stand_in: IdentityStandIn) -> None:
        super().__init__()
        self.stand_in = stand_in
        self.logins: list[tuple[str, bool]] = []  # (user, accepted)
        self.tokens: list[str] = []  # the token each sign-in presented
        self.dropped_at: set[int] = set()
        self.drop_after = 0

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        blob = base64.b64decode(args[1]) if len(args) > 1 else await server.challenge_auth("")
        fields = dict(
            part.split("=", 1) for part in bytes(blob).decode().split("\x01") if "=" in part
        )
        user = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        accepted = user == MAILBOX and self.stand_in.valid(token)
        self.logins.append((user, accepted))
        self.tokens.append(token)
        if accepted:
            return AuthResult(success=True, auth_data=user)
        # XOAUTH2's error: a JSON challenge, answered by the client with an empty line
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
        return AuthResult(
            success=False, handled=False, message="535 5.7.3 Authentication unsuccessful"
        )

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        count = len(self.received)
        if (
            self.drop_after
            and count
            and count % self.drop_after == 0
            and count not in self.dropped_at
        ):
            # Every token runs out, and the server closes the connection (as Exchange does
            # when it times a session out): the client must sign in again.
            self.dropped_at.add(count)
            self.stand_in.expire_all()
            server.loop.call_soon(server.transport.close)
            return "421 4.4.2 Connection dropped"
        envelope.mail_from = address
        return "250 OK"


@pytest.fixture
def test_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    """TEST KEYRING: a real keyring backend in the test's temporary folder."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "test-keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def oauth(
    work: Path, monkeypatch: pytest.MonkeyPatch, test_keyring: PlaintextKeyring
) -> Iterator[tuple[IdentityStandIn, XOAuth2Recorder]]:
    """The working folder set to send with OAuth 2.0, to the stand-in and an XOAUTH2 server."""
    authority = trustme.CA()
    certificate = authority.issue_cert("localhost", "127.0.0.1")
    web = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(web)
    mail = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(mail)
    ca_file = work.parent / "test-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # SMTP's TLS
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))  # the library's HTTPS
    stand_in = IdentityStandIn(free_port())
    web_server = serve_identity(stand_in, web)
    recorder = XOAuth2Recorder(stand_in)
    port = free_port()
    controller = Controller(
        recorder,
        hostname="localhost",
        port=port,
        tls_context=mail,
        require_starttls=True,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    controller.start()
    text = (work / "letter-merge.toml").read_text(encoding="utf-8")
    text = re.sub(
        r'host = "127.0.0.1"\nport = \d+\nsecurity = "none"',
        f'host = "localhost"\nport = {port}\nsecurity = "starttls"\nauth = "oauth2"',
        text,
    )
    text += (
        f'\n[oauth2]\nprovider = "microsoft"\nflow = "device-code"\nclient_id = "{CLIENT_ID}"\n'
        f'tenant = "{TENANT}"\nauthority = "{stand_in.authority}"\n'
    )
    (work / "letter-merge.toml").write_text(text, encoding="utf-8")
    yield stand_in, recorder
    controller.stop()
    web_server.shutdown()
    web_server.server_close()


def secrets_nowhere(work: Path, stand_in: IdentityStandIn, *outputs: str) -> None:
    """No token or secret in the ledger, any .eml, the output folder, or any message."""
    secrets = [*stand_in.issued, *stand_in.refresh_tokens, SECRET]
    for path in (work / "output").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path
    for output in outputs:
        assert not any(s in output for s in secrets)


def test_sign_in_once_then_send_the_batch(
    work: Path, oauth: tuple[IdentityStandIn, XOAuth2Recorder], test_keyring: PlaintextKeyring
) -> None:
    stand_in, recorder = oauth
    result = run("login")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and "
        "enter the code ABCD-EFGH to authenticate.",
        f"Signed in as {MAILBOX}. letter-merge send will use this sign-in.",
    ]
    status = run("login", "--status")
    assert status.output.startswith(f"Signed in for sending as {MAILBOX}; the current access")

    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    assert len(recorder.received) == 4
    assert recorder.logins == [(MAILBOX, True)]  # one connection, one sign-in
    assert set(ledger_states(work).values()) == {"sent"}
    keyring_file = Path(test_keyring.file_path).read_text(encoding="utf-8")
    assert not any(token in keyring_file for token in stand_in.issued)  # compressed, not plain
    secrets_nowhere(work, stand_in, result.output, status.output)

    assert run("logout").output == (
        "Signed out: the sign-in for sending was removed from the system keyring.\n"
    )
    after = run("login", "--status")
    assert after.exit_code == 1
    assert after.output == "Nobody is signed in for sending. Sign in with: letter-merge login\n"


def test_a_token_that_expires_mid_batch_is_renewed_and_each_message_goes_once(
    work: Path, oauth: tuple[IdentityStandIn, XOAuth2Recorder]
) -> None:
    stand_in, recorder = oauth
    assert run("login").exit_code == 0
    recorder.drop_after = 2  # after two messages: every token expires, the connection drops
    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    ids = [r.message_id for r in recorder.received]
    assert len(ids) == 4 and len(set(ids)) == 4
    # signed in, then refused with the expired token, then in again with a renewed one
    assert recorder.logins == [(MAILBOX, True), (MAILBOX, False), (MAILBOX, True)]
    assert recorder.tokens[1] == recorder.tokens[0] and recorder.tokens[2] != recorder.tokens[1]
    assert "refresh_token" in stand_in.requests
    assert set(ledger_states(work).values()) == {"sent"}


def test_a_refused_token_stops_the_run_with_what_to_do(
    work: Path, oauth: tuple[IdentityStandIn, XOAuth2Recorder]
) -> None:
    stand_in, recorder = oauth
    assert run("login").exit_code == 0
    stand_in.expire_all()
    stand_in.refresh_tokens.clear()  # the sign-in was withdrawn
    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 1
    assert "Sign in again.\nNext: letter-merge login" in result.output
    assert recorder.received == []
    assert set(ledger_states(work).values()) == {"queued"}
    secrets_nowhere(work, stand_in, result.output)


def test_sending_without_signing_in_says_to_sign_in(
    work: Path, oauth: tuple[IdentityStandIn, XOAuth2Recorder]
) -> None:
    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        "Error: Nobody is signed in for sending: sign in first.",
        "Next: letter-merge login (the manual, For IT: Microsoft 365 or Gmail)",
    ]


def test_a_consent_error_says_what_the_administrator_must_grant(
    work: Path, oauth: tuple[IdentityStandIn, XOAuth2Recorder]
) -> None:
    stand_in, _ = oauth
    stand_in.pending_polls = 0
    stand_in.refuse = "AADSTS65001"
    result = run("login")
    assert result.exit_code == 1
    assert (
        "permission to send mail (SMTP.Send) has not been granted. An administrator must "
        "grant it in Entra ID (the manual, For IT: Microsoft 365 with OAuth 2.0)." in result.output
    )


def test_the_app_sends_unattended_with_its_client_secret(
    work: Path, oauth: tuple[IdentityStandIn, XOAuth2Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in, recorder = oauth
    text = (work / "letter-merge.toml").read_text(encoding="utf-8")
    text = text.replace('flow = "device-code"', 'flow = "client-credentials"')
    text = text.replace('auth = "oauth2"', f'auth = "oauth2"\nusername = "{MAILBOX}"')
    (work / "letter-merge.toml").write_text(text, encoding="utf-8")
    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 1
    assert "needs the app's client secret: set LETTER_MERGE_OAUTH2_CLIENT_SECRET" in result.output
    monkeypatch.setenv("LETTER_MERGE_OAUTH2_CLIENT_SECRET", SECRET)
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    assert len(recorder.received) == 4
    assert stand_in.requests == ["client_credentials"]
    secrets_nowhere(work, stand_in, result.output)


def test_a_password_login_to_a_mailbox_that_no_longer_takes_passwords(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any) -> AuthResult:
        return AuthResult(
            success=False,
            handled=False,
            message="535 5.7.30 Basic authentication is not supported for Client Submission.",
        )

    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, authenticator=refuse, auth_require_tls=False
    )
    controller.start()
    try:
        text = (work / "letter-merge.toml").read_text(encoding="utf-8")
        text = re.sub(r"port = \d+", f"port = {port}", text, count=1)
        text = text.replace('security = "none"', f'security = "none"\nusername = "{MAILBOX}"')
        (work / "letter-merge.toml").write_text(text, encoding="utf-8")
        monkeypatch.setenv("LETTER_MERGE_SMTP_PASSWORD", "old-password")
        approve_and_queue()
        result = run("send", "--yes")
    finally:
        controller.stop()
    assert result.exit_code == 1
    assert (
        'this mailbox no longer accepts passwords. Set auth = "oauth2" in [smtp]' in result.output
    )


def test_no_secret_in_the_settings_file(folder: Path) -> None:
    with (folder / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write('\n[oauth2]\nclient_id = "x"\nclient_secret = "oops"\n')
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "[oauth2] client_secret must not be in the settings file" in result.output
    assert "oops" not in result.output


def use_google(work: Path, stand_in: IdentityStandIn, flow: str) -> None:
    text = (work / "letter-merge.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[oauth2\][\s\S]*", "", text)
    text = text.replace('auth = "oauth2"', f'auth = "oauth2"\nusername = "{MAILBOX}"')
    text += (
        f'[oauth2]\nprovider = "google"\nflow = "{flow}"\nclient_id = "{GOOGLE_CLIENT_ID}"\n'
        f'authority = "https://localhost:{stand_in.port}/google"\n'
    )
    (work / "letter-merge.toml").write_text(text, encoding="utf-8")


class BrowserStandIn:
    """BROWSER STAND-IN: opens the sign-in page as a browser would (following its redirect back
    to letter-merge's page on localhost), in the background, like a person clicking through."""

    def __init__(self, ca_file: str) -> None:
        self.ca_file = ca_file
        self.visited: list[str] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        import requests

        def visit() -> None:
            self.visited.append(url)
            requests.get(url, verify=self.ca_file, timeout=30)

        threading.Thread(target=visit, daemon=True).start()
        return True


def test_gmail_sign_in_in_the_browser_then_send(
    work: Path,
    oauth: tuple[IdentityStandIn, XOAuth2Recorder],
    monkeypatch: pytest.MonkeyPatch,
    test_keyring: PlaintextKeyring,
) -> None:
    import os
    import webbrowser

    stand_in, recorder = oauth
    use_google(work, stand_in, "browser")
    monkeypatch.setenv("LETTER_MERGE_OAUTH2_CLIENT_SECRET", SECRET)
    browser = BrowserStandIn(os.environ["REQUESTS_CA_BUNDLE"])
    monkeypatch.setattr(webbrowser, "get", lambda using=None: browser)
    result = run("login")
    assert result.exit_code == 0, result.output
    assert browser.visited and browser.visited[0].startswith(
        f"https://localhost:{stand_in.port}/google/auth?"
    )
    assert result.output.splitlines()[-1] == (
        f"Signed in as {MAILBOX}. letter-merge send will use this sign-in."
    )
    assert run("login", "--status").output.startswith(f"Signed in for sending as {MAILBOX};")

    monkeypatch.delenv("LETTER_MERGE_OAUTH2_CLIENT_SECRET")  # sending needs only the sign-in
    stand_in.expire_all()  # so that send must renew the token with the refresh token
    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    assert len(recorder.received) == 4
    assert recorder.logins[-1] == (MAILBOX, True)
    assert "refresh_token" in stand_in.requests
    secrets_nowhere(work, stand_in, result.output)
    assert run("logout").exit_code == 0


def test_gmail_unattended_with_a_workspace_service_account(
    work: Path, oauth: tuple[IdentityStandIn, XOAuth2Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    stand_in, recorder = oauth
    use_google(work, stand_in, "client-credentials")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = {
        "type": "service_account",
        "project_id": "letter-merge-test",
        "private_key_id": "key-1",
        "private_key": private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "client_email": "sender@letter-merge-test.iam.gserviceaccount.com",
        "client_id": "1000001",
        "token_uri": f"https://localhost:{stand_in.port}/google/token",
    }
    monkeypatch.setenv("LETTER_MERGE_OAUTH2_CLIENT_SECRET", json.dumps(key))
    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    assert len(recorder.received) == 4
    assert stand_in.requests == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert key["private_key"] not in result.output


def test_google_refuses_the_device_code_sign_in_for_gmail(folder: Path) -> None:
    with (folder / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write('\n[oauth2]\nprovider = "google"\nflow = "device-code"\n')
    result = CliRunner().invoke(cli, ["login"])
    assert result.exit_code == 2
    assert "Google does not allow signing in to Gmail with a device code" in result.output


def test_verbose_output_shows_no_token(
    work: Path, oauth: tuple[IdentityStandIn, XOAuth2Recorder], tmp_path: Path
) -> None:
    """-v turns on letter-merge's own log, not the libraries' (requests-oauthlib's debug log
    prints the token it obtained). A real process, with a real (file) keyring and a browser
    stand-in named in BROWSER, as a person's machine would run it."""
    import os
    import subprocess
    import sys

    stand_in, _ = oauth
    use_google(work, stand_in, "browser")
    browser = tmp_path / "browser.py"  # BROWSER STAND-IN: visits the page in the background
    # It returns at once, as a browser does, leaving the visit to a process of its own (Python's
    # webbrowser waits for the command it runs on Windows).
    browser.write_text(
        "import subprocess, sys\n"
        "visit = (\n"
        "    'import os, sys, time, requests; time.sleep(0.3); '\n"
        "    \"requests.get(sys.argv[1], verify=os.environ['REQUESTS_CA_BUNDLE'], timeout=30)\"\n"
        ")\n"
        "subprocess.Popen([sys.executable, '-c', visit, sys.argv[1]])\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "LETTER_MERGE_OAUTH2_CLIENT_SECRET": SECRET,
        # Quoted: webbrowser splits the command as a POSIX shell would, backslashes and all.
        "BROWSER": f'"{sys.executable}" "{browser}" %s',
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        # where that TEST KEYRING keeps its file: Linux and macOS, and Windows
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "LOCALAPPDATA": str(tmp_path / "data"),
    }
    login = subprocess.run(
        [sys.executable, "-m", "letter_merge", "-v", "login"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert login.returncode == 0, login.stderr
    assert login.stdout.splitlines()[-1] == (
        f"Signed in as {MAILBOX}. letter-merge send will use this sign-in."
    )
    secrets_nowhere(work, stand_in, login.stdout, login.stderr)
