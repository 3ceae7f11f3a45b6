"""A whole July after the letters have gone: every letter sent, then each change staff make
(rebuilding everything, a figure that moves an average, a new address, a broken workbook),
with what status, the desk (through its API) and queue say at every step, and what is finally
sent: exactly the letters that differ, each once."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from starlette.testclient import TestClient

from letter_merge.config import load_settings
from letter_merge.desk.app import create_app
from letter_merge.desk.security import DeskKeys
from letter_merge.mail.inbox.delivery import read_deliveries
from letter_merge.mail.inbox.mailbox import Fetched
from letter_merge.records.ledger import Ledger
from tests.helpers import Recorder, run
from tests.standin import TextPdfConverter
from tests.test_records import (
    BRIGHTON,
    DERBY,
    LEICESTERSHIRE,
    ORIGIN,
    PORT,
    desk,
    dsn,
    send_all,
    set_contact,
    set_upheld,
    status_line,
)

ADUR = "Adur District Council"
ALL = (LEICESTERSHIRE, DERBY, BRIGHTON, ADUR)


def desk_says(folder: Path) -> dict[str, dict[str, Any]]:
    """The desk's status, by council; and nothing it says names a command."""
    answer = desk(folder, "/api/status")
    never_a_command(answer)
    return {letter["authority"]: letter for letter in answer["letters"]}


def never_a_command(answer: object) -> None:
    text = json.dumps(answer)
    assert not re.search(r"letter-merge [a-z]|--[a-z]", text), text


def states(folder: Path) -> dict[str, str]:
    """Each council's state as status prints it, checked against the desk's."""
    output = run("status").output
    said = {name: status_line(output, name).split("  ")[0].strip() for name in ALL}
    assert {name: letter["state"] for name, letter in desk_says(folder).items()} == said
    return said


def next_line(name: str) -> str:
    (line,) = [line for line in run("status", name).output.splitlines() if "  next " in line]
    return line


