"""One answer to where a letter stands and why, the same in proof, approve, queue, send, status
and the desk; and a correction that moves an average, decided on the record. Letters are made
with the stand-in for LibreOffice (tests/standin.py): what is tested is the decisions."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from starlette.testclient import TestClient

from letter_merge.config import load_settings
from letter_merge.desk.app import create_app
from letter_merge.desk.security import DeskKeys
from letter_merge.mail.inbox.delivery import read_deliveries
from letter_merge.mail.inbox.mailbox import Fetched
from letter_merge.records.ledger import SENDING, Ledger, Message
from letter_merge.records.proofs import Card, Check, Figure, ProofResult, read_cards, write_cards
from letter_merge.records.standing import STATES
from tests.helpers import Recorder, approve_and_queue, run
from tests.standin import TextPdfConverter

LEICESTERSHIRE = "Leicestershire County Council"
DERBY, BRIGHTON = "Derby City Council", "Brighton & Hove City Council"
PORT = 8799
ORIGIN = f"http://127.0.0.1:{PORT}"


def set_upheld(folder: Path, row: int, upheld: int) -> None:
    """Statistics!C<row>: a council's Upheld figure (rows: 2 Leicestershire, 3 Derby, ...)."""
    book = load_workbook(folder / "input" / "councils.xlsx")
    book["Statistics"][f"C{row}"] = upheld
    book.save(folder / "input" / "councils.xlsx")


def status_line(output: str, authority: str) -> str:
    (line,) = [line for line in output.splitlines() if f" {authority}  " in line]
    return line


