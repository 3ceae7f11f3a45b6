"""Approve, queue, send and status against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import csv
import email
import email.policy
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from openpyxl import load_workbook

from letter_merge.config import load_settings
from letter_merge.files import try_lock
from letter_merge.mail.send.sending import send_messages
from tests.helpers import (
    Recorder,
    approve_and_queue,
    free_port,
    ledger_states,
    run,
)


def test_approve_queue_send_status(work: Path, server: tuple[Recorder, int]) -> None:
    recorder, _ = server
    result = run("approve", "--by", "Jo Bloggs")
    assert result.output == "Approved 4 letters as checked by Jo Bloggs.\n"
    assert run("queue").output == "Queued 4 messages.\n"
    emls = sorted((work / "output/2020/outbox").glob("*.eml"))
    assert len(emls) == 4
    message = email.message_from_bytes(emls[3].read_bytes(), policy=email.policy.default)
    assert message["From"] == "Annual Review <annual.review@ombudsman.example>"
    assert message["To"] == "John Sinnott <ce@leicestershire-county-council.example.org>"
    assert message["Cc"] == "link@cc.example.org"
    assert message["Subject"] == "Annual Review letter 2020 – Leicestershire County Council"
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "Leicestershire County Council - Annual Review 2020.pdf"
    assert attachment.get_content().startswith(b"%PDF-")
    body = message.get_body()
    assert body is not None
    assert "Dear Mr Sinnott," in body.get_content()
    ids = {e.name: email.message_from_bytes(e.read_bytes())["Message-ID"] for e in emls}

    result = run("queue")  # again: nothing twice, the Message-IDs stay
    assert result.output == "Queued 0 messages; 4 were already queued or sent.\n"
    assert {e.name: email.message_from_bytes(e.read_bytes())["Message-ID"] for e in emls} == ids

    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    assert "Sent 4 messages." in result.output
    assert sorted(r.message_id for r in recorder.received) == sorted(ids.values())
    by_subject = {r.subject.split(" – ")[1]: r for r in recorder.received}
    assert by_subject["Leicestershire County Council"].rcpt_tos == [
        "ce@leicestershire-county-council.example.org",
        "link@cc.example.org",
    ]
    assert by_subject["Derby City Council"].rcpt_tos == ["ce@derby-city-council.example.org"]
    assert recorder.connections == 1  # one connection for the batch

    assert "Sent 0 messages." in run("send", "--yes").output  # nothing twice
    assert len(recorder.received) == 4
    result = run("status", "--csv", "audit.csv")
    assert result.exit_code == 0
    assert re.match(r"sent:\s+4  accepted by the mail server$", result.output.splitlines()[0])
    rows = list(csv.DictReader((work / "audit.csv").read_text("utf-8-sig").splitlines()))
    assert [r["state"] for r in rows] == ["sent"] * 4
    assert all(r["last_reply"] == "250 2.0.0 Message accepted" for r in rows)


def test_rebuilding_after_approval_voids_it(work: Path) -> None:
    assert run("approve", "--by", "Jo").exit_code == 0
    book = load_workbook(work / "input" / "councils.xlsx")
    book["Contacts"]["F3"] = "Okafor"  # Derby's chief executive changes
    book.save(work / "input" / "councils.xlsx")
    assert run("build").exit_code == 0
    output = run("status").output
    assert re.search(r"^approval void:\s+1  ", output, re.MULTILINE)
    assert re.search(r"^approved:\s+3  ", output, re.MULTILINE)
    assert re.search(
        r"^approval void\s+Derby City Council  approved by Jo for an earlier PDF  "
        r"\[proof: proofed an earlier PDF\]$",
        output,
        re.MULTILINE,
    )
    result = run("queue")
    assert result.exit_code == 1
    assert (
        "  - Derby City Council: its PDF changed after it was approved; letter-merge proof, look through it, and approve it"
        in result.output
    )
    assert "Queued 3 messages." in result.output


def test_swapped_pdfs_are_refused(work: Path, server: tuple[Recorder, int]) -> None:
    recorder, _ = server
    approve_and_queue()
    letters = work / "output" / "2020" / "letters"
    a = letters / "Derby City Council - Annual Review 2020.pdf"
    b = letters / "Adur District Council - Annual Review 2020.pdf"
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    result = run("send", "--yes")
    assert result.exit_code == 1
    assert "Not sent: they do not match their approval:" in result.output
    assert (
        "  - Derby City Council: letters/Derby City Council - Annual Review 2020.pdf has changed since it was approved"
        in result.output
    )
    assert "  - Adur District Council: letters/Adur District Council" in result.output
    assert sorted(r.subject.split(" – ")[1] for r in recorder.received) == [
        "Brighton & Hove City Council",
        "Leicestershire County Council",
    ]


def test_a_temporary_refusal_is_retried(work: Path, server: tuple[Recorder, int]) -> None:
    recorder, _ = server
    approve_and_queue()
    recorder.script = ["451 4.3.0 Try again later"]
    result = run("send", "--yes", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert len(recorder.received) == 1
    assert list(ledger_states(work).values()).count("sent") == 1


def test_a_permanent_refusal_fails_without_retrying(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    approve_and_queue()
    recorder.script = ["550 5.7.1 Mailbox unavailable"]
    result = run("send", "--yes", "--limit", "1")
    assert result.exit_code == 1
    assert (
        "Failed: the server refused them (fix the cause, then send --retry-failed):\n  - Leicestershire County Council: 550 5.7.1 Mailbox unavailable"
        in result.output
    )
    assert recorder.received == []
    assert ledger_states(work)["Leicestershire County Council"] == "failed"
    assert run("send", "--yes", "--limit", "1").exit_code == 0  # a failed message is not sent again
    assert [r.subject.split(" – ")[1] for r in recorder.received] == ["Derby City Council"]


def test_a_connection_cut_during_data_is_in_doubt_not_resent(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    approve_and_queue()
    recorder.script = ["drop"]
    result = run("send", "--yes", "--limit", "1")
    assert result.exit_code == 1
    assert "In doubt" in result.output and "  - Leicestershire County Council" in result.output
    result = run("send", "--yes")  # the other three go; the one in doubt does not
    assert len(recorder.received) == 4
    assert "In doubt" in result.output
    assert re.search(r"^in doubt:\s+1  ", run("status").output, re.MULTILINE)
    assert run("send", "--resolve", "sent").output == (
        "Settled 1 message in doubt as sent: Leicestershire County Council.\n"
    )
    assert set(ledger_states(work).values()) == {"sent"}
    assert len({r.message_id for r in recorder.received}) == 4


def test_a_refused_login_stops_the_run(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def reject(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        return AuthResult(success=False, handled=False)

    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, authenticator=reject, auth_require_tls=False
    )
    controller.start()
    try:
        text = (work / "letter-merge.toml").read_text(encoding="utf-8")
        text = text.replace('security = "none"', 'security = "none"\nusername = "sender"')
        text = text.replace("port = ", f"port = {port}\n# was port = ")
        (work / "letter-merge.toml").write_text(text, encoding="utf-8")
        monkeypatch.setenv("LETTER_MERGE_SMTP_PASSWORD", "s3cret-pa55")
        approve_and_queue()
        result = run("send", "--yes")
    finally:
        controller.stop()
    assert result.exit_code == 1
    assert "refused the login for 'sender' (535" in result.output
    assert "s3cret-pa55" not in result.output
    assert recorder.received == []
    assert set(ledger_states(work).values()) == {"queued"}
    assert b"s3cret-pa55" not in (work / "output" / "2020" / "ledger.sqlite").read_bytes()


def test_test_to_and_dry_run_mark_nothing_sent(work: Path, server: tuple[Recorder, int]) -> None:
    recorder, _ = server
    approve_and_queue()
    result = run("send", "--dry-run")
    assert result.output.splitlines()[0] == "Would send 4 messages:"
    assert result.output.splitlines()[1].startswith("  server  127.0.0.1:")  # and through what
    assert (
        result.output.splitlines()[2] == "  from    Annual Review <annual.review@ombudsman.example>"
    )
    assert recorder.connections == 0
    result = run("send", "--test-to", "me@ombudsman.example", "--limit", "2")
    assert "Sent 2 test messages to me@ombudsman.example; nothing marked as sent." in result.output
    assert [r.rcpt_tos for r in recorder.received] == [["me@ombudsman.example"]] * 2
    assert all(
        r.subject.startswith("[TEST] Annual Review letter 2020 – ") for r in recorder.received
    )
    assert set(ledger_states(work).values()) == {"queued"}


def test_a_dry_run_leaves_the_ledger_byte_for_byte_unchanged(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    approve_and_queue()
    # A changed PDF makes the dry run refuse one message: the refusal is reported, not recorded.
    derby = work / "output" / "2020" / "letters" / "Derby City Council - Annual Review 2020.pdf"
    derby.write_bytes(derby.read_bytes() + b"\n% edited")
    year = work / "output" / "2020"

    def ledger_files() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(year.glob("ledger.sqlite*"))}

    before = ledger_files()
    result = run("send", "--dry-run")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "Would send 3 messages:"
    assert "  - Derby City Council: letters/Derby City Council" in result.output
    assert ledger_files() == before
    assert not (year / "send.lock").exists()
    assert recorder.connections == 0


def test_sending_is_throttled(work: Path) -> None:
    approve_and_queue()
    text = (
        (work / "letter-merge.toml")
        .read_text(encoding="utf-8")
        .replace("rate_per_minute = 6000", "rate_per_minute = 30")
    )
    (work / "letter-merge.toml").write_text(text, encoding="utf-8")
    waits: list[float] = []
    report = send_messages(load_settings(work / "letter-merge.toml"), sleep=waits.append)
    assert len(report.sent) == 4
    # 30 a minute: each message starts 2 s after the one before; the checks between sends
    # (reading each PDF's text) take part of that time, the rest is waited
    assert len(waits) == 3 and all(1.0 < w <= 2.0 for w in waits)


def test_a_second_sender_is_turned_away(work: Path) -> None:
    approve_and_queue()
    # The system's own lock on the file, as another sender holds it (flock, or LockFileEx on
    # Windows).
    held = try_lock(work / "output" / "2020" / "send.lock")
    assert held is not None
    try:
        result = run("send", "--yes")
    finally:
        held.release()
    assert result.exit_code == 1
    assert "Another send is already running for 2020" in result.output


def test_a_killed_sender_never_sends_twice(work: Path, server: tuple[Recorder, int]) -> None:
    recorder, _ = server
    approve_and_queue()
    recorder.delay = 0.6
    command = [sys.executable, "-m", "letter_merge", "send", "--yes"]
    process = subprocess.Popen(
        command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while len(recorder.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # now inside the third exchange
    process.kill()  # SIGKILL; on Windows TerminateProcess: no chance to tidy up
    process.wait()
    recorder.delay = 0
    before = len(recorder.received)
    assert 2 <= before < 4
    result = subprocess.run([*command], cwd=work, capture_output=True, text=True, check=False)
    ids = [r.message_id for r in recorder.received]
    assert len(ids) == len(set(ids))  # every message at most once
    doubtful = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert len(set(ids)) + len(doubtful) >= 4 and len(doubtful) <= 1
    states = ledger_states(work)
    assert list(states.values()).count("sending") == len(doubtful)


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_sending_over_tls(work: Path, security: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real TLS: a test certificate authority that the client trusts through SSL_CERT_FILE."""
    import ssl

    import trustme

    authority = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(server_context)
    with authority.cert_pem.tempfile() as ca_file:
        monkeypatch.setenv("SSL_CERT_FILE", ca_file)
        recorder = Recorder()
        port = free_port()
        if security == "ssl":
            controller = Controller(
                recorder, hostname="localhost", port=port, ssl_context=server_context
            )
        else:
            controller = Controller(
                recorder,
                hostname="localhost",
                port=port,
                tls_context=server_context,
                require_starttls=True,
            )
        controller.start()
        try:
            text = (work / "letter-merge.toml").read_text(encoding="utf-8")
            text = re.sub(
                r'host = "127.0.0.1"\nport = \d+\nsecurity = "none"',
                f'host = "localhost"\nport = {port}\nsecurity = "{security}"',
                text,
            )
            (work / "letter-merge.toml").write_text(text, encoding="utf-8")
            approve_and_queue()
            result = run("send", "--yes", "--limit", "2")
        finally:
            controller.stop()
    assert result.exit_code == 0, result.output
    assert len(recorder.received) == 2


