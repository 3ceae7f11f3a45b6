"""The ledger's layout versions, settling messages in doubt, and approve's refusals: no LibreOffice
needed (letters built as .docx only, or messages written straight into the ledger)."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from letter_merge.cli import cli
from letter_merge.config import Settings
from letter_merge.errors import InputError
from letter_merge.records.audit import write_csv
from letter_merge.records.join import Records
from letter_merge.records.ledger import (
    MIGRATIONS,
    QUEUED,
    SCHEMA_VERSION,
    SENDING,
    Approval,
    Ledger,
)
from letter_merge.records.manifest import LetterRecord, Manifest, Recipient


def test_a_new_ledger_has_the_current_layout(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.approvals()
    db = sqlite3.connect(tmp_path / "ledger.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)


def test_a_ledger_from_before_versioning_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])  # the tables as letter-merge 0.1 made them, version 0
    db.execute("INSERT INTO approvals VALUES ('Derby', 'letters/d.pdf', 'abc', 'Jo', 'then')")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert [a.approved_by for a in ledger.approvals().values()] == ["Jo"]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_an_older_ledger_is_read_as_it_is_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("INSERT INTO approvals VALUES ('Derby', 'letters/d.pdf', 'abc', 'Jo', 'then')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.executescript(MIGRATIONS[1] + "PRAGMA user_version = 2;")  # as the last release left it
    db.close()
    before = path.read_bytes()
    with Ledger(path, read_only=True) as ledger:  # status, proof, send --dry-run
        assert [a.approved_by for a in ledger.approvals().values()] == ["Jo"]
        assert ledger.messages() == [] and ledger.deliveries() == []
    assert path.read_bytes() == before


def test_a_ledger_from_a_newer_letter_merge_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(InputError, match="written by a newer letter-merge"):
        Ledger(path)
    with pytest.raises(InputError, match="written by a newer letter-merge"):
        Ledger(path, read_only=True)


def test_a_read_only_ledger_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path, read_only=True) as ledger:  # none yet: reads as empty, creates nothing
        assert ledger.messages() == []
    assert list(tmp_path.iterdir()) == []


def queue_one(folder: Path, state: str) -> None:
    with Ledger(folder / "output" / "2020" / "ledger.sqlite") as ledger:
        ledger.add_message(
            message_id="<1@ombudsman.example>",
            authority="Derby City Council",
            pdf_sha256="abc",
            eml_path="outbox/derby.eml",
            recipients=("ce@derby.example.org",),
            subject="Annual Review letter 2020 – Derby City Council",
        )
        ledger.set_state("<1@ombudsman.example>", state)


@pytest.mark.parametrize(("outcome", "state"), [("retry", QUEUED), ("sent", "sent")])
def test_send_resolve_settles_messages_in_doubt(folder: Path, outcome: str, state: str) -> None:
    queue_one(folder, SENDING)
    result = CliRunner().invoke(cli, ["send", "--resolve", outcome])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Settled 1 message in doubt as {outcome}: ")
    with Ledger(folder / "output" / "2020" / "ledger.sqlite") as ledger:
        (message,) = ledger.messages()
    assert (message.state, message.last_reply) == (state, f"settled by hand as {outcome}")


def test_send_resolve_leaves_other_messages_alone(folder: Path) -> None:
    queue_one(folder, QUEUED)
    result = CliRunner().invoke(cli, ["send", "--resolve", "sent"])
    assert result.output == "Settled 0 messages in doubt as sent.\n"
    with Ledger(folder / "output" / "2020" / "ledger.sqlite") as ledger:
        assert [m.state for m in ledger.messages()] == [QUEUED]


def test_approve_refuses_letters_without_a_pdf_and_approves_nothing(folder: Path) -> None:
    assert CliRunner().invoke(cli, ["build", "--no-pdf"]).exit_code == 0
    result = CliRunner().invoke(cli, ["approve", "--by", "Sam Smith"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Approved 0 letters as checked by Sam Smith.",
        "4 letters not approved:",
        "  - 4 letters (Leicestershire County Council, Derby City Council, Brighton & Hove City "
        "Council, …): built without its PDF; letter-merge build (without --no-pdf) makes its PDF",
    ]
    with Ledger(folder / "output" / "2020" / "ledger.sqlite", read_only=True) as ledger:
        assert ledger.approvals() == {}


def test_approve_before_any_build_says_to_build(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["approve", "--by", "Sam Smith"])
    assert result.exit_code == 2
    assert result.output == (
        "Error: No letters have been built for 2020 yet: build them first.\n"
        "Next: letter-merge build, then proof and approve it\n"
    )


def test_the_csv_is_safe_to_open_in_excel(settings: Settings, tmp_path: Path) -> None:
    authority = '=HYPERLINK("http://evil")'
    record = LetterRecord(
        authority, "District Council", Recipient("x", "y", "+44@x.org"), "", None, None, ""
    )
    manifest = Manifest(2020, "", "", "", None, {}, (record,))
    approval = Approval(authority, "a.pdf", "0" * 64, "-me", "@now")
    records = Records(
        settings, manifest, {}, {authority: approval}, [approval], [], [], [], [], [], None
    )
    write_csv(records, tmp_path / "audit.csv")
    (values,) = list(csv.DictReader((tmp_path / "audit.csv").read_text("utf-8-sig").splitlines()))
    assert values["authority"] == '\'=HYPERLINK("http://evil")'
    assert (values["email"], values["approved_by"], values["approved_at"]) == (
        "'+44@x.org",
        "'-me",
        "'@now",
    )


def test_long_lists_show_the_first_few_and_v_shows_all(folder: Path) -> None:
    from tests.helpers import contact, statistics, write_workbook

    names = [f"Council {chr(65 + n)} District Council" for n in range(12)]
    write_workbook(
        folder / "input" / "councils.xlsx",
        [contact(name) for name in names],
        [statistics(name) for name in names],
    )
    built = CliRunner().invoke(cli, ["build", "--no-pdf"])
    assert built.exit_code == 0, built.output
    result = CliRunner().invoke(cli, ["approve", "--by", "Jo"])
    lines = result.output.splitlines()
    assert lines[1:] == [  # one reason, one line
        "12 letters not approved:",
        f"  - 12 letters ({names[0]}, {names[1]}, {names[2]}, …): built without its PDF; "
        "letter-merge build (without --no-pdf) makes its PDF",
    ]
    result = CliRunner().invoke(cli, ["-v", "approve", "--by", "Jo"])
    assert len(result.output.splitlines()) == 2 + 12


def test_a_long_list_of_reasons_shows_the_first_few(capsys: pytest.CaptureFixture[str]) -> None:
    from letter_merge import console

    with click.Context(cli) as ctx:
        console.list_problems(ctx, "12 letters", [(f"Council {n}", f"why {n}") for n in range(12)])
    lines = capsys.readouterr().err.splitlines()
    assert lines[1:6] == [f"  - Council {n}: why {n}" for n in range(5)]
    assert lines[6:] == ["  ... and 7 more (-v lists them all)"]
