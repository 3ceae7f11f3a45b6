"""The ledger's layout versions, settling messages in doubt, and approve's refusals: no LibreOffice
needed (letters built as .docx only, or messages written straight into the ledger)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from letter_merge.cli import cli
from letter_merge.errors import InputError
from letter_merge.mail.ledger import MIGRATIONS, QUEUED, SCHEMA_VERSION, SENDING, Ledger


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
    assert result.output == f"Settled 1 message(s) in doubt as {outcome}.\n"
    with Ledger(folder / "output" / "2020" / "ledger.sqlite") as ledger:
        (message,) = ledger.messages()
    assert (message.state, message.last_reply) == (state, f"settled by hand as {outcome}")


def test_send_resolve_leaves_other_messages_alone(folder: Path) -> None:
    queue_one(folder, QUEUED)
    result = CliRunner().invoke(cli, ["send", "--resolve", "sent"])
    assert result.output == "Settled 0 message(s) in doubt as sent.\n"
    with Ledger(folder / "output" / "2020" / "ledger.sqlite") as ledger:
        assert [m.state for m in ledger.messages()] == [QUEUED]


def test_approve_refuses_letters_without_a_pdf_and_approves_nothing(folder: Path) -> None:
    assert CliRunner().invoke(cli, ["build", "--no-pdf"]).exit_code == 0
    result = CliRunner().invoke(cli, ["approve", "--by", "Sam Smith"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: Nothing was approved:",
        "  - Leicestershire County Council: has no PDF; build it first (letter-merge build).",
        "  - Derby City Council: has no PDF; build it first (letter-merge build).",
        "  - Brighton & Hove City Council: has no PDF; build it first (letter-merge build).",
        "  - Adur District Council: has no PDF; build it first (letter-merge build).",
    ]
    with Ledger(folder / "output" / "2020" / "ledger.sqlite", read_only=True) as ledger:
        assert ledger.approvals() == {}


def test_approve_before_any_build_says_to_build(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["approve", "--by", "Sam Smith"])
    assert result.exit_code == 2
    assert result.output == (
        "Error: No letters have been built for 2020; run 'letter-merge build' first.\n"
    )
