"""The proof pack in `output/<year>/proof/`: a page to look through every letter, all letters in one
PDF, and automatic checks run on each PDF's own text (not on the template).
"""

from __future__ import annotations

import base64
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PdfReader, PdfWriter

from letter_merge.batch import Batch, PlannedLetter
from letter_merge.build import MANIFEST_NAME, read_manifest
from letter_merge.config import Settings
from letter_merge.errors import ConverterUnavailable
from letter_merge.figures import RATES
from letter_merge.files import write_atomic
from letter_merge.outbox import built_letters
from letter_merge.process import run_program
from letter_merge.proof_page import render_index

PROOF = "proof"
LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}")
ERROR_VALUES = re.compile(r"\bNone\b|\bnan\b|#N/A|#DIV/0!|#REF!|#VALUE!")
RATE_LABELS = {
    "upheld_rate": "Complaints upheld",
    "compliance_rate": "Compliance with recommendations",
    "remedy_rate": "Satisfactory remedies",
}

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Card:
    """One letter as the proof page shows it."""

    authority: str
    authority_type: str
    recipient: str
    email: str
    cc: tuple[str, ...]
    pdf: str  # relative to the proof folder
    pages: int
    figures: list[tuple[str, int | None, int | None]]  # (label, rate, average)
    checks: list[Check] = field(default_factory=list)
    thumbnail: str = ""  # a data: URI

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


@dataclass
class ProofReport:
    cards: list[Card]
    index: Path
    combined: Path
    changes: list[str]

    @property
    def with_problems(self) -> list[Card]:
        return [c for c in self.cards if c.problems]


def make_proof(batch: Batch, on_progress: ProgressCallback | None = None) -> ProofReport:
    settings = batch.settings
    progress = on_progress or (lambda stage, done, total: None)
    poppler = {name: shutil.which(name) for name in ("pdftotext", "pdftoppm")}
    missing = [name for name, path in poppler.items() if path is None]
    if missing:
        raise ConverterUnavailable(
            f"{' and '.join(missing)} (poppler-utils) are needed for the proof; install them "
            "(Debian/Ubuntu: 'sudo apt-get install poppler-utils')."
        )
    entries = built_letters(settings)
    letters = [letter for letter in batch.letters() if letter.council.authority in entries]
    others = _authority_pattern([letter.council.authority for letter in letters])
    folder = settings.year_dir / PROOF
    folder.mkdir(parents=True, exist_ok=True)

    def examine(letter: PlannedLetter) -> Card:
        return _card(settings, letter, entries[letter.council.authority], others, poppler)

    cards: list[Card] = []
    with ThreadPoolExecutor(2) as pool:
        for number, card in enumerate(pool.map(examine, letters), start=1):
            cards.append(card)
            progress("Checking letters", number, len(letters))

    combined = folder / "all-letters.pdf"
    _combine(settings, cards, combined)
    changes = compare_with_last_year(settings, letters)
    index = folder / "index.html"
    write_atomic(index, render_index(settings.year, cards, changes).encode("utf-8"))
    return ProofReport(cards, index, combined, changes)


def _authority_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """Any authority's name as whole words; longest first so that a longer name wins."""
    ordered = sorted({" ".join(n.split()) for n in names}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in ordered) + r")(?!\w)")


def _card(
    settings: Settings,
    letter: PlannedLetter,
    entry: Mapping[str, Any],
    others: re.Pattern[str],
    poppler: Mapping[str, str | None],
) -> Card:
    council = letter.council
    fields = letter.fields
    pdf_info = entry.get("files", {}).get("pdf")
    card = Card(
        authority=council.authority,
        authority_type=council.authority_type,
        recipient=f"{council.salutation}, {council.job_title}",
        email=council.email,
        cc=council.cc,
        pdf=f"../{pdf_info['path']}" if pdf_info else "",
        pages=0,
        figures=[(RATE_LABELS[r], fields.get(r), fields.get(f"{r}_average")) for r in RATES],
    )
    pdf = settings.year_dir / pdf_info["path"] if pdf_info else None
    if pdf is None or not pdf.is_file():
        card.checks.append(Check("PDF", False, "there is no PDF; run letter-merge build"))
        return card
    reader = PdfReader(pdf)
    card.pages = len(reader.pages)
    text = _text(pdf, poppler["pdftotext"])
    card.checks = check_letter(text, letter, card.pages, settings.proof_pages, others, reader)
    card.thumbnail = _thumbnail(pdf, poppler["pdftoppm"])
    return card