def test_a_correction_reads_as_one_whatever_the_subject_setting(work: Path) -> None:
    from letter_merge.batch import load_batch
    from letter_merge.config import load_settings
    from letter_merge.mail.send.outbox import build_message

    batch = load_batch(load_settings(work / "letter-merge.toml"))
    letter = batch.letters()[1]
    pdf = work / "output" / "2020" / "letters" / f"{letter.stem}.pdf"
    first = build_message(batch.settings, batch, letter, pdf)
    fixed = build_message(batch.settings, batch, letter, pdf, correction="figures corrected")
    assert fixed["Subject"] == f"Corrected: {first['Subject']}"
    (attached,) = fixed.iter_attachments()
    assert attached.get_filename() == f"{letter.stem} (corrected).pdf"


def test_the_reason_is_recorded_and_only_the_note_reaches_the_council(work: Path) -> None:
    from letter_merge.batch import load_batch
    from letter_merge.config import load_settings
    from letter_merge.mail.send.outbox import build_message

    batch = load_batch(load_settings(work / "letter-merge.toml"))
    letter = batch.letters()[1]
    pdf = work / "output" / "2020" / "letters" / f"{letter.stem}.pdf"
    quiet = build_message(batch.settings, batch, letter, pdf, correction="row 14 keyed wrongly")
    body = quiet.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "row 14" not in text
    assert "It replaces the letter we sent earlier." in text
    told = build_message(
        batch.settings,
        batch,
        letter,
        pdf,
        correction="row 14 keyed wrongly",
        note="the number of complaints upheld was wrong",
    )
    body = told.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "row 14" not in text
    assert "earlier: the number of complaints upheld was wrong." in text


