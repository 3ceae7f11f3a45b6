"""End to end with real LibreOffice: the seed letter, the whole sample batch, conversion failures."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pypdf import PdfReader

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.cli import Frontend, cli
from letter_merge.config import load_settings
from letter_merge.pdf.convert import ConversionJob, ConversionResult, Converter, ResultCallback
from letter_merge.pdf.libreoffice import LibreOfficeConverter
from letter_merge.pdf.soffice import find_libreoffice
from tests.helpers import ROOT, SEED_LETTER, normalise, pdf_text

pytestmark = pytest.mark.libreoffice

A4 = (595.3, 841.9)  # points


def libreoffice() -> LibreOfficeConverter:
    program = find_libreoffice()
    assert program is not None, (
        "LibreOffice must be installed for these tests (make test installs it)"
    )
    return LibreOfficeConverter(program)


def seed_sentences() -> list[str]:
    """The seed letter's sentences, its markdown removed, one paragraph at a time."""
    text = SEED_LETTER.read_text(encoding="utf-8")
    text = re.sub(r"^#+ |\*\*|</?u>", "", text, flags=re.MULTILINE)
    # The seed was extracted from a PDF: one paragraph is split by its page break.
    text = text.replace("approach to\n\nresolving", "approach to resolving")
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        sentences += re.split(r"(?<=[.!?])\s+(?=[A-Z])", normalise(paragraph))
    return [s for s in sentences if s]


@pytest.fixture(scope="module")
def sample_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's working folder with the whole sample batch built in it."""
    folder = tmp_path_factory.mktemp("sample")
    for name in ("letter-merge.toml", "input", "templates"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        else:
            shutil.copy(source, folder / name)
    settings = load_settings(folder / "letter-merge.toml", environ={}, today=dt.date(2026, 1, 1))
    report = build_letters(load_batch(settings), converter=libreoffice())
    assert report.failed == []
    return folder


def test_the_seed_letter_is_reproduced(sample_folder: Path) -> None:
    pdf = (
        sample_folder / "output/2020/letters/Leicestershire County Council - Annual Review 2020.pdf"
    )
    text = normalise(pdf_text(pdf))
    missing = [s for s in seed_sentences() if s not in text]
    assert missing == []
    assert len(seed_sentences()) > 40
    assert text.startswith(
        "Local Government & Social Care OMBUDSMAN 22 July 2020 By email Mr Sinnott"
    )
    assert "for the year ending 31 March 2020" in text
    reader = PdfReader(pdf)
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(width, 1), round(height, 1)) == A4
    assert reader.metadata is not None
    assert reader.metadata.title == "Annual Review letter 2020 – Leicestershire County Council"


def _sample_rows() -> list[dict[str, Any]]:
    """The sample workbook read independently of letter_merge: Contacts joined to Statistics."""
    book = load_workbook(ROOT / "input" / "councils.xlsx", read_only=True)
    sheets = {}
    for name in ("Contacts", "Statistics"):
        rows = list(book[name].iter_rows(values_only=True))
        sheets[name] = {
            str(row[0]): dict(zip(map(str, rows[0]), row, strict=True)) for row in rows[1:]
        }
    book.close()
    return [
        {**sheets["Statistics"][name], **row, "Authority": " ".join(str(name).split())}
        for name, row in sheets["Contacts"].items()
    ]


def _rate(top: int, bottom: int) -> int | None:
    from decimal import ROUND_HALF_UP, Decimal

    if bottom == 0:
        return None
    return int((Decimal(100) * top / bottom).quantize(Decimal(1), rounding=ROUND_HALF_UP))


RATES = (  # rate: (numerator column, denominator column, how the letter states the counts)
    ("Upheld", "Detailed investigations", "{0} of {1} detailed investigations upheld"),
    ("Complied", "Compliance outcomes", "complied with in {0} of {1} cases"),
    (
        "Satisfactory remedies",
        "Upheld",
        "{0} of {1} upheld complaints remedied before they came to us",
    ),
)