def check_letter(
    text: str,
    letter: PlannedLetter,
    pages: int,
    page_range: tuple[int, int],
    others: re.Pattern[str],
    reader: PdfReader,
) -> list[Check]:
    """The automatic checks, on the PDF's own text. Each says what it found."""
    flat = " ".join(text.split())
    authority = " ".join(letter.council.authority.split())
    checks = []
    leftovers = sorted(set(LEFTOVERS.findall(flat)))
    checks.append(Check("No template tags left", not leftovers, " ".join(leftovers)))
    errors = sorted(set(ERROR_VALUES.findall(flat)))
    checks.append(Check("No empty or error values", not errors, ", ".join(errors)))
    checks.append(
        Check(
            "Names its council",
            authority in flat,
            "" if authority in flat else f"'{authority}' not found",
        )
    )
    salutation = f"Dear {letter.council.salutation}"
    checks.append(
        Check(
            "Greets its recipient",
            salutation in flat,
            "" if salutation in flat else f"'{salutation}' not found",
        )
    )
    strangers = sorted({m for m in others.findall(flat) if m not in authority})
    checks.append(Check("Names no other council", not strangers, ", ".join(strangers)))
    fewest, most = page_range
    checks.append(Check(f"{fewest}–{most} pages", fewest <= pages <= most, f"{pages} pages"))
    bare = _fonts_not_embedded(reader)
    checks.append(Check("Fonts embedded", not bare, ", ".join(bare)))
    return checks


def _fonts_not_embedded(reader: PdfReader) -> list[str]:
    bare: set[str] = set()
    for page in reader.pages:
        resources = page.get("/Resources")
        fonts = resources.get_object().get("/Font") if resources else None
        if not fonts:
            continue
        for font in fonts.get_object().values():
            font = font.get_object()
            if font.get("/Subtype") == "/Type3":
                continue  # drawn by the PDF itself
            if font.get("/Subtype") == "/Type0":
                font = font["/DescendantFonts"][0].get_object()
            descriptor = font.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor else {}
            if not any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
                bare.add(str(font.get("/BaseFont", "?")).lstrip("/"))
    return sorted(bare)


def _text(pdf: Path, program: str | None) -> str:
    result = run_program([str(program), "-enc", "UTF-8", pdf, "-"], timeout=60)
    return result.output if result.returncode == 0 else ""


def _thumbnail(pdf: Path, program: str | None) -> str:
    with tempfile.TemporaryDirectory(prefix="letter-merge-thumb-") as scratch:
        stem = Path(scratch) / "page"
        run_program(
            [
                str(program),
                "-jpeg",
                "-jpegopt",
                "quality=75",
                "-scale-to",
                "260",  # twice the size it is shown at, for sharp screens
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                pdf,
                stem,
            ],
            timeout=60,
        )
        image = stem.with_suffix(".jpg")
        if not image.is_file():
            return ""
        return "data:image/jpeg;base64," + base64.b64encode(image.read_bytes()).decode("ascii")


def _combine(settings: Settings, cards: list[Card], target: Path) -> None:
    """Every letter in one PDF, a bookmark per authority, for flipping through or printing."""
    writer = PdfWriter()
    for card in cards:
        if card.pages:
            writer.append(
                settings.year_dir / card.pdf.removeprefix("../"), outline_item=card.authority
            )
    with tempfile.SpooledTemporaryFile() as buffer:
        writer.write(buffer)
        buffer.seek(0)
        write_atomic(target, buffer.read())


def compare_with_last_year(settings: Settings, letters: list[PlannedLetter]) -> list[str]:
    """Councils added or removed since last year's batch, and figures that moved by more than
    `[proof] change_points` points. Empty when there is no `output/<year-1>/`."""
    previous = read_manifest(settings.output / str(settings.year - 1) / MANIFEST_NAME)
    if not previous.get("letters"):
        return []
    last = {e["authority"]: e for e in previous["letters"]}
    now = {letter.council.authority: letter for letter in letters}
    changes = [f"New since {settings.year - 1}: {name}" for name in now if name not in last]
    changes += [f"Not in this year's batch: {name}" for name in last if name not in now]
    limit = settings.proof_change_points
    for name, letter in now.items():
        before = last.get(name, {}).get("figures", {})
        for rate, label in RATE_LABELS.items():
            old, new = before.get(rate), letter.fields.get(rate)
            if isinstance(old, int) and isinstance(new, int) and abs(new - old) > limit:
                changes.append(f"{name}: {label.lower()} {old}% → {new}% ({new - old:+d} points)")
    return changes
