"""Sending through Microsoft Graph ([send] via = "graph"), with everything real that can run here:

- GRAPH SENDING STAND-IN (tests/graph_standin.py): a local HTTPS server answering the Graph
  requests letter-merge sends mail with, as Microsoft documents them;
- the real MSAL library signing in against IDENTITY STAND-IN (tests/test_oauth.py), whose tokens
  the Graph stand-in honours until they expire;
- the TEST KEYRING for a person's sign-in (device code).

The letters are the four councils of conftest, built with the stand-in for LibreOffice.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from keyrings.alt.file import PlaintextKeyring

from letter_merge.config import load_settings
from letter_merge.mail.send.sending import send_messages
from tests.graph_standin import GraphSendStandIn, serving
from tests.helpers import HTML_EMAIL_PARTS, approve_and_queue, free_port, ledger_states, run
from tests.test_delivery import postfix_bounce
from tests.test_oauth import (
    CLIENT_ID,
    SECRET,
    TENANT,
    IdentityStandIn,
    secrets_nowhere,
    serve_identity,
    test_keyring,  # noqa: F401 (a fixture)
)

TEAM = "annual.review@ombudsman.example"  # the shared mailbox [email] from names
PERSON = "jo.bloggs@ombudsman.example"


class ScopedIdentity(IdentityStandIn):
    """IDENTITY STAND-IN that also notes the scopes each token request asked for."""

    scopes: list[str]

    def answer(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if "scope" in form:
            self.scopes.append(form["scope"])
        return super().answer(method, path, form)


@pytest.fixture
def graph(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[GraphSendStandIn, ScopedIdentity]]:
    """The working folder set to send through the Graph stand-in as the app (client
    credentials) from the team's mailbox; the identity stand-in issues its tokens."""
    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    ca_file = work.parent / "test-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    identity = ScopedIdentity(free_port())
    identity.scopes = []
    identity_server = serve_identity(identity, context)
    stand_in = GraphSendStandIn(valid=identity.valid, send_as={TEAM})
    with serving(stand_in, context):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
        monkeypatch.setenv("LETTER_MERGE_GRAPH_URL", stand_in.base)
        monkeypatch.setenv("LETTER_MERGE_OAUTH2_CLIENT_SECRET", SECRET)
        monkeypatch.setattr("letter_merge.mail.send.graph.BACKOFF_SECONDS", 0.01)
        with (work / "letter-merge.toml").open("a", encoding="utf-8") as settings:
            settings.write(
                '\n[send]\nvia = "graph"\n'
                f'[oauth2]\nprovider = "microsoft"\nflow = "client-credentials"\n'
                f'client_id = "{CLIENT_ID}"\ntenant = "{TENANT}"\nauthority = "{identity.authority}"\n'
            )
        yield stand_in, identity
    identity_server.shutdown()
    identity_server.server_close()


def settings_of(work: Path) -> Any:
    return load_settings(work / "letter-merge.toml")


def queued_ids(work: Path) -> dict[str, str]:
    """Authority -> the Message-ID each .eml was queued with."""
    ids = {}
    for eml in (work / "output/2020/outbox").glob("*.eml"):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        ids[str(message["Subject"]).split(" – ")[1]] = str(message["Message-ID"])
    return ids