def _expected_figures(rows: list[dict[str, Any]]) -> dict[str, tuple[Counter[str], list[str]]]:
    """Per council, computed here from the rows: the percentages its statistics table must show
    (six, or 'Not applicable' where undefined) and the sentences stating the counts."""
    pooled: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        for top, bottom, _ in RATES:
            totals = pooled.setdefault((row["Authority type"], top), [0, 0])
            totals[0] += int(row[top])
            totals[1] += int(row[bottom])
    expected = {}
    for row in rows:
        shown: Counter[str] = Counter()
        counts = []
        for top, bottom, wording in RATES:
            own = _rate(int(row[top]), int(row[bottom]))
            average = _rate(*pooled[(row["Authority type"], top)])
            for figure in (own, average):
                shown["Not applicable" if figure is None else f"{figure}%"] += 1
            if own is not None:
                counts.append(wording.format(int(row[top]), int(row[bottom])))
        expected[row["Authority"]] = (shown, counts)
    return expected


def test_every_sample_letter_is_for_its_own_council_with_the_right_figures(
    sample_folder: Path,
) -> None:
    rows = _sample_rows()
    assert len(rows) == 343
    names = [r["Authority"] for r in rows]
    expected = _expected_figures(rows)
    letters = sample_folder / "output" / "2020" / "letters"
    wrong = []
    for row in rows:
        name = row["Authority"]
        text = normalise(pdf_text(letters / f"{name} - Annual Review 2020.pdf"))
        salutation = f"{row['Title'] or row['First name']} {row['Surname']}"
        if f"Dear {salutation}" not in text or name not in text:
            wrong.append(f"{name}: own name or salutation missing")
        others = [
            n
            for n in names
            if n != name and n not in name and re.search(rf"\b{re.escape(n)}\b", text)
        ]
        if others:
            wrong.append(f"{name}: names {others}")
        table = text[text.index("Key statistic") : text.index("This data will be uploaded")]
        shown, counts = expected[name]
        found = Counter(re.findall(r"\d+%|Not applicable", table))
        if found != shown:
            wrong.append(f"{name}: figures {dict(found)}, expected {dict(shown)}")
        wrong += [f"{name}: no {c!r}" for c in counts if c not in table]
        if re.search(r"\{\{|\}\}|\{%|%\}|\bNone\b", text):
            wrong.append(f"{name}: leftover template text or None")
    assert wrong == []


def test_pdfium_reads_every_word_of_every_letter(sample_folder: Path) -> None:
    """The checks read a letter's text with pdfium, in the order the PDF draws it (a table row by
    row), not poppler's layout: every word of each .docx (paragraphs and table cells, read
    independently with python-docx) is in the text pdfium reads from its PDF, as often."""
    from docx import Document

    from letter_merge.pdf.reading import pdf_text as read_text

    letters = sorted((sample_folder / "output" / "2020" / "letters").glob("*.docx"))
    assert len(letters) == 343
    short = []
    for docx in letters:
        document = Document(str(docx))
        texts = [p.text for p in document.paragraphs]
        texts += [
            p.text for t in document.tables for r in t.rows for c in r.cells for p in c.paragraphs
        ]
        written = Counter(normalise(" ".join(texts)).split())
        read = Counter(normalise(read_text(docx.with_suffix(".pdf"))).split())
        if written - read:
            short.append(f"{docx.stem}: {sorted((written - read).items())[:5]}")
    assert short == []


