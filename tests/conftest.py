"""Fixtures: a small workbook, a working folder like the repository's, and its settings; an SMTP
server on 127.0.0.1, and a folder of four letters built (and proofed), with the stand-in for
LibreOffice or with LibreOffice itself."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from letter_merge.cli import Frontend, cli
from letter_merge.config import Settings, load_settings
from tests import helpers
from tests.helpers import (
    DEFAULT_COUNCILS,
    ROOT,
    Recorder,
    contacts_of,
    free_port,
    statistics,
    write_workbook,
)
from tests.standin import STAND_IN, plain_pdf_settings


@pytest.fixture
def workbook_path(tmp_path: Path) -> Path:
    """A small valid workbook of four councils, with awkward characters on purpose."""
    contacts = contacts_of(DEFAULT_COUNCILS)
    stats = [
        statistics("Leicestershire County Council", 16, 9, 7, 7, 0),
        statistics("Derby City Council", 8, 5, 5, 4, 1),
        statistics("Brighton & Hove City Council", 0, 0, 0, 0, 0),
        statistics("Adur District Council", 3, 1, 1, 1, 1),
    ]
    return write_workbook(tmp_path / "councils.xlsx", contacts, stats)


@pytest.fixture
def folder(tmp_path: Path, workbook_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder like the repository's: settings, the default template, a small workbook."""
    (tmp_path / "templates").mkdir()
    shutil.copy(ROOT / "templates" / "letter.docx", tmp_path / "templates" / "letter.docx")
    shutil.copy(ROOT / "templates" / "email.txt", tmp_path / "templates" / "email.txt")
    (tmp_path / "input").mkdir()
    workbook_path.rename(tmp_path / "input" / "councils.xlsx")
    (tmp_path / "letter-merge.toml").write_text(
        "[batch]\nyear = 2020\nletter_date = 2020-07-22\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(folder: Path) -> Settings:
    return load_settings(folder / "letter-merge.toml", environ={}, today=dt.date(2020, 7, 22))


@pytest.fixture
def server() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


def four_councils_built(folder: Path, *, stand_in: bool) -> Path:
    """The four councils of conftest, built and proofed (approving needs a passed proof)."""
    shutil.copytree(ROOT / "templates", folder / "templates")
    (folder / "input").mkdir()
    contacts = contacts_of(DEFAULT_COUNCILS, {DEFAULT_COUNCILS[0][0]: "link@cc.example.org"})
    stats = [statistics(name) for name, *_ in DEFAULT_COUNCILS]
    write_workbook(folder / "input" / "councils.xlsx", contacts, stats)
    (folder / "letter-merge.toml").write_text(
        "[batch]\nyear = 2020\nletter_date = 2020-07-22\n", encoding="utf-8"
    )
    if stand_in:
        plain_pdf_settings(folder)
    old = Path.cwd()
    os.chdir(folder)
    try:
        frontend = STAND_IN if stand_in else Frontend()
        result = CliRunner().invoke(cli, ["build"], obj=frontend)
        assert result.exit_code == 0, result.output
        result = CliRunner().invoke(cli, ["proof"], obj=frontend)
        assert result.exit_code == 0, result.output
    finally:
        os.chdir(old)
    return folder


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four-council folder, built once with the stand-in for LibreOffice (tests/standin.py)
    and proofed: for what happens after a build (approve, queue, send, status)."""
    return four_councils_built(tmp_path_factory.mktemp("built"), stand_in=True)


@pytest.fixture(scope="session")
def built_by_libreoffice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four-council folder, built once with LibreOffice: for what its letters are."""
    return four_councils_built(tmp_path_factory.mktemp("built-lo"), stand_in=False)


@pytest.fixture
def work(
    built: Path, tmp_path: Path, server: tuple[Recorder, int], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A copy of the built folder, set to send to the test server as fast as it likes."""
    folder = tmp_path / "work"
    shutil.copytree(built, folder, ignore=shutil.ignore_patterns(".libreoffice"))
    _, port = server
    with (folder / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write(
            '\n[email]\nfrom = "Annual Review <annual.review@ombudsman.example>"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nrate_per_minute = 6000\n'
        )
    monkeypatch.chdir(folder)
    # A build in the test (after a correction) is made with the same stand-in.
    monkeypatch.setattr(helpers, "FRONTEND", STAND_IN)
    monkeypatch.delenv("LETTER_MERGE_SMTP_PASSWORD", raising=False)
    monkeypatch.setattr("letter_merge.mail.send.sending.BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr("letter_merge.mail.send.transport.BACKOFF_SECONDS", 0.01)
    return folder
