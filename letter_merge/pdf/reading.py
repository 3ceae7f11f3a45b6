"""Reading PDFs back: their text and their pages as pictures, with poppler's pdftotext and pdftoppm;
their page count with qpdf (pikepdf).

This is the one way letter-merge reads a letter's text, so that the proof and the last check
before sending agree on what a PDF says. (pypdf reads the same text about ten times slower: 190 ms
against 19 ms for a three-page letter, which a proof of 343 letters would feel.)
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pikepdf

from letter_merge.errors import ConverterUnavailable, LetterMergeError
from letter_merge.process import run_program

INSTALL_HINT = (
    "install poppler-utils (Debian/Ubuntu: 'sudo apt-get install poppler-utils'; macOS: "
    "'brew install poppler'; Windows: poppler from conda-forge, with its bin folder on PATH)"
)


class PdfReadError(LetterMergeError):
    """poppler could not read a PDF."""


def page_count(pdf: Path) -> int:
    """How many pages `pdf` has. (pypdf takes about 8 ms for a tagged letter, whose structure
    sits in compressed object streams it parses in Python; qpdf well under one.)"""
    try:
        with pikepdf.open(pdf) as document:
            return len(document.pages)
    except (pikepdf.PdfError, OSError) as error:
        raise PdfReadError(f"{pdf.name}: cannot be read as a PDF ({error}).") from None


def _program(name: str, purpose: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConverterUnavailable(f"{name} (poppler-utils) is needed {purpose}; {INSTALL_HINT}.")
    return found


def require_poppler(purpose: str, programs: tuple[str, ...] = ("pdftotext", "pdftoppm")) -> None:
    """Stop early, before any work, when poppler is missing."""
    for name in programs:
        _program(name, purpose)


@contextlib.contextmanager
def readable_by_poppler(pdf: Path) -> Iterator[Path]:
    """`pdf` as poppler reads it quickly: a PDF/A letter's output intent (its colour profile)
    costs poppler 22 about 0.15 s to set up, sixteen times the rest of reading a letter's text,
    and neither its text nor a page's look needs it. So poppler gets a copy without it (made in
    about 3 ms); the letter itself is never changed. pdf_text and page_images make their own;
    reading a letter both ways, make one and hand them that."""
    with tempfile.TemporaryDirectory(prefix="letter-merge-read-") as scratch:
        yield _without_output_intent(pdf, Path(scratch))


def _without_output_intent(pdf: Path, scratch: Path) -> Path:
    try:
        with pikepdf.open(pdf) as document:
            if "/OutputIntents" not in document.Root:
                return pdf
            del document.Root["/OutputIntents"]
            copy = scratch / pdf.name
            document.save(copy)
            return copy
    except (pikepdf.PdfError, OSError):
        return pdf  # damaged: poppler says what it makes of it


def pdf_text(pdf: Path) -> str:
    """The PDF's text in reading order, pages separated by form feeds."""
    program = _program("pdftotext", "to read the letters' text")
    with readable_by_poppler(pdf) as readable:
        result = run_program([program, "-enc", "UTF-8", readable, "-"], timeout=60)
    if result.returncode != 0:
        raise PdfReadError(f"{pdf.name}: pdftotext could not read it ({_detail(result.output)}).")
    return result.output


def names(text: str, phrase: str) -> bool:
    """Whether `text` contains `phrase`, ignoring case and how the lines were broken."""
    return " ".join(phrase.split()).casefold() in " ".join(text.split()).casefold()


def page_images(
    pdf: Path,
    stem: Path,
    *,
    resolution: int = 60,
    first_only: bool = False,
    jpeg_width: int | None = None,
) -> list[Path]:
    """Pages of `pdf` as `<stem>-1.png`, `<stem>-2.png`, ... at `resolution` dpi; with
    `jpeg_width`, only the first page as `<stem>.jpg`, that many pixels wide."""
    program = _program("pdftoppm", "for page images")
    for old in (*stem.parent.glob(f"{stem.name}-*.png"), stem.with_suffix(".jpg")):
        old.unlink(missing_ok=True)
    if jpeg_width is not None:
        options = ["-jpeg", "-jpegopt", "quality=75", "-scale-to", str(jpeg_width)]
        options += ["-f", "1", "-l", "1", "-singlefile"]
    else:
        options = ["-png", "-r", str(resolution)]
        options += ["-f", "1", "-l", "1"] if first_only else []
    with readable_by_poppler(pdf) as readable:
        result = run_program([program, *options, readable, stem], timeout=120)
    if result.returncode != 0:
        raise PdfReadError(
            f"{pdf.name}: pdftoppm could not make page images ({_detail(result.output)})."
        )
    if jpeg_width is not None:
        return [stem.with_suffix(".jpg")]
    return sorted(
        stem.parent.glob(f"{stem.name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1])
    )


def _detail(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
