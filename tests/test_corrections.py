"""Corrections and re-sends against aiosmtpd on 127.0.0.1 with LibreOffice-built letters: the
ledger keeps everything, approve and queue follow the rules, and a real send asks first."""

from __future__ import annotations

import csv
import email
import email.policy
import re
import sys
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from letter_merge.records.ledger import Ledger
from tests.helpers import Recorder, approve_and_queue, at_a_terminal, run

DERBY = "Derby City Council"


def ledger(folder: Path) -> Ledger:
    return Ledger(folder / "output" / "2020" / "ledger.sqlite", read_only=True)


def change_derby(folder: Path, surname: str = "Okafor") -> None:
    """Derby's chief executive changes: one row of the workbook."""
    book = load_workbook(folder / "input" / "councils.xlsx")
    book["Contacts"]["F3"] = surname
    book.save(folder / "input" / "councils.xlsx")


def say_corrected_in_the_subject(folder: Path) -> None:
    settings = folder / "letter-merge.toml"
    text = settings.read_text(encoding="utf-8")
    sender = 'from = "Annual Review <annual.review@ombudsman.example>"\n'
    assert sender in text
    subject = (
        'subject = "{% if correction %}Corrected: {% endif %}Annual Review letter {{ year }} – '
        '{{ authority }}"\n'
    )
    settings.write_text(text.replace(sender, sender + subject), encoding="utf-8")