def test_the_app_sends_each_letter_once_from_the_team_mailbox(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity]
) -> None:
    stand_in, identity = graph
    text = (work / "letter-merge.toml").read_text(encoding="utf-8")  # the HTML email, from Word
    text = text.replace("[batch]", '[paths]\nemail_template = "templates/email.docx"\n[batch]', 1)
    (work / "letter-merge.toml").write_text(text, encoding="utf-8")
    approve_and_queue()
    stand_in.reassign = True  # Graph gives drafts its own Message-ID: set back to the queued one
    plan = run("send", "--dry-run")
    assert "  server  Microsoft Graph (encrypted, HTTPS), signed in as the app" in plan.output
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    assert "Sent 4 messages." in result.output
    ids = queued_ids(work)
    assert sorted(m.internet_message_id for m in stand_in.sent) == sorted(ids.values())
    assert {m.mailbox for m in stand_in.sent} == {f"users/{TEAM}"}  # the team's Sent Items
    assert not [i for i in stand_in.items.values() if i.is_draft]  # no draft left behind
    assert identity.scopes == ["https://graph.microsoft.com/.default"]
    derby = next(m for m in stand_in.sent if "Derby" in str(m.parsed()["Subject"]))
    (pdf,) = derby.parsed().iter_attachments()
    assert pdf.get_content_type() == "application/pdf"
    assert [p.get_content_type() for p in derby.parsed().walk()] == HTML_EMAIL_PARTS
    assert set(ledger_states(work).values()) == {"sent"}
    audit = run("status", "--csv", "audit.csv")
    assert audit.exit_code == 0
    rows = (work / "audit.csv").read_text("utf-8-sig")
    for message_id in ids.values():  # the ledger holds the id each went out with
        assert f"202 Accepted by Microsoft Graph; internetMessageId {message_id}" in rows
    assert "Sent 0 messages." in run("send", "--yes").output  # nothing twice
    assert len(stand_in.sent) == 4
    secrets_nowhere(work, identity, result.output)

    # A bounce arrives in the team's mailbox; delivery (reading it with Graph) matches it to
    # Derby's letter by the internetMessageId the message went out with.
    bounce = postfix_bounce(ids["Derby City Council"], "ce@derby-city-council.example.org", "x")
    stand_in.deliver(f"users/{TEAM}", bounce, "2020-07-22T12:00:08Z")
    with (work / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write(f'[mailbox]\nauth = "graph"\nusername = "{TEAM}"\n')
    found = run("delivery")  # through the same LETTER_MERGE_GRAPH_URL as sending
    assert found.exit_code == 0, found.output
    assert "  Derby City Council: did not arrive for ce@derby-city-council.example.org" in (
        found.output
    )
    with sqlite3.connect(work / "output/2020/ledger.sqlite") as ledger:
        matched = ledger.execute(
            "SELECT authority, message_id, matched_by FROM deliveries"
        ).fetchall()
    assert matched == [("Derby City Council", ids["Derby City Council"], "message-id")]


def test_throttling_and_busy_answers_are_waited_out_as_graph_asks(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity]
) -> None:
    stand_in, _ = graph
    approve_and_queue()
    stand_in.script = ["429", "503", "", "429"]
    stand_in.retry_after = "7"
    waits: list[float] = []
    report = send_messages(settings_of(work), sleep=waits.append)
    assert len(report.sent) == 4 and not report.problems
    assert waits.count(7.0) == 3  # Retry-After, each time
    assert len(stand_in.sent) == 4


def test_graph_busy_for_too_long_stops_the_run_and_keeps_the_rest_queued(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity]
) -> None:
    stand_in, _ = graph
    approve_and_queue()
    stand_in.script = ["", *["503"] * 10]
    stand_in.retry_after = "0"
    result = run("send", "--yes")
    assert result.exit_code == 1
    assert (
        "Microsoft Graph (localhost:" in result.output
        and "still busy after 6 tries" in result.output
    )
    assert list(ledger_states(work).values()).count("sent") == 1
    assert list(ledger_states(work).values()).count("queued") == 3
    assert run("send", "--yes").exit_code == 0
    assert len(stand_in.sent) == 4


def test_an_expired_token_is_renewed_once_and_nothing_goes_twice(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity]
) -> None:
    stand_in, identity = graph
    approve_and_queue()
    report = send_messages(settings_of(work), limit=2)
    assert len(report.sent) == 2
    identity.expire_all()  # the server, not the client, decides a token has run out
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    assert len(stand_in.sent) == 4
    assert len({m.internet_message_id for m in stand_in.sent}) == 4


