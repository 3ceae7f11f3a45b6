"""Fixtures: small workbooks made in the test, a working folder, and PDFs read back with pdftotext."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from letter_merge.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SEED_LETTER = ROOT / "tests" / "data" / "seed-letter.txt"

CONTACT_HEADERS = (
    "Authority",
    "Authority type",
    "GSS code",
    "Title",
    "First name",
    "Surname",
    "Job title",
    "Email",
    "Cc",
)
STATISTIC_HEADERS = (
    "Authority",
    "Detailed investigations",
    "Upheld",
    "Compliance outcomes",
    "Complied",
    "Satisfactory remedies",
    "Received: Housing",
    "Decided: Upheld",
)


def contact(
    authority: str,
    kind: str = "District Council",
    *,
    title: str = "Ms",
    first: str = "Ann",
    surname: str = "Smith",
    email: str | None = None,
    cc: str = "",
    code: str = "",
    job: str = "",
) -> list[Any]:
    slug = re.sub(r"[^a-z]+", "-", authority.lower()).strip("-")
    return [
        authority,
        kind,
        code,
        title,
        first,
        surname,
        job,
        email or f"ce@{slug}.example.org",
        cc,
    ]


def statistics(
    authority: str,
    investigated: Any = 10,
    upheld: Any = 5,
    outcomes: Any = 4,
    complied: Any = 4,
    remedies: Any = 1,
    housing: Any = 7,
    decided_upheld: Any = 5,
) -> list[Any]:
    return [authority, investigated, upheld, outcomes, complied, remedies, housing, decided_upheld]


def write_workbook(
    path: Path,
    contacts: Iterable[Sequence[Any]],
    stats: Iterable[Sequence[Any]],
    *,
    contact_headers: Sequence[str] = CONTACT_HEADERS,
    statistic_headers: Sequence[str] = STATISTIC_HEADERS,
) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Contacts"
    sheet.append(list(contact_headers))
    for row in contacts:
        sheet.append(list(row))
    sheet = book.create_sheet("Statistics")
    sheet.append(list(statistic_headers))
    for row in stats:
        sheet.append(list(row))
    book.save(path)
    return path


DEFAULT_COUNCILS = (
    ("Leicestershire County Council", "County Council", "Mr", "John", "Sinnott"),
    ("Derby City Council", "Unitary Council", "Ms", "Siân", "O'Brien"),
    ("Brighton & Hove City Council", "Unitary Council", "Dr", "Kim", "Lee <Acting>"),
    ("Adur District Council", "District Council", "", "Alex", "Fairbairn"),
)


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


WriteSettings = Callable[..., Settings]


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


def pdf_text(path: Path) -> str:
    """The PDF's text as pdftotext reads it, page footers ('Page 2') dropped."""
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    lines = result.stdout.decode("utf-8").splitlines()
    return "\n".join(line for line in lines if not re.fullmatch(r"\s*Page \d+\s*", line))


def normalise(text: str) -> str:
    """One space between words; curly apostrophes made straight."""
    return " ".join(text.replace("\u2019", "'").replace("\f", " ").split())


def docx_text(data: bytes | Path) -> str:
    """All text of a .docx (body paragraphs and table cells), in document order."""
    import io

    from docx import Document

    document = Document(io.BytesIO(data) if isinstance(data, bytes) else str(data))
    parts = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):
            parts.extend(cell.text for row in block.rows for cell in row.cells)
        else:
            parts.append(block.text)
    return "\n".join(parts)