def test_a_correction_is_sent_on_purpose_and_on_the_record(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    say_corrected_in_the_subject(work)
    approve_and_queue()
    assert run("send", "--yes").exit_code == 0
    assert len(recorder.received) == 4
    outbox = work / "output" / "2020" / "outbox"
    first_eml = outbox / f"{DERBY} - Annual Review 2020.eml"
    first_bytes = first_eml.read_bytes()

    change_derby(work)
    assert re.search(rf"^changed since sent\s+{DERBY}", run("status").output, re.MULTILINE)
    result = run("build", "--yes")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    built = next(i for i, line in enumerate(lines) if line.startswith("Built "))
    assert re.match(r"Built 1 letter \(docx and PDF\); 3 already up to date in ", lines[built])
    assert lines[built + 1] == "  Unitary Council:         1"  # this run's, not all four
    assert lines[-1] == (
        "1 letter already sent built again: 1 differs from what was sent: Derby City Council; "
        "each goes as a correction once proofed and approved."
    )
    assert re.search(rf"^changed since sent\s+{DERBY}", run("status").output, re.MULTILINE)

    assert run("proof").exit_code == 0
    result = run("approve", "--by", "Sam Smith", "--only", "Derby City")
    assert result.output == "Approved 1 letter as checked by Sam Smith.\n"
    with ledger(work) as book:
        approvals = book.approval_history()
    assert [(a.authority, a.approved_by) for a in approvals].count((DERBY, "Sam Smith")) == 1
    assert {a.approved_by for a in approvals if a.authority != DERBY} == {"Jo Bloggs"}
    assert len(approvals) == 5  # four first approvals, kept as they were, and Derby's second

    result = run("queue")  # no silent second letter
    assert result.exit_code == 1
    assert "Queued 0 messages; 3 were already queued or sent." in result.output
    assert (
        f"  - {DERBY}: was sent a letter on " in result.output
        and f'goes only as a correction, with the reason on the record; letter-merge queue --correction "{DERBY}"'
        in result.output
    )
    assert "Would send 0 messages:" in run("send", "--dry-run").output

    result = run(
        "queue",
        "--correction",
        "Derby City",
        "--reason",
        "new chief executive",
        "--tell-council",
        "it is addressed to your new chief executive",
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Queued 1 message; 1 of them corrections (new chief executive); 3 were already queued "
        "or sent.\n"
    )
    dry = run("send", "--dry-run").output
    assert re.search(
        rf"  - {DERBY}: ce@derby-city-council.example.org  \[correction, sent before on "
        r"\d{4}-\d\d-\d\d \d\d:\d\d: new chief executive\]",
        dry,
    )
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    assert "About to send 1 message, 1 of them corrections:" in result.output
    assert "  correction for Derby City Council (sent before on " in result.output

    # the server received exactly the four originals and the correction
    assert len(recorder.received) == 5
    correction = recorder.received[-1]
    assert correction.subject == f"Corrected: Annual Review letter 2020 – {DERBY}"
    assert correction.to == "Siân Okafor <ce@derby-city-council.example.org>"
    assert first_eml.read_bytes() == first_bytes  # each message keeps its own .eml
    second = outbox / f"{DERBY} - Annual Review 2020 (correction).eml"
    message = email.message_from_bytes(second.read_bytes(), policy=email.policy.default)
    (attached,) = message.iter_attachments()
    assert attached.get_filename() == f"{DERBY} - Annual Review 2020 (corrected).pdf"
    body = message.get_body(("plain",))
    told = "It replaces the letter we sent earlier: it is addressed to your new chief executive."
    assert body is not None and told in str(body.get_content())
    assert "new chief executive\n" not in str(body.get_content())  # the reason stays recorded

    status = run("status").output
    assert re.search(r"^sent:\s+4  ", status, re.MULTILINE)
    assert re.search(rf"^sent\s+{DERBY}  \(2 messages\)", status, re.MULTILINE)
    history = run("status", "Derby").output.splitlines()
    assert history[0] == f"{DERBY}: sent (accepted by the mail server)"
    events = "\n".join(history)
    assert events.count("approved by ") == 2 and "approved by Sam Smith" in events
    assert events.count("queued") == 2 and events.count(" sent ") + events.count("  sent") >= 2
    assert "queued (correction)" in events and "correction: new chief executive" in events

    assert run("status", "--csv", "audit.csv").exit_code == 0
    rows = list(csv.DictReader((work / "audit.csv").read_text("utf-8-sig").splitlines()))
    assert len(rows) == 5
    derby = [r for r in rows if r["authority"] == DERBY]
    assert [(r["kind"], r["message_state"], r["approved_by"]) for r in derby] == [
        ("first", "sent", "Jo Bloggs"),
        ("correction", "sent", "Sam Smith"),
    ]
    assert derby[1]["correction_reason"] == "new chief executive"
    assert all(r["sent_at"] for r in rows)


def spoil_derby(template: Path) -> None:
    """A mistake that shows in Derby's letter only: another council named in it."""
    document = Document(str(template))
    document.add_paragraph(
        "{% if authority == 'Derby City Council' %}Copied to Adur District Council.{% endif %}"
    )
    document.save(str(template))


def test_approve_refuses_a_letter_that_failed_proof_unless_told_why(work: Path) -> None:
    spoil_derby(work / "templates" / "letter.docx")
    assert run("build").exit_code == 0
    assert run("proof").exit_code == 1
    result = run("approve", "--by", "Jo Bloggs")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Approved 3 letters as checked by Jo Bloggs.",
        "1 letter not approved:",
        f"  - {DERBY}: failed the proof (Names no other council (Adur District Council)); fix it "
        'and build again, or letter-merge approve --despite-proof "why"',
    ]
    result = run("approve", "--by", "Jo Bloggs", "--despite-proof", "Adur is copied in on purpose")
    assert result.output == (
        "Approved 1 letter as checked by Jo Bloggs; 1 of them despite the proof (Adur is copied "
        "in on purpose); 3 already approved with the same PDF (kept as they were).\n"
    )
    with ledger(work) as book:
        (derby,) = book.approval_history(DERBY)
    assert derby.despite_proof == "Adur is copied in on purpose"


def test_a_letter_rebuilt_since_the_proof_is_not_approved(work: Path) -> None:
    change_derby(work)
    assert run("build").exit_code == 0
    result = run("approve", "--by", "Jo", "--only", "Derby City")
    assert result.exit_code == 1
    assert (
        f"  - {DERBY}: not proofed since it was built; letter-merge proof, look through it, and approve it"
        in result.output
    )


