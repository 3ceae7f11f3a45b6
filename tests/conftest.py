"""Fixtures: a small workbook, a working folder like the repository's, and its settings."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from letter_merge.config import Settings, load_settings
from tests.helpers import DEFAULT_COUNCILS, ROOT, contact, statistics, write_workbook


@pytest.fixture
def workbook_path(tmp_path: Path) -> Path:
    """A small valid workbook of four councils, with awkward characters on purpose."""
    contacts = [
        contact(name, kind, title=title, first=first, surname=surname)
        for name, kind, title, first, surname in DEFAULT_COUNCILS
    ]
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
