"""A working folder that a sync client keeps (OneDrive, SharePoint through OneDrive, Dropbox,
Google Drive, iCloud): the live ledger is kept on the computer, a whole copy in the folder after
every change; a sync client's conflict copy of the ledger stops every change until a person
has looked. Windows' and macOS's ways of saying a folder is synced are simulated here (their
environment variables, registry and folders), on Linux."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from letter_merge.records.ledger import Ledger
from letter_merge.sync import conflict_copies, local_copy_of, synced_by
from tests.helpers import run


@pytest.fixture
def onedrive(work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The four-council folder, as if under OneDrive (Windows sets %OneDrive% to its root)."""
    monkeypatch.setenv("OneDrive", str(work.parent))
    monkeypatch.setenv("LETTER_MERGE_STATE_DIR", str(tmp_path / "this-pc"))
    return work


def rows(ledger: Path, table: str) -> int:
    with sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro&immutable=1", uri=True) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_simulated_windows_onedrive_keeps_the_live_ledger_here_and_a_whole_copy_there(
    onedrive: Path, tmp_path: Path
) -> None:
    year = onedrive / "output" / "2020"
    (year / "ledger.sqlite").unlink(missing_ok=True)
    assert run("approve", "--by", "Jo Bloggs").exit_code == 0
    local = list((tmp_path / "this-pc" / "synced").glob("*/ledger.sqlite"))
    assert len(local) == 1 and rows(local[0], "approval_history") == 4
    # In the synced folder: one whole file, in DELETE mode, nothing beside it to copy apart.
    assert rows(year / "ledger.sqlite", "approval_history") == 4
    assert not list(year.glob("ledger.sqlite-*"))
    assert (year / "ledger.sqlite").read_bytes()[18:20] == b"\x01\x01"  # not a WAL database
    status = run("status")
    assert "is kept in sync by OneDrive. The live ledger is kept on this computer" in status.output
    assert "approved:" in status.output


def test_changes_made_on_another_computer_are_taken_in(
    onedrive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("approve", "--by", "Jo Bloggs").exit_code == 0  # on this PC
    monkeypatch.setenv("LETTER_MERGE_STATE_DIR", str(tmp_path / "other-pc"))
    assert "approved:" in run("status").output  # the other PC reads the folder's copy
    assert run("queue").exit_code == 0  # and queues there
    monkeypatch.setenv("LETTER_MERGE_STATE_DIR", str(tmp_path / "this-pc"))
    assert "queued:" in run("status").output  # back here: taken in from the folder


def test_simulated_a_conflict_copy_beside_the_ledger_stops_every_change(
    onedrive: Path,
) -> None:
    year = onedrive / "output" / "2020"
    assert run("approve", "--by", "Jo Bloggs").exit_code == 0
    copy = year / "ledger-DESKTOP-1A2B3C.sqlite"  # as OneDrive names the second PC's version
    shutil.copy(year / "ledger.sqlite", copy)
    refused = run("queue")
    assert refused.exit_code == 1
    assert f"{copy} is a copy of the ledger that OneDrive made" in refused.output
    assert "nothing is approved, queued or sent meanwhile" in refused.output
    assert run("send", "--dry-run").exit_code == 0  # looking changes nothing, so it may
    status = run("status")
    assert "ledger-DESKTOP-1A2B3C.sqlite is a copy a sync client made" in status.output
    copy.rename(onedrive / "kept-ledger-DESKTOP-1A2B3C.sqlite")
    assert run("queue").exit_code == 0


def test_two_computers_changing_at_once_leave_both_ledgers_and_stop(
    onedrive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    year = onedrive / "output" / "2020"
    assert run("approve", "--by", "Jo Bloggs").exit_code == 0  # this PC
    monkeypatch.setenv("LETTER_MERGE_STATE_DIR", str(tmp_path / "other-pc"))
    assert run("status").exit_code == 0
    assert not (tmp_path / "other-pc").exists()  # looking writes nothing, anywhere
    assert run("queue").exit_code == 0  # the other PC queues: the folder's copy changes
    monkeypatch.setenv("LETTER_MERGE_STATE_DIR", str(tmp_path / "this-pc"))
    with Ledger(local_copy_of(year / "ledger.sqlite"), publish=year / "ledger.sqlite") as ledger:
        ledger.record("Derby City Council", "note", "made here before the other PC's arrived")
    copies = conflict_copies(year)
    assert [p.name.startswith("ledger-") for p in copies] == [True]  # this PC's, beside it
    refused = run("queue")
    assert refused.exit_code == 1 and "is a copy of the ledger" in refused.output


@pytest.mark.parametrize(
    "name",
    [
        "ledger-DESKTOP-1A2B3C.sqlite",
        "ledger (1).sqlite",
        "ledger (Sam Smith's conflicted copy 2020-07-22).sqlite",
        "manifest-LAPTOP-9.json",
        "decisions - Copy.json",
    ],
)
def test_conflict_copies_as_sync_clients_name_them(tmp_path: Path, name: str) -> None:
    for own in ("ledger.sqlite", "ledger.sqlite-wal", "manifest.json", "send.lock", name):
        (tmp_path / own).write_bytes(b"x")
    assert [p.name for p in conflict_copies(tmp_path)] == [name]


def test_simulated_each_system_s_way_of_saying_a_folder_is_synced(tmp_path: Path) -> None:
    home = tmp_path / "home"
    business = home / "OneDrive - Local Government Ombudsman" / "Annual review" / "output"
    assert synced_by(business, {}) == "OneDrive"  # the folder's own name says so
    library = home / "Ombudsman" / "Complaints - Documents" / "output"
    sharepoint = [
        (str(home / "Ombudsman" / "Complaints - Documents"), "SharePoint (synced by OneDrive)")
    ]
    assert synced_by(library, {}, lambda: sharepoint) == "SharePoint (synced by OneDrive)"
    assert synced_by(library, {"OneDriveCommercial": str(home / "Ombudsman")}) == "OneDrive"
    mac = home / "Library" / "CloudStorage" / "Dropbox" / "Letters"
    assert synced_by(mac, {"HOME": str(home)}) == "Dropbox"
    assert synced_by(tmp_path / "Letters", {}) == ""
    assert synced_by(tmp_path / "Letters", {"LETTER_MERGE_SYNCED": "Nextcloud"}) == "Nextcloud"
    assert synced_by(business, {"LETTER_MERGE_SYNCED": "no"}) == ""