def test_a_whole_july(work: Path, server: tuple[Recorder, int]) -> None:
    recorder, _ = server
    send_all(work, server)
    assert set(states(work).values()) == {"sent"}
    assert "4 letters sent; the mailbox not read yet." in run("status").output
    assert desk_says(work)[DERBY]["next"]["section"] == "status"  # read the mailbox

    # 1. Everything built again "to be sure": nothing changed, so nothing is a correction.
    assert desk(work, "/api/build/plan", {})["confirm"] == ""  # nothing to build, nothing asked
    rebuilt = run("build", "--force", "--yes")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "4 letters of these were sent already." in rebuilt.output
    assert "4 letters already sent built again: 0 differ from what was sent (they stay sent)." in (
        rebuilt.output
    )
    assert set(states(work).values()) == {"sent"}
    queued = run("queue")
    assert queued.output.startswith("Queued 0 messages; 4 were already queued or sent.")
    assert len(recorder.received) == 4

    # 2. Derby's figure corrected: it moves the Unitary average Brighton's letter states too.
    set_upheld(work, 3, 3)
    said = states(work)
    assert (said[DERBY], said[BRIGHTON]) == ("changed since sent", "changed since sent")
    assert (said[LEICESTERSHIRE], said[ADUR]) == ("sent", "sent")
    status = run("status").output
    assert "complaints upheld moves from 50% to 40%: 2 letters already sent state 50%" in status
    assert "letter-merge averages keep (or correct)" in next_line("Derby")
    assert desk_says(work)[BRIGHTON]["next"]["text"] == "Decide about the averages that moved"
    held = run("build")  # the decision comes first: what Derby's letter states depends on it
    assert held.exit_code == 1
    assert "2 letters not built: a decision comes first" in held.output
    decided = run("averages", "correct", "--by", "Jo Bloggs")
    assert decided.exit_code == 0, decided.output
    records = json.loads((work / "output" / "2020" / "decisions.json").read_text("utf-8"))
    assert {name for decision in records for name in decision["letters"]} == {DERBY, BRIGHTON}
    # The desk asks before building them, in the words the command line says too.
    asked = desk(work, "/api/build/plan", {})["confirm"]
    assert asked.startswith("2 letters of these were sent already. Building them again changes ")
    assert asked.endswith(" Build the 2 letters sent again?")
    unasked = run("build")  # no terminal to ask on: as at one, nothing without --yes
    assert unasked.exit_code == 2 and "Run it again with --yes" in unasked.output
    built = run("build", "--yes")
    assert built.exit_code == 0, built.output
    assert "2 letters already sent built again: 2 differ from what was sent" in built.output
    # Built again: what it states now is named, not "something else".
    assert "the letter built since states the average for complaints upheld 50% → 40%" in (
        status_line(run("status").output, BRIGHTON)
    )
    # Built again: the next step is the proof, not another build.
    assert "letter-merge proof" in next_line("Derby")
    assert desk_says(work)[DERBY]["next"]["section"] == "proof"
    assert "Decide, on the record" not in run("status").output  # asked once
    assert run("proof").exit_code == 0
    assert run("approve", "--by", "Jo Bloggs").exit_code == 0
    assert set(states(work).values()) == {"sent", "correction approved"}
    queued = run("queue", "--correction", "Derby", "--reason", "upheld figure keyed wrongly")
    assert queued.exit_code == 0, queued.output
    assert queued.output.startswith("Queued 2 messages; 2 of them corrections")
    assert run("send", "--yes").exit_code == 0
    assert set(states(work).values()) == {"sent"}

    # 3. Leicestershire's chief executive moves to another address: the letter sent goes
    # again, as it was, to the new one, on the record.
    set_contact(work, LEICESTERSHIRE, "Email", "new.ce@leicestershire.example.org")
    assert states(work)[LEICESTERSHIRE] == "sent to an old address"
    assert "new.ce@leicestershire.example.org" in status_line(run("status").output, LEICESTERSHIRE)
    assert desk_says(work)[LEICESTERSHIRE]["next"]["section"] == "queue"
    refused = run("queue", "--correction", "Leicestershire", "--reason", "new address")
    assert "there is nothing to correct" in refused.output
    again = run("queue", "--resend", "Leicestershire")
    assert again.output.startswith("Queued 1 message; 1 of them re-sent"), again.output
    assert run("send", "--yes").exit_code == 0
    assert states(work)[LEICESTERSHIRE] == "sent"
    history = run("status", "Leicestershire").output
    assert history.count("  sent ") >= 2 and "re-sent to new.ce@leicestershire.example.org" in (
        history
    )

    # 4. A workbook broken mid-summer: status says what it knows and why it cannot say more.
    book = load_workbook(work / "input" / "councils.xlsx")
    book["Statistics"]["C5"] = "twelve"
    book.save(work / "input" / "councils.xlsx")
    broken = run("status")
    assert "cannot be told until 1 problem in the inputs is fixed" in broken.output
    assert "'twelve' is not a whole number" in broken.output
    answer = desk(work, "/api/status")
    never_a_command(answer)
    assert answer["unknown_because"][0]["items"][0]["message"].startswith("'twelve'")
    assert {letter["next"]["text"] for letter in answer["letters"]} == {
        "Fix what the Check step lists"
    }
    book["Statistics"]["C5"] = 0
    book.save(work / "input" / "councils.xlsx")

    # What went: the four letters, two corrections, one re-send; never one twice.
    sent = [(m.rcpt_tos[0], m.subject) for m in recorder.received]
    assert len(sent) == 7
    assert Counter(m.message_id for m in recorder.received).most_common(1)[0][1] == 1
    corrected = [to for to, subject in sent if subject.startswith("Corrected: ")]
    assert len(corrected) == 2
    assert sent[-1][0] == "new.ce@leicestershire.example.org"