def test_a_refused_message_is_sent_again_with_retry_failed(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    approve_and_queue()
    recorder.script = ["550 5.1.1 Mailbox unavailable"]
    result = run("send", "--yes", "--limit", "1")
    assert result.exit_code == 1
    assert run("send", "--yes").output.splitlines()[-1] == "Sent 3 messages."
    dry = run("send", "--dry-run", "--retry-failed").output
    assert "[sent again: it failed before]" in dry
    result = run("send", "--yes", "--retry-failed")
    assert result.exit_code == 0, result.output
    assert "About to send 1 message, 1 sent again after failing:" in result.output
    assert len(recorder.received) == 4
    with ledger(work) as book:
        events = [e.event for e in book.events("Leicestershire County Council")]
    assert events == ["queued", "sending", "failed", "retry requested", "sending", "sent"]


def test_a_test_send_to_chosen_councils_says_where_the_real_one_goes(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    approve_and_queue()
    result = run("send", "--test-to", "me@ombudsman.example", "--only", "Leicestershire County")
    assert result.exit_code == 0, result.output
    (copy,) = recorder.received
    assert copy.rcpt_tos == ["me@ombudsman.example"]
    assert copy.subject == "[TEST] Annual Review letter 2020 – Leicestershire County Council"
    assert copy.body.startswith(
        "TEST COPY: this message was not sent to the council. The real one goes to\n"
        "  To: John Sinnott <ce@leicestershire-county-council.example.org>\n"
        "  Cc: link@cc.example.org\n"
    )
    assert run("status").output.splitlines()[0].startswith("queued:")


def test_a_refused_test_address_is_one_clear_line(work: Path, server: tuple[Recorder, int]) -> None:
    recorder, _ = server
    approve_and_queue()
    recorder.refuse_recipients = {"nobody@ombudsman.example"}
    result = run("send", "--test-to", "nobody@ombudsman.example", "--limit", "1")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: The mail server refused the test address nobody@ombudsman.example (550 "
        "nobody@ombudsman.example: 5.1.1 No such user); check the address. No message went to "
        "any council."
    )
    assert "Traceback" not in result.output


def test_a_server_s_own_error_is_said_to_be_the_server_s(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    approve_and_queue()
    recorder.script = ["500 Error: (FileNotFoundError)"]  # the server's trouble, not the address's
    result = run("send", "--test-to", "me@ombudsman.example", "--limit", "1")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: The mail server would not take the test copy; it answered: 500 Error: "
        "(FileNotFoundError). That is the server's own answer, not about the address: its "
        "administrator can say what it means. No message went to any council."
    )
    assert "test address" not in result.output


def test_without_a_terminal_a_real_send_needs_yes(work: Path, server: tuple[Recorder, int]) -> None:
    recorder, _ = server
    approve_and_queue()
    result = run("send")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Nothing was sent: there is no terminal to ask on. Run it again with --yes to send "
        "without asking."
    )
    assert recorder.connections == 0


def test_the_prompt_answered_no_sends_nothing(work: Path, server: tuple[Recorder, int]) -> None:
    if sys.platform == "win32":
        pytest.skip("needs a POSIX pseudo-terminal (pty); Windows has none")
    recorder, port = server
    approve_and_queue()
    # A real terminal: the command runs in a pseudo-terminal and is answered as a person would.
    returncode, text = at_a_terminal(work, ["send"], "n", asked="now? [y/N]")
    assert "About to send 4 messages:" in text
    assert f"  server  127.0.0.1:{port}, NOT encrypted: only for a server on this computer" in text
    assert "  from    Annual Review <annual.review@ombudsman.example>" in text
    assert "  time    under a minute at 6000 a minute" in text
    assert "Nothing was sent." in text
    assert returncode == 0
    assert recorder.connections == 0 and recorder.received == []


def test_no_pdf_says_which_approved_pdfs_it_removed(work: Path) -> None:
    assert run("approve", "--by", "Jo").exit_code == 0
    document = Document(str(work / "templates" / "letter.docx"))
    document.add_paragraph("With thanks.")
    document.save(str(work / "templates" / "letter.docx"))
    assert re.search(r"^out of date:\s+4  ", run("status").output, re.MULTILINE)
    result = run("build", "--no-pdf")
    assert result.exit_code == 0
    assert (
        "Removed 4 PDFs that no longer matched their changed letters (--no-pdf makes none in "
        "their place); 4 of them had been approved, and those approvals no longer hold: build "
        "with PDFs, proof and approve them again." in result.output
    )
    status = run("status").output
    assert re.search(r"^built \(\.docx only\):\s+4  built without its PDF", status, re.MULTILINE)
    assert "build failed" not in status