def test_a_refusal_to_send_as_the_team_mailbox_names_it_and_what_to_grant(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity]
) -> None:
    stand_in, _ = graph
    approve_and_queue()
    stand_in.send_as = set()
    result = run("send", "--yes")
    assert result.exit_code == 1
    assert f"Microsoft 365 refused to send as {TEAM} (ErrorSendAsDenied)" in result.output
    assert "application access policy" in result.output
    assert set(ledger_states(work).values()) == {"queued"}
    assert stand_in.items == {}  # nothing sent, and the refused draft not left behind
    stand_in.send_as = {TEAM}  # the administrator grants it
    assert run("send", "--yes").exit_code == 0
    assert len(stand_in.sent) == 4
    # The draft refused before was sent as it was: no second copy of it anywhere.
    assert len({m.internet_message_id for m in stand_in.items.values()}) == 4


def test_a_missing_permission_says_what_the_administrator_grants(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity]
) -> None:
    stand_in, _ = graph
    approve_and_queue()
    stand_in.script = ["403"]
    result = run("send", "--yes")
    assert result.exit_code == 1
    assert "ErrorAccessDenied" in result.output
    assert "Mail.Send and Mail.ReadWrite" in result.output
    assert set(ledger_states(work).values()) == {"queued"}


def test_a_message_over_graphs_4_mb_limit_fails_alone(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity], monkeypatch: pytest.MonkeyPatch
) -> None:
    approve_and_queue()
    # The stand-in's limit is Graph's; the client's own check is lifted to meet the 413.
    monkeypatch.setattr("letter_merge.mail.send.graph.REQUEST_LIMIT", 10**9)
    sizes = {
        p.stem.split(" - ")[0]: len(base64.b64encode(p.read_bytes()))
        for p in (work / "output/2020/outbox").glob("*.eml")
    }
    biggest = max(sizes, key=lambda name: sizes[name])
    monkeypatch.setattr("tests.graph_standin.LIMIT", sizes[biggest] - 1)  # it alone is over
    result = run("send", "--yes")
    assert result.exit_code == 1
    assert "over Microsoft Graph's 4 MB limit" in result.output
    states = ledger_states(work)
    assert states.pop(biggest) == "failed"
    assert set(states.values()) == {"sent"}


def test_a_dropped_connection_after_the_send_is_settled_from_sent_items(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity]
) -> None:
    stand_in, _ = graph
    approve_and_queue()
    stand_in.script = ["drop-sent", "drop-unsent"]
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    # The first was found in Sent Items; the second found still a draft, and that draft sent.
    assert len(stand_in.sent) == 4
    assert len({m.internet_message_id for m in stand_in.sent}) == 4
    assert set(ledger_states(work).values()) == {"sent"}
    audit = run("status", "--csv", "audit.csv")
    assert audit.exit_code == 0
    assert "found in the mailbox's sent messages" in (work / "audit.csv").read_text("utf-8-sig")


def test_in_doubt_from_an_earlier_run_is_looked_up_before_anything_goes(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity], monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in, _ = graph
    approve_and_queue()
    # The look-up itself fails this time: both stay in doubt, as SMTP's would.
    monkeypatch.setattr(
        "letter_merge.mail.send.graph.GraphConnection.look_up",
        lambda self, message_id: __import__(
            "letter_merge.mail.send.transport", fromlist=["Found"]
        ).Found("unknown"),
    )
    stand_in.script = ["drop-sent", "drop-unsent"]
    first = run("send", "--yes", "--limit", "2")
    assert first.exit_code == 1
    assert "In doubt" in first.output
    assert list(ledger_states(work).values()).count("sending") == 2
    monkeypatch.undo()  # the next run can ask Graph
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(work.parent / "test-ca.pem"))
    monkeypatch.setenv("LETTER_MERGE_GRAPH_URL", stand_in.base)
    monkeypatch.setenv("LETTER_MERGE_OAUTH2_CLIENT_SECRET", SECRET)
    monkeypatch.chdir(work)
    second = run("send", "--yes")
    assert second.exit_code == 0, second.output
    assert "Settled from the mailbox" in second.output
    assert len(stand_in.sent) == 4
    assert len({m.internet_message_id for m in stand_in.sent}) == 4
    assert not [i for i in stand_in.items.values() if i.is_draft]  # the unsent draft was sent
    assert set(ledger_states(work).values()) == {"sent"}