def test_a_queued_message_never_goes_to_an_address_the_workbook_no_longer_has(
    work: Path, server: tuple[Recorder, int]
) -> None:
    from openpyxl import load_workbook

    recorder, _ = server
    approve_and_queue()
    book = load_workbook(work / "input" / "councils.xlsx")
    book["Contacts"]["H3"] = "new.ce@derby.example.org"  # Derby's address, corrected
    book.save(work / "input" / "councils.xlsx")
    refused = run("send", "--yes")
    assert refused.exit_code == 1
    assert "its address changed in the workbook since it was queued" in refused.output
    assert len(recorder.received) == 3
    assert "Queued 1 message" in run("queue").output  # made again for the new address
    assert run("send", "--yes").exit_code == 0
    assert recorder.received[-1].rcpt_tos == ["new.ce@derby.example.org"]


def test_a_refusal_to_send_as_the_team_mailbox_stops_the_run_with_what_to_grant(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    approve_and_queue()
    recorder.script = ["550 5.7.60 SMTP; Client does not have permissions to send as this sender"]
    result = run("send", "--yes")
    assert result.exit_code == 1
    assert (
        "Microsoft 365 refused to send as annual.review@ombudsman.example (5.7.60 SendAsDenied)"
        in result.output
    )
    assert "give the signed-in person Send As (or Send on Behalf)" in result.output
    assert recorder.received == []
    assert set(ledger_states(work).values()) == {"queued"}  # nothing marked, nothing lost