def test_every_letter_has_a_pdf_and_the_manifest_hashes_them(sample_folder: Path) -> None:
    import hashlib
    import json

    year_dir = sample_folder / "output" / "2020"
    manifest = json.loads((year_dir / "manifest.json").read_text("utf-8"))
    assert len(manifest["letters"]) == 343
    assert manifest["converter"].startswith("LibreOffice")
    assert {entry["files"]["pdf"]["pages"] for entry in manifest["letters"]} == {3}
    for entry in manifest["letters"][:25]:
        for file in entry["files"].values():
            data = (year_dir / file["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == file["sha256"]
    assert len(list((year_dir / "letters").glob("*.pdf"))) == 343
    assert not list(year_dir.rglob("*.part")) and not list(year_dir.rglob(".converting-*"))


class CorruptingConverter:
    """The real LibreOffice converter, handed one corrupt .docx: a failure we can cause at will."""

    def __init__(self, real: Converter, victim: str) -> None:
        self.real, self.victim, self.name = real, victim, real.name
        self.notices: list[str] = real.notices

    def version(self) -> str:
        return self.real.version()

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ResultCallback | None = None
    ) -> list[ConversionResult]:
        for job in jobs:
            if self.victim in job.docx.name:
                job.docx.write_bytes(b"PK\x03\x04 this is not a Word document")
        return self.real.convert(jobs, on_result)


def test_a_conversion_failure_is_reported_and_the_rest_complete(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = libreoffice()
    corrupting = Frontend(converter=lambda settings, name: CorruptingConverter(real, "Derby"))
    result = CliRunner().invoke(cli, ["build"], obj=corrupting)
    assert result.exit_code == 1
    assert "Built 3 letters (docx and PDF)" in result.output
    assert "1 letter failed:" in result.output
    assert "  - Derby City Council: LibreOffice could not convert it" in result.output
    letters = folder / "output" / "2020" / "letters"
    pdfs = sorted(p.name for p in letters.glob("*.pdf"))
    assert len(pdfs) == 3 and not any("Derby" in p for p in pdfs)
    assert "Adur District Council" in pdf_text(
        letters / "Adur District Council - Annual Review 2020.pdf"
    )


def test_a_stale_pdf_never_survives_a_rebuild(folder: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["build", "--only", "Derby"]).exit_code == 0
    pdf = folder / "output/2020/letters/Derby City Council - Annual Review 2020.pdf"
    assert pdf.exists()
    result = runner.invoke(cli, ["build", "--only", "Derby", "--no-pdf"])
    assert "Built 0 letters; 1 already up to date" in result.output  # unchanged: its PDF still fits
    assert pdf.exists()
    book = load_workbook(folder / "input" / "councils.xlsx")
    book["Contacts"]["F3"] = "Okafor"  # Derby's chief executive changes
    book.save(folder / "input" / "councils.xlsx")
    assert runner.invoke(cli, ["build", "--only", "Derby", "--no-pdf"]).exit_code == 0
    assert not pdf.exists()  # the .docx changed; the old PDF no longer matches it


def test_a_missing_libreoffice_says_how_to_install_it(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("LETTER_MERGE_SOFFICE", raising=False)
    monkeypatch.setattr("letter_merge.pdf.soffice.MACOS_PLACES", ())
    monkeypatch.setattr("letter_merge.pdf.soffice.WINDOWS_PLACES", ())
    result = CliRunner().invoke(cli, ["build"])
    assert result.exit_code == 2
    assert "LibreOffice is needed to make PDFs and was not found. Looked at:" in result.output
    assert "Install LibreOffice from https://www.libreoffice.org/download/" in result.output


@pytest.mark.browser
def test_the_sample_proof_pack_opens_in_a_browser(sample_folder: Path, tmp_path: Path) -> None:
    from letter_merge.proof.pack import make_proof
    from tests.helpers import chromium

    settings = load_settings(
        sample_folder / "letter-merge.toml", environ={}, today=dt.date(2026, 1, 1)
    )
    report = make_proof(load_batch(settings))
    assert len(report.cards) == 343 and report.with_problems == []
    dom, console = chromium(report.index, tmp_path / "chromium")
    assert console == []
    assert dom.count('<article class="card"') == 343
    assert "343 shown" in dom
    # "Problems only" when nothing failed says so, rather than "No letters match."
    dom, console = chromium(report.index, tmp_path / "chromium", fragment="#problems")
    assert console == []
    assert "0 shown" in dom
    assert '<p class="empty" id="all-passed">Every letter passed every check' in dom
    assert '<p class="empty" id="none" hidden="">No letters match.</p>' in dom
