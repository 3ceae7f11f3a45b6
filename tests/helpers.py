"""Helpers the tests share: small workbooks and templates made in the test, PDFs and documents
read back, and headless Chromium."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from docx import Document
from openpyxl import Workbook

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
    assert sheet is not None
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
    document = Document(io.BytesIO(data) if isinstance(data, bytes) else str(data))
    parts: list[str] = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):
            parts.extend(cell.text for row in block.rows for cell in row.cells)
        else:
            parts.append(block.text)
    return "\n".join(parts)


def make_template(path: Path, *paragraphs: str, table_cells: tuple[str, ...] = ()) -> Path:
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table_cells:
        table = document.add_table(rows=len(table_cells), cols=1)
        for row, text in zip(table.rows, table_cells, strict=True):
            row.cells[0].text = text
    document.save(str(path))
    return path


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium(page: Path, profile: Path, *, fragment: str = "") -> tuple[str, list[str]]:
    """The page's DOM after its script ran, and what its console said."""
    program = shutil.which("chromium") or shutil.which("chromium-browser")
    assert program, "Chromium must be installed for this test (make test installs it)"
    result = subprocess.run(
        [
            program,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console