def desk(folder: Path, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The desk's answer to GET `path`, or to POST `body` (as the page sends it)."""
    keys = DeskKeys()
    app = create_app(folder / "letter-merge.toml", keys, PORT, lambda _: TextPdfConverter())
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as client:
        assert client.get(f"/?token={keys.address_key}").status_code == 303
        if body is None:
            answer = client.get(path)
        else:
            headers = {"X-CSRF-Token": keys.csrf, "Origin": ORIGIN}
            answer = client.post(path, json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data


def set_contact(folder: Path, authority: str, column: str, value: str) -> None:
    """Write `value` in `authority`'s row of the Contacts sheet, under `column`."""
    path = folder / "input" / "councils.xlsx"
    book = load_workbook(path)
    sheet = book["Contacts"]
    headers = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[headers.index("Authority")].value == authority:
            row[headers.index(column)].value = value
    book.save(path)


def status_history_next(output: str) -> str:
    """The `next` line of `status NAME`."""
    (line,) = [line for line in output.splitlines() if line.startswith("  next ")]
    return line


def desk_status(folder: Path) -> dict[str, Any]:
    return desk(folder, "/api/status")


def test_a_figure_changed_after_the_build_is_out_of_date_everywhere_alike(work: Path) -> None:
    set_upheld(work, 2, 2)  # Leicestershire's Upheld 5 -> 2, and the build not run again
    why = (
        "its row: Upheld 5 → 2; the County Council average for satisfactory remedies provided by "
        "the authority moves from 20% to 50%; the County Council average for complaints upheld "
        "moves from 50% to 20%"
    )
    # The proof names it as out of date: a problem, not a pass.
    proof = run("proof")
    assert proof.exit_code == 1
    assert f"  - {LEICESTERSHIRE}: Built from the current inputs ({why}; build, proof and " in (
        proof.output
    )
    assert "3 passed" not in proof.output and "1 letter failed a check:" in proof.output
    # Its card shows the figures the letter states, with the workbook's flagged beside them.
    page = (work / "output" / "2020" / "proof" / "index.html").read_text(encoding="utf-8")
    card = page[page.index(f">{LEICESTERSHIRE}</a>") :].split("</article>")[0]
    assert re.search(r"50%<br><span class=\"moved\">workbook now: 20%</span>", card)
    # approve lists it as not approved, and why.
    approve = run("approve", "--by", "Jo Bloggs")
    assert approve.exit_code == 1
    assert approve.output.splitlines()[0] == "Approved 3 letters as checked by Jo Bloggs."
    assert (
        f"  - {LEICESTERSHIRE}: built from older inputs ({why}); letter-merge build, then proof "
        "and approve it" in (approve.output)
    )
    # status and the desk say the same, word for word.
    line = status_line(run("status").output, LEICESTERSHIRE)
    assert re.match(rf"out of date +{LEICESTERSHIRE}  {re.escape(why)}  \[proof: failed: ", line)
    (letter,) = [s for s in desk_status(work)["letters"] if s["authority"] == LEICESTERSHIRE]
    assert (letter["state"], letter["why"]) == ("out of date", why)
    # The same next step, each front end in its own words: a command, the desk's Build step.
    assert "letter-merge build" in status_history_next(run("status", "Leicestershire").output)
    assert letter["next"] == {
        "text": "Build it, then proof and approve it",
        "section": "build",
    }
    assert letter["proof"].startswith("failed: Built from the current inputs (")
    # Built again, proofed and approved: current, and everything agrees it is.
    assert run("build").exit_code == 0
    assert run("proof", "--only", "Leicestershire").exit_code == 0
    assert run("approve", "--by", "Jo Bloggs").exit_code == 0
    assert status_line(run("status").output, LEICESTERSHIRE).startswith("approved  ")


def test_proof_only_proofs_the_letters_named_and_keeps_the_others(work: Path) -> None:
    results = work / "output" / "2020" / "proof" / "results.json"
    before = {r["authority"]: r for r in json.loads(results.read_text(encoding="utf-8"))}
    result = run("proof", "--only", "Derby City")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2].startswith(
        "Proof of 1 letter (the page shows all 4, each as last proofed): "
    )
    after = {r["authority"]: r for r in json.loads(results.read_text(encoding="utf-8"))}
    assert sorted(after) == sorted(before)
    assert after[DERBY]["proofed_at"] >= before[DERBY]["proofed_at"]
    assert all(after[a] == before[a] for a in before if a != DERBY)
    # The page is still the whole batch, and the combined PDF holds every letter.
    page = (work / "output" / "2020" / "proof" / "index.html").read_text(encoding="utf-8")
    assert page.count('<article class="card') == 4
    combined = PdfReader(work / "output" / "2020" / "proof" / "all-letters.pdf")
    assert [item.title for item in combined.outline if not isinstance(item, list)] == [
        LEICESTERSHIRE,
        DERBY,
        BRIGHTON,
        "Adur District Council",
    ]
    # A letter built again since its card was made: its card says it was of an earlier PDF.
    assert run("build", "--force", "--only", "Adur").exit_code == 0
    assert run("proof", "--only", "Derby City").exit_code == 0
    page = (work / "output" / "2020" / "proof" / "index.html").read_text(encoding="utf-8")
    adur = page[page.index(">Adur District Council</a>") :].split("</article>")[0]
    assert "built again since this proof: proof it again" in adur


def test_the_proof_says_a_pdf_changed_after_the_build(work: Path) -> None:
    """Whether a PDF is as built is the records' answer: the proof's card says the same."""
    (pdf,) = (work / "output" / "2020" / "letters").glob("*Derby*.pdf")
    pdf.write_bytes(pdf.read_bytes() + b"\n% edited by hand\n")
    run("proof")
    page = (work / "output" / "2020" / "proof" / "index.html").read_text(encoding="utf-8")
    derby = page[page.index(">Derby City Council</a>") :].split("</article>")[0]
    assert "it was changed after the build; build it again" in derby
    results = work / "output" / "2020" / "proof" / "results.json"
    (derby_result,) = [
        r for r in json.loads(results.read_text(encoding="utf-8")) if r["authority"] == DERBY
    ]
    assert (
        "PDF as built (it was changed after the build; build it again)"
        in (derby_result["problems"])
    )
    assert status_line(run("status").output, DERBY).startswith("PDF changed  ")


def test_the_proof_cards_are_kept_beside_the_results(tmp_path: Path) -> None:
    """The cards a proof page shows are a record of the proof: written and read again in
    records/, and the result approving asks about is worked out from the card."""
    card = Card(
        DERBY,
        "Unitary Council",
        "Dear Sir or Madam, Chief Executive",
        "ce@derby.gov.uk",
        ("clerk@derby.gov.uk",),
        "../letters/Derby.pdf",
        2,
        [Figure("Upheld", 40, 55, rate_now=42, rate_moved=True)],
        [Check("Names its council", True), Check("No template tags left", False, "{{ name }}")],
        "data:image/jpeg;base64,AAAA",
        "ab" * 32,
    )
    path = tmp_path / "cards.json"
    write_cards(path, [card])
    assert read_cards(path) == {DERBY: card}
    assert card.result("2020-07-06T09:00:00+00:00") == ProofResult(
        DERBY, "ab" * 32, ("No template tags left ({{ name }})",), "2020-07-06T09:00:00+00:00"
    )
    # No proof yet, or cards an older letter-merge wrote: none to show again.
    assert read_cards(tmp_path / "none.json") == {}
    path.write_text('[{"authority": "Derby"}]', encoding="utf-8")
    assert read_cards(path) == {}


def send_all(work: Path, server: tuple[Recorder, int]) -> None:
    approve_and_queue()
    assert run("send", "--yes").exit_code == 0
    assert len(server[0].received) == 4


def test_a_correction_that_moves_an_average_kept_as_sent(
    work: Path, server: tuple[Recorder, int]
) -> None:
    send_all(work, server)
    set_upheld(work, 3, 3)  # Derby's Upheld corrected, 5 -> 3: the Unitary average moves
    status = run("status").output
    assert (
        "The Unitary Council average for complaints upheld moves from 50% to 40%: 2 letters "
        "already sent state 50%. Decide, on the record:" in status
    )
    assert status_line(status, BRIGHTON).startswith("changed since sent")
    assert "the Unitary Council average for complaints upheld moves from 50% to 40%" in (
        status_line(status, BRIGHTON)
    )
    result = run("averages", "keep", "--by", "Jo Bloggs")
    assert result.exit_code == 0, result.output
    assert "The Unitary Council average (upheld): kept at 50% in every letter.\n" in result.output
    status = run("status").output
    assert status_line(status, BRIGHTON).startswith("sent  "), "no false 'changed'"
    assert "Decide, on the record" not in status
    derby = status_line(status, DERBY)
    assert derby.startswith("changed since sent") and "its row: Upheld 5 → 3" in derby
    assert "average" not in derby, "the corrected letter states the average as sent"
    # The corrected letter states 30% against the Unitary average as sent, 50%.
    assert run("build", "--yes").exit_code == 0
    manifest = json.loads((work / "output" / "2020" / "manifest.json").read_text(encoding="utf-8"))
    (record,) = [r for r in manifest["letters"] if r["authority"] == DERBY]
    assert (record["figures"]["upheld_rate"], record["figures"]["upheld_rate_average"]) == (30, 50)
    history = run("status", "Brighton").output
    assert "average decided: the Unitary Council average for complaints upheld: kept as sent " in (
        history
    )
    assert "by Jo Bloggs" in history


def test_a_correction_that_moves_an_average_corrected_in_every_letter(
    work: Path, server: tuple[Recorder, int]
) -> None:
    send_all(work, server)
    set_upheld(work, 3, 3)
    moved = desk_status(work)["moved_averages"]
    assert [m["decided"] for m in moved] == ["", ""]  # remedies and upheld: both undecided
    assert "complaints upheld moves from 50% to 40%: 2 letters already sent state 50%" in str(moved)
    # Said as a sentence, with how many letters each choice reaches and the type it is about.
    assert all(m["text"].startswith("The Unitary Council average for ") for m in moved)
    assert [(m["type"], m["letters"]) for m in moved] == [("Unitary Council", 2)] * 2
    # Decided at the desk, as the CLI would (letter-merge averages correct --by "Jo Bloggs").
    decided = desk(work, "/api/averages", {"choice": "correct", "by": "Jo Bloggs"})["decided"]
    assert "The Unitary Council average (upheld): corrected to 40% in every letter: " in (
        "\n".join(decided)
    )
    moved = desk_status(work)["moved_averages"]
    assert all(m["decided"].startswith("correct (Jo Bloggs, ") for m in moved)
    brighton = status_line(run("status").output, BRIGHTON)
    assert brighton.startswith("changed since sent")
    assert "the office chose to correct every letter it reaches: Jo Bloggs" in brighton
    assert run("build", "--yes").exit_code == 0
    assert run("proof").exit_code == 0
    assert run("approve", "--by", "Jo Bloggs").exit_code == 0
    queued = run("queue", "--correction", "Derby", "--reason", "upheld figure corrected")
    assert queued.exit_code == 0, queued.output
    assert queued.output.startswith("Queued 2 messages; 2 of them corrections")
    assert run("send", "--yes").exit_code == 0
    status = run("status").output
    assert re.search(r"^sent:\s+4  ", status, re.MULTILINE), "no false 'changed'"
    run("status", "--csv", "audit.csv")
    rows = list(csv.DictReader((work / "audit.csv").read_text("utf-8-sig").splitlines()))
    (brighton_fix,) = [r for r in rows if r["authority"] == BRIGHTON and r["kind"] == "correction"]
    assert brighton_fix["correction_reason"] == (
        "the Unitary Council average for complaints upheld moved from 50% to 40% after "
        "Derby City Council was corrected; the Unitary Council average for satisfactory "
        "remedies provided by the authority moved from 20% to 25% after Derby City Council was "
        "corrected"
    )


def dsn(message: Message, action: str, status: str) -> bytes:
    """A delivery status notification (RFC 3464) about `message`'s first recipient."""
    boundary = "report-boundary"
    return (
        f"From: MAILER-DAEMON@mail.example\r\nTo: annual.review@ombudsman.example\r\n"
        f"Subject: Delivery Status Notification\r\nMessage-ID: <{action}@mail.example>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        f'boundary="{boundary}"\r\n\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\n'
        f"Your message was {action}.\r\n--{boundary}\r\n"
        f"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example\r\n\r\n"
        f"Final-Recipient: rfc822; {message.recipients[0]}\r\nAction: {action}\r\n"
        f"Status: {status}\r\n\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message.message_id}\r\n\r\n--{boundary}--\r\n"
    ).encode()


def test_every_state_in_turn(work: Path, server: tuple[Recorder, int]) -> None:
    """One council through every state it can be in, each as status and the desk name it."""
    seen: list[str] = []

    def state() -> str:
        line = status_line(run("status").output, DERBY)
        (desk,) = [s for s in desk_status(work)["letters"] if s["authority"] == DERBY]
        found = line.split("  ")[0].strip()
        assert desk["state"] == found, (desk, line)
        seen.append(found)
        return found

    pdf = work / "output" / "2020" / "letters" / f"{DERBY} - Annual Review 2020.pdf"
    assert state() == "proofed"  # built and proofed by the fixture
    pdf_bytes = pdf.read_bytes()
    pdf.write_bytes(pdf_bytes + b"\n% edited by hand")
    assert state() == "PDF changed"
    assert run("build").exit_code == 0  # made anew: a PDF nobody proofed
    assert state() == "built"
    assert (
        run("approve", "--by", "Jo", "--only", "Derby City", "--despite-proof", "looked").exit_code
        == 0
    )
    assert state() == "approved"
    set_upheld(work, 3, 3)
    assert state() == "out of date"
    set_upheld(work, 3, 5)
    assert run("build", "--no-pdf", "--only", "Derby", "--force").exit_code == 0
    assert state() == "built (.docx only)"
    assert run("build", "--only", "Derby").exit_code == 0
    assert state() == "approval void"
    assert run("proof", "--only", "Derby").exit_code == 0
    assert state() == "proofed"
    assert run("approve", "--by", "Jo", "--only", "Derby City").exit_code == 0
    assert "Queued 1 message" in run("queue").output  # the others: not approved, and said so
    assert state() == "queued"
    server[0].script = ["550 5.1.1 No such mailbox"]
    assert run("send", "--yes").exit_code == 1
    assert state() == "failed"
    assert run("send", "--yes", "--retry-failed").exit_code == 0
    assert state() == "sent"
    # A bounce in the mailbox (read here from a list: tests/test_delivery.py reads a real IMAP
    # server) makes it "bounced"; a later report that it arrived after all, "sent" again.
    settings = load_settings(work / "letter-merge.toml", environ={})
    (derby,) = [
        m
        for m in Ledger(settings.paths.ledger, read_only=True).messages()
        if m.authority == DERBY and m.state == "sent"
    ]
    read_deliveries(
        settings, reader=lambda *_, **__: [Fetched("stand-in:1", dsn(derby, "failed", "5.1.1"))]
    )
    assert state() == "bounced"
    read_deliveries(
        settings, reader=lambda *_, **__: [Fetched("stand-in:2", dsn(derby, "delivered", "2.0.0"))]
    )
    assert state() == "sent"
    # Derby's address changes: the letter sent is sent again, as it was, to the new one.
    set_contact(work, DERBY, "Email", "ce.new@derby.example.org")
    assert state() == "sent to an old address"
    assert run("queue", "--correction", "Derby", "--reason", "new address").exit_code == 1
    resent = run("queue", "--resend", "Derby")
    assert resent.output.startswith("Queued 1 message; 1 of them re-sent"), resent.output
    assert state() == "queued"
    assert run("send", "--yes").exit_code == 0
    assert state() == "sent"
    set_upheld(work, 3, 3)
    assert state() == "changed since sent"
    assert run("averages", "keep", "--by", "Jo").exit_code == 0
    assert run("build", "--only", "Derby", "--yes").exit_code == 0
    assert run("proof", "--only", "Derby").exit_code == 0
    assert run("approve", "--by", "Jo", "--only", "Derby City").exit_code == 0
    assert state() == "correction approved"
    queued = run("queue", "--correction", "Derby", "--reason", "figure corrected").output
    assert queued.startswith("Queued 1 message; 1 of them corrections (figure corrected)")
    with Ledger(work / "output" / "2020" / "ledger.sqlite") as ledger:
        (waiting,) = [m for m in ledger.messages(authority=DERBY) if m.state == "queued"]
        ledger.set_state(waiting.message_id, SENDING)  # as a send cut off mid-message leaves it
    assert state() == "in doubt"
    settings = load_settings(work / "letter-merge.toml", environ={})
    assert settings.year == 2020
    missing = set(STATES) - set(seen) - {"not built", "build failed", "proof failed"}
    assert missing == set(), "every state a letter of the batch can reach here, in turn"


def test_every_link_on_the_proof_page_the_desk_serves_works(work: Path) -> None:
    keys = DeskKeys()
    app = create_app(work / "letter-merge.toml", keys, PORT, lambda _: TextPdfConverter())
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as client:
        assert client.get(f"/?token={keys.address_key}").status_code == 303
        page = client.get("/proof/")
        assert page.status_code == 200
        links = set(re.findall(r'(?:href|src)="([^"#]+)"', page.text))
        links = {link for link in links if not link.startswith(("data:", "http", "mailto:"))}
        assert "all-letters.pdf" in links and len(links) >= 5
        for link in links:
            target = urljoin(f"{ORIGIN}/proof/", html.unescape(link))
            answer = client.get(target)
            assert answer.status_code == 200, (link, answer.status_code)


def test_letters_recorded_with_their_addresses_counted_stay_current(work: Path) -> None:
    """Letters built before addresses were set apart from what a letter is made from (their
    hash counted email and cc) are not out of date for that alone."""
    from letter_merge.batch import load_batch
    from letter_merge.records.sources import source_sha256, template_identity

    batch = load_batch(load_settings(work / "letter-merge.toml", environ={}))
    letters = {letter.council.authority: letter for letter in batch.letters()}
    path = work / "output" / "2020" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for record in manifest["letters"]:
        letter = letters[record["authority"]]
        record["source_sha256"] = source_sha256(template_identity(batch), letter, every_field=True)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    status = run("status").output
    assert "out of date" not in status and "proofed:" in status
    assert "Built 0 letters; 4 already up to date" in run("build").output


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_any_console_any_name(work: Path, encoding: str) -> None:
    """Output to a file or a pipe in a code page without '→' (Windows writes redirected output
    in its ANSI code page), or in plain ASCII: a plain stand-in, never a traceback."""
    set_upheld(work, 2, 2)  # Leicestershire's why now reads "Upheld 5 → 2"
    environ = {**os.environ, "PYTHONIOENCODING": encoding}
    environ.pop("PYTHONUTF8", None)
    done = subprocess.run(
        [sys.executable, "-m", "letter_merge", "status"],
        cwd=work,
        env=environ,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(encoding, "replace")
    assert b"Traceback" not in done.stderr
    # A code page without the arrow gets "->"; a stream that says it is plain ASCII, which
    # click takes for a misconfigured console, gets UTF-8.
    written = b"its row: Upheld 5 -> 2" if encoding == "cp1252" else "Upheld 5 → 2".encode()
    assert written in done.stdout