def test_a_killed_sender_never_sends_twice_over_graph(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity]
) -> None:
    stand_in, _ = graph
    approve_and_queue()
    stand_in.delay = 0.6
    command = [sys.executable, "-m", "letter_merge", "send", "--yes"]
    process = subprocess.Popen(
        command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while len(stand_in.sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # now inside the third send
    process.kill()
    process.wait()
    stand_in.delay = 0
    time.sleep(0.5)  # the stand-in finishes the send it was in
    before = len(stand_in.sent)
    assert 2 <= before <= 3
    result = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    ids = [m.internet_message_id for m in stand_in.sent]
    assert sorted(ids) == sorted(queued_ids(work).values())  # every letter exactly once
    assert set(ledger_states(work).values()) == {"sent"}
    assert re.search(r"Settled from the mailbox", result.stdout)


def test_a_person_signs_in_and_sends_from_the_shared_mailbox(
    work: Path,
    graph: tuple[GraphSendStandIn, ScopedIdentity],
    test_keyring: PlaintextKeyring,  # noqa: F811
) -> None:
    stand_in, identity = graph
    text = (work / "letter-merge.toml").read_text(encoding="utf-8")
    (work / "letter-merge.toml").write_text(
        text.replace('flow = "client-credentials"', 'flow = "device-code"'), encoding="utf-8"
    )
    login = run("login")
    assert login.exit_code == 0, login.output
    assert sorted(identity.scopes[0].split()) == [
        "https://graph.microsoft.com/Mail.ReadWrite",
        "https://graph.microsoft.com/Mail.Send",
        "https://graph.microsoft.com/Mail.Send.Shared",
        "offline_access",
        "openid",
        "profile",
    ]
    approve_and_queue()
    stand_in.send_as = set()  # Send As not granted yet
    refused = run("send", "--yes")
    assert refused.exit_code == 1
    assert f"give the signed-in person Send As (or Send on Behalf) on {TEAM}" in refused.output
    stand_in.send_as = {TEAM}
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    # Drafts in the person's own mailbox, sent from the team's, saved to their Sent Items.
    assert {m.mailbox for m in stand_in.sent} == {"me"}
    assert {str(m.parsed()["From"]) for m in stand_in.sent} == {f"Annual Review <{TEAM}>"}
    assert len({m.internet_message_id for m in stand_in.items.values()}) == 4


def test_send_via_is_smtp_or_graph_and_graph_is_microsoft_365(folder: Path) -> None:
    from letter_merge.errors import InputError

    settings = folder / "letter-merge.toml"
    base = settings.read_text(encoding="utf-8")
    settings.write_text(base + '[send]\nvia = "outlook"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r'\[send\] via = \'outlook\': use "smtp" or "graph"'):
        load_settings(settings, environ={})
    settings.write_text(
        base + '[send]\nvia = "graph"\n[oauth2]\nprovider = "google"\nflow = "browser"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="sends through Microsoft 365"):
        load_settings(settings, environ={})
    settings.write_text(base, encoding="utf-8")
    assert load_settings(settings, environ={}).send.via == "smtp"
    assert load_settings(settings, environ={"LETTER_MERGE_SEND_VIA": "graph"}).send.via == "graph"


def test_a_message_over_4_mb_is_refused_before_it_is_sent_to_graph(
    work: Path, graph: tuple[GraphSendStandIn, ScopedIdentity], monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in, _ = graph
    approve_and_queue()
    monkeypatch.setattr("letter_merge.mail.send.graph.REQUEST_LIMIT", 1000)  # every one is over
    result = run("send", "--yes", "--limit", "1")
    assert result.exit_code == 1
    assert "over Microsoft Graph's limit of 4 MB a request" in result.output
    assert [r for r in stand_in.requests if r[0] != "GET"] == []  # nothing was posted
    assert list(ledger_states(work).values()).count("failed") == 1