def test_an_address_changed_twice_sends_once_to_the_last(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    send_all(work, server)
    set_contact(work, DERBY, "Email", "first.new@derby.example.org")
    assert run("queue", "--resend", "Derby").exit_code == 0
    set_contact(work, DERBY, "Email", "second.new@derby.example.org")
    again = run("queue", "--resend", "Derby")
    assert again.output.startswith("Queued 1 message; 1 of them re-sent"), again.output
    assert run("send", "--yes").exit_code == 0
    assert [m.rcpt_tos for m in recorder.received[4:]] == [["second.new@derby.example.org"]]
    assert states(work)[DERBY] == "sent"


def test_a_refused_re_send_is_sent_again_never_twice(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    send_all(work, server)
    set_contact(work, DERBY, "Email", "new.ce@derby.example.org")
    assert run("queue", "--resend", "Derby").exit_code == 0
    recorder.refuse_recipients = {"new.ce@derby.example.org"}
    assert run("send", "--yes").exit_code == 1
    assert states(work)[DERBY] == "failed"
    again = run("queue", "--resend", "Derby")  # the refused one waits: no second copy
    assert again.output.startswith("Queued 0 messages;"), again.output
    recorder.refuse_recipients = set()
    assert run("send", "--yes", "--retry-failed").exit_code == 0
    assert [m.rcpt_tos for m in recorder.received[4:]] == [["new.ce@derby.example.org"]]


def test_a_correction_no_longer_needed_is_withdrawn(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    send_all(work, server)
    sheet = load_workbook(work / "input" / "councils.xlsx")["Contacts"]
    headers = [cell.value for cell in sheet[1]]
    (row,) = [r for r in sheet.iter_rows(min_row=2) if r[0].value == ADUR]
    surname = str(row[headers.index("Surname")].value)
    set_contact(work, ADUR, "Surname", "Okafor")  # Adur's letter names another person
    assert run("build", "--yes").exit_code == 0
    assert run("proof").exit_code == 0
    assert run("approve", "--by", "Jo").exit_code == 0
    queued = run("queue", "--correction", "Adur", "--reason", "new chief executive")
    assert queued.output.startswith("Queued 1 message; 1 of them corrections"), queued.output
    set_contact(work, ADUR, "Surname", surname)  # after all, no: as it was sent
    assert run("build", "--yes").exit_code == 0
    withdrawn = run("queue")
    assert withdrawn.exit_code == 0, withdrawn.output
    assert states(work)[ADUR] == "sent"
    assert run("send", "--yes").exit_code == 0
    assert len(recorder.received) == 4  # nothing more went


def test_a_council_taken_out_after_sending_stays_on_the_record(
    work: Path, server: tuple[Recorder, int]
) -> None:
    send_all(work, server)
    book = load_workbook(work / "input" / "councils.xlsx")
    for sheet in ("Contacts", "Statistics"):
        (number,) = [r[0].row for r in book[sheet].iter_rows(min_row=2) if r[0].value == ADUR]
        assert number is not None
        book[sheet].delete_rows(number)
    book.save(work / "input" / "councils.xlsx")
    for built in (False, True):  # before the next build and after it
        if built:
            assert run("build").exit_code == 0
        said = run("status")
        assert said.exit_code == 0, said.output
        assert "cannot be told" not in said.output
        line = status_line(said.output, ADUR)
        assert line.startswith("sent "), line
        assert "no longer in the workbook; its letter stays as sent" in line
        history = run("status", "Adur")
        assert history.exit_code == 0, history.output
        assert "  next    nothing" in history.output
        (letter,) = [x for x in history.output.splitlines() if x.startswith("  letter  ")]
        assert letter.startswith("  letter  letters/") and letter.endswith(
            ".pdf  sent to ce@adur-district-council.example.org"
        )
        gone = desk_says(work)[ADUR]
        assert gone["state"] == "sent" and gone["next"]["section"] == ""
        assert gone["why"].endswith("its letter stays as sent")


def edit_template(folder: Path, old: str, new: str) -> None:
    """Reword the letter template: `old` becomes `new` wherever it is in its body."""
    path = folder / "templates" / "letter.docx"
    with zipfile.ZipFile(path) as package:
        parts = {info: package.read(info) for info in package.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for info, data in parts.items():
            if info.filename == "word/document.xml":
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode())
            package.writestr(info, data)


def test_a_typo_fixed_after_sending_is_kept_as_sent_on_the_record(
    work: Path, server: tuple[Recorder, int]
) -> None:
    recorder, _ = server
    send_all(work, server)
    edit_template(work, "There are a range", "There is a range")
    assert set(states(work).values()) == {"changed since sent"}
    assert "the template changed" in status_line(run("status").output, DERBY)
    refused = run("build")  # no terminal to ask on: as at one, nothing without --yes
    assert refused.exit_code == 2 and "Run it again with --yes" in refused.output
    assert set(states(work).values()) == {"changed since sent"}
    assert run("build", "--yes").exit_code == 0

    # What changed, in words, before and after: the paragraph, not "something else".
    status = run("status").output
    reworded = '"There are a range of resources…" now reads "There is a range of resources…"'
    for name in ALL:
        assert reworded in status_line(status, name)
    assert "4 letters sent read otherwise now: " in status
    assert "letter-merge decide keep (or correct)" in next_line("Derby")
    answer = desk(work, "/api/status")
    never_a_command(answer)
    (waiting,) = answer["reworded"]
    assert reworded in waiting["text"] and sorted(waiting["letters"]) == sorted(ALL)
    assert {x["next"]["text"] for x in answer["letters"]} == {
        "Decide about the letters reworded since sending"
    }
    # queue names the real cause, not "its PDF changed after it was approved".
    queued = run("queue")
    assert queued.output.startswith("Queued 0 messages"), queued.output
    assert "its wording changed since it was sent" in queued.output
    assert "its PDF changed" not in queued.output

    # Kept as sent, on the record: who and why.
    assert "Say why" in run("decide", "keep", "--by", "Jo Bloggs").output
    kept = run("decide", "keep", "--reason", "a typo fixed in the template", "--by", "Jo Bloggs")
    assert kept.exit_code == 0, kept.output
    assert kept.output.startswith("4 letters reworded since sent (")
    assert "kept as sent" in kept.output
    assert set(states(work).values()) == {"sent"}
    assert "kept as sent by Jo Bloggs" in status_line(run("status").output, DERBY)
    assert "Decide, on the record" not in run("status").output
    assert "wording decided" in run("status", "Derby").output
    queued = run("queue")
    assert queued.output.startswith("Queued 0 messages; 4 were already queued or sent."), (
        queued.output
    )
    assert run("send", "--yes").exit_code == 0
    assert len(recorder.received) == 4  # 0 corrections: every letter still "sent"
    assert set(states(work).values()) == {"sent"}
    assert "Nothing waits for a decision" in run("decide", "keep", "--by", "Jo").output

    # A second rewording, decided at the desk: corrected this time, each once.
    edit_template(work, "Finally, we compare", "Lastly, we compare")
    assert run("build", "--yes").exit_code == 0
    decided = desk(
        work,
        "/api/decide",
        {"choice": "correct", "by": "Sam Lee", "reason": "the wording matters", "type": ""},
    )
    never_a_command(decided)
    (said,) = decided["decided"]
    assert said.startswith("4 letters reworded since sent (") and "to be corrected" in said
    assert desk_says(work)[DERBY]["next"]["section"] == "proof"
    early = run("queue")  # before its proof: said as it is, not "its PDF changed"
    assert "the letter built since it was sent is not approved yet" in early.output, early.output
    assert run("proof").exit_code == 0
    assert run("approve", "--by", "Sam Lee").exit_code == 0
    queued = run("queue")  # the decision is the reason: no names needed
    assert queued.output.startswith("Queued 4 messages; 4 of them corrections"), queued.output
    assert run("send", "--yes").exit_code == 0
    corrected = [m for m in recorder.received[4:] if m.subject.startswith("Corrected: ")]
    assert len(corrected) == 4 == len(recorder.received) - 4
    assert set(states(work).values()) == {"sent"}


def test_letters_sent_before_the_ledger_kept_what_they_state(
    work: Path, server: tuple[Recorder, int]
) -> None:
    """A ledger from before (its messages keep no statement): a build reads what each letter
    sent states from its .docx before making it again, so a rebuild makes no correction."""
    send_all(work, server)
    with sqlite3.connect(work / "output" / "2020" / "ledger.sqlite") as ledger:
        ledger.execute("UPDATE messages SET statement = '', figures = ''")
    rebuilt = run("build", "--force", "--yes")
    assert "0 differ from what was sent (they stay sent)" in rebuilt.output, rebuilt.output
    assert set(states(work).values()) == {"sent"}


def test_keep_is_refused_when_the_letters_sent_disagree(
    work: Path, server: tuple[Recorder, int]
) -> None:
    """Derby's correction went, Brighton's not yet: the Unitary letters sent state two averages.
    When it moves again, keeping "the average as sent" cannot make them agree: say so."""
    send_all(work, server)
    set_upheld(work, 3, 3)
    assert run("averages", "correct", "--by", "Jo").exit_code == 0
    for step in (["build", "--yes"], ["proof"], ["approve", "--by", "Jo"]):
        assert run(*step).exit_code == 0
    assert run("queue", "--correction", "Derby", "--reason", "figure").exit_code == 0
    assert run("send", "--yes", "--limit", "1").exit_code == 0  # Derby's correction only
    set_upheld(work, 3, 1)
    kept = run("averages", "keep", "--by", "Jo")
    assert kept.exit_code == 2
    assert "do not all state the same average" in kept.output
    assert run("averages", "correct", "--by", "Jo").exit_code == 0


def desk_answer(folder: Path, path: str, body: object = None, **raw: Any) -> tuple[int, Any]:
    """The desk's status code and answer to GET `path`, or to POST `body` (or `raw` content),
    refusals included."""
    keys = DeskKeys()
    app = create_app(folder / "letter-merge.toml", keys, PORT, lambda _: TextPdfConverter())
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as client:
        assert client.get(f"/?token={keys.address_key}").status_code == 303
        if body is None and not raw:
            answer = client.get(path)
        else:
            headers = {"X-CSRF-Token": keys.csrf, "Origin": ORIGIN, **raw.pop("headers", {})}
            if raw:
                answer = client.post(path, headers=headers, **raw)
            else:
                answer = client.post(path, json=body, headers=headers)
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.text


def contact(folder: Path, authority: str, column: str) -> str:
    sheet = load_workbook(folder / "input" / "councils.xlsx")["Contacts"]
    headers = [cell.value for cell in sheet[1]]
    (row,) = [r for r in sheet.iter_rows(min_row=2) if r[0].value == authority]
    return str(row[headers.index(column)].value)


def test_a_re_send_shows_where_it_went(work: Path, server: tuple[Recorder, int]) -> None:
    """After a re-send to a corrected address, status, the history, the CSV and the desk show
    the address it last went to and the one before; the desk's next step opens its panel with
    the council chosen, and its refusals keep the desk's names as written."""
    send_all(work, server)
    old = contact(work, LEICESTERSHIRE, "Email")
    new = "new.ce@leicestershire.example.org"
    set_contact(work, LEICESTERSHIRE, "Email", new)
    row = desk_says(work)[LEICESTERSHIRE]
    assert row["next"] == {
        "text": "Send the same letter to the workbook's new address "
        "(Sending a letter again, in Queue)",
        "section": "queue",
        "panel": "resend",
        "field": "queue-resends",
        "council": LEICESTERSHIRE,
    }
    # A correction refused: the next step keeps the desk's own capitals.
    code, said = desk_answer(work, "/api/queue", {"corrections": ["Leicestershire"], "reason": "x"})
    assert code == 200, said
    (skipped,) = said["skipped"]
    assert "(Sending a letter again, in Queue)" in skipped["why"], skipped
    assert skipped["next"]["panel"] == "resend"

    assert run("queue", "--resend", "Leicestershire").exit_code == 0
    assert run("send", "--yes").exit_code == 0
    cc = "link@cc.example.org"  # the Cc went both times
    earlier = f"sent to {new}, {cc} (earlier to {old}, {cc})"
    history = run("status", "Leicestershire").output
    assert (
        f"  letter  letters/Leicestershire County Council - Annual Review 2020.pdf  {earlier}"
        in (history)
    ), history
    assert f"(earlier to {old}, {cc})" in status_line(run("status").output, LEICESTERSHIRE)
    row = desk_says(work)[LEICESTERSHIRE]
    assert (row["email"], row["email_before"]) == (f"{new}, {cc}", f"{old}, {cc}")
    assert f"to {new}, {cc} (earlier to {old}, {cc})" in row["why"]
    code, told = desk_answer(work, "/api/history", {"name": "Leicestershire"})
    assert (told["sent_to"], told["sent_before"]) == (f"{new}, {cc}", f"{old}, {cc}")
    assert run("status", "--csv", "audit.csv").exit_code == 0
    with open("audit.csv", encoding="utf-8-sig", newline="") as file:
        rows = [r for r in csv.DictReader(file) if r["authority"] == LEICESTERSHIRE]
    assert {(r["email"], r["email_before"]) for r in rows} == {(f"{new}; {cc}", f"{old}; {cc}")}
    assert [r["recipients"] for r in rows] == [f"{old}; {cc}", f"{new}; {cc}"]
    # Derby, sent once: no earlier address anywhere.
    assert desk_says(work)[DERBY]["email_before"] == ""
    assert "earlier to" not in run("status", "Derby").output


def test_help_shows_whole_first_sentences_and_every_state() -> None:
    from letter_merge.cli import cli
    from letter_merge.records.standing import STATES

    listed = " ".join(run("--help").output.split())
    for name, command in cli.commands.items():
        first = (command.help or "").split("\n\n")[0]
        sentence = " ".join(first.split(". ")[0].split()).rstrip(".")
        assert f"{name} {sentence}" in listed, (name, sentence)
    assert "..." not in listed.split("Commands:")[1]  # nothing cut short
    told = " ".join(run("status", "--help").output.split())
    for state in STATES:
        assert state in told, state
    assert "{states}" not in told


def test_in_doubt_letter_by_letter(work: Path, server: tuple[Recorder, int]) -> None:
    """Two re-sends cut off mid-message: the desk's plan and --dry-run list the same, the why
    names the council and the address to ask, each is settled on its own (one from the command
    line, one from the desk), and the plan says that what goes is a re-send."""
    recorder, _ = server
    send_all(work, server)
    derby, brighton = "ce@derby.new.example.org", "ce@brighton.new.example.org"
    set_contact(work, DERBY, "Email", derby)
    set_contact(work, BRIGHTON, "Email", brighton)
    assert run("queue", "--resend", "Derby", "--resend", "Brighton").exit_code == 0
    for _ in range(2):
        recorder.script = ["drop"]
        assert run("send", "--yes", "--limit", "1").exit_code == 1
    assert {name for name, state in states(work).items() if state == "in doubt"} == {
        DERBY,
        BRIGHTON,
    }
    why = status_line(run("status").output, DERBY)
    assert f"ask {DERBY} at {derby}" in why, why
    assert f"ask {DERBY} at {derby}" in desk_says(work)[DERBY]["why"]

    # The plan: the same in both, the messages in doubt included, each with whom to ask.
    dry = run("send", "--dry-run")
    assert "Would send 0 messages:" in dry.output
    assert f"  - {DERBY}: message " in dry.output and f"ask {BRIGHTON} at {brighton}" in dry.output
    plan = desk(work, "/api/send/plan", {})
    never_a_command(plan)
    assert plan["count"] == 0
    assert [(d["authority"], f"ask {d['authority']} at" in d["why"]) for d in plan["in_doubt"]] == [
        (DERBY, True),
        (BRIGHTON, True),
    ]

    # Settled one at a time: Derby arrived (the command line), Brighton did not (the desk).
    settled = run("send", "--resolve", "sent", "--only", "Derby")
    assert settled.output == f"Settled 1 message in doubt as sent: {DERBY}.\n", settled.output
    assert states(work)[BRIGHTON] == "in doubt" and states(work)[DERBY] == "sent"
    assert desk(work, "/api/settle", {"outcome": "retry", "only": ["Brighton"]}) == {
        "settled": [BRIGHTON]
    }
    assert states(work)[BRIGHTON] == "queued"
    assert run("send", "--resolve", "sent", "--only", "Brighton").output == (
        "Settled 0 messages in doubt as sent.\n"
    )

    # What goes now is said to be a re-send, in both.
    planned = run("send", "--dry-run").output
    assert "Would send 1 message:" in planned
    assert f"  - {BRIGHTON}: {brighton}" in planned
    assert "[re-send: the letter sent before" in planned
    plan = desk(work, "/api/send/plan", {})
    assert (plan["count"], plan["resends"], plan["in_doubt"]) == (1, 1, [])
    assert plan["messages"][0]["resend"] is True
    went = run("send", "--yes")
    assert went.exit_code == 0, went.output
    assert went.output.startswith(
        "About to send 1 message, 1 of them re-sent to a corrected address:"
    ), went.output
    assert f"  re-send for {BRIGHTON}, the letter sent before, to {brighton}" in went.output
    assert recorder.received[-1].rcpt_tos == [brighton]
    assert states(work)[BRIGHTON] == "sent"


def test_a_bounce_whose_address_is_corrected_follows_the_record(
    work: Path, server: tuple[Recorder, int]
) -> None:
    """Bounced, then the address corrected in the workbook: the row (status and the desk) says
    so at once, with the re-send as its next step, not "correct the address"."""
    send_all(work, server)
    settings = load_settings(work / "letter-merge.toml", environ={})
    (derby,) = [
        m for m in Ledger(settings.paths.ledger, read_only=True).messages() if m.authority == DERBY
    ]
    read_deliveries(
        settings, reader=lambda *_, **__: [Fetched("stand-in:1", dsn(derby, "failed", "5.1.1"))]
    )
    assert states(work)[DERBY] == "bounced"
    assert desk_says(work)[DERBY]["next"]["text"].startswith("Correct the address in the ")
    set_contact(work, DERBY, "Email", "ce.new@derby.example.org")
    assert states(work)[DERBY] == "sent to an old address"
    line = status_line(run("status").output, DERBY)
    assert "did not arrive" in line and "the workbook now gives ce.new@derby.example.org" in line
    row = desk_says(work)[DERBY]
    assert (row["next"]["panel"], row["next"]["council"]) == ("resend", DERBY)
    assert "letter-merge queue --resend" in next_line("Derby")


def test_a_workbook_that_is_not_a_zip_checked_on_both(work: Path) -> None:
    """Check on the command line and in the desk: the same words, filed under the workbook
    (named from the working folder, never an absolute path); a request the page never sends is
    400, a body over 1 MiB 413, and the record's version changes with the workbook."""
    _, before = desk_answer(work, "/api/version")
    (work / "input" / "councils.xlsx").write_bytes(b"not a zip")
    checked = run("check")
    assert checked.exit_code == 2
    assert "cannot be read as an Excel workbook" in checked.output
    code, said = desk_answer(work, "/api/check", {})
    assert code == 200 and said["ok"] is False
    (group,) = said["problems"]
    assert group["file"] == "input/councils.xlsx"
    assert group["items"][0]["message"].startswith("cannot be read as an Excel workbook")
    assert str(work) not in json.dumps(said)
    _, after = desk_answer(work, "/api/version")
    assert after["record"] != before["record"]
    assert desk_answer(work, "/api/queue", {"resends": "Derby"})[0] == 400
    assert desk_answer(work, "/api/queue", content=b"{oops")[0] == 400
    assert desk_answer(work, "/api/queue", content=b"[" * (1 << 20) + b"]")[0] == 413
