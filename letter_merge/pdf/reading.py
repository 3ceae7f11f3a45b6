"""Reading PDFs back: their text and their pages as pictures, with pdfium (pypdfium2, in this
process: it has wheels for Windows, macOS and Linux, so nothing else need be installed); their
page count with qpdf (pikepdf).

This is the one way letter-merge reads a letter's text, so that the proof and the last check
before sending agree on what a PDF says. pdfium gives the text in the order the PDF draws it (a
table row by row), where poppler's pdftotext gave it by columns: the checks therefore look for
words and phrases with spacing and line breaks ignored, never at what follows what across a
line. On the sample batch's 343 letters both read exactly the same words (tests/test_reading.py
keeps that true against each letter's own .docx). Reading a three-page letter's text takes
about 7 ms; pdftotext took about 200 ms, most of it setting up the PDF/A colour profile.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium

from letter_merge.errors import LetterMergeError
from letter_merge.files import write_atomic
from letter_merge.pdf.conformance import Conformance, read_conformance
from letter_merge.pdf.pages import Page, opened, read_page

# What pdfium puts in the text that is not the letter's: the line ends it reports as \r\n, and
# the mark it leaves where a word was hyphenated at a line's end (U+FFFE) or a soft hyphen was.
_NOT_TEXT = str.maketrans({"\r": None, "\ufffe": None, "\u00ad": None})


class PdfReadError(LetterMergeError):
    """A PDF could not be read."""


@dataclass(frozen=True)
class LetterReading:
    """All the proof reads of one letter's PDF, read in one go (by a worker process: pdfium
    reads one PDF at a time in a process, and a proof reads hundreds)."""

    text: str
    pages: tuple[Page, ...]
    thumbnail: bytes  # the first page as a JPEG
    conformance: Conformance


def read_letter(pdf: Path, thumbnail_width: int) -> LetterReading:
    try:
        conformance = read_conformance(pdf)
        with opened(pdf) as document:
            read = [read_page(document, index) for index in range(len(document))]
            thumbnail = _render(document, 0, thumbnail_width / read[0][0].width, "JPEG")
    except (pikepdf.PdfError, pdfium.PdfiumError, OSError, IndexError) as error:
        raise PdfReadError(f"{pdf.name}: cannot be read as a PDF ({error}).") from None
    text = "\f".join(whole.translate(_NOT_TEXT) for _, whole in read)
    return LetterReading(text, tuple(page for page, _ in read), thumbnail, conformance)


def page_count(pdf: Path) -> int:
    """How many pages `pdf` has. (pypdf takes about 8 ms for a tagged letter, whose structure
    sits in compressed object streams it parses in Python; qpdf well under one.)"""
    try:
        with pikepdf.open(pdf) as document:
            return len(document.pages)
    except (pikepdf.PdfError, OSError) as error:
        raise PdfReadError(f"{pdf.name}: cannot be read as a PDF ({error}).") from None


def pdf_text(pdf: Path | bytes) -> str:
    """The PDF's text (a file, or a PDF's bytes) in the order it is drawn, lines ending in
    \\n, pages separated by form feeds."""
    try:
        with opened(pdf) as document:
            pages = [_page_text(document, index) for index in range(len(document))]
    except pdfium.PdfiumError as error:
        name = "the PDF" if isinstance(pdf, bytes) else pdf.name
        raise PdfReadError(f"{name}: its text cannot be read ({error}).") from None
    return "\f".join(pages)


def _page_text(document: pdfium.PdfDocument, index: int) -> str:
    page = document[index]
    try:
        text = page.get_textpage()
        try:
            return str(text.get_text_bounded()).translate(_NOT_TEXT)
        finally:
            text.close()
    finally:
        page.close()


def names(text: str, phrase: str) -> bool:
    """Whether `text` contains `phrase`, ignoring case and how the lines were broken."""
    return " ".join(phrase.split()).casefold() in " ".join(text.split()).casefold()


def page_images(
    pdf: Path,
    stem: Path,
    *,
    resolution: int = 60,
) -> list[Path]:
    """Pages of `pdf` as `<stem>-1.png`, `<stem>-2.png`, ... at `resolution` dpi."""
    for old in stem.parent.glob(f"{stem.name}-*.png"):
        old.unlink(missing_ok=True)
    images = []
    try:
        with opened(pdf) as document:
            for index in range(len(document)):
                target = stem.with_name(f"{stem.name}-{index + 1}.png")
                write_atomic(target, _render(document, index, resolution / 72, "PNG"))
                images.append(target)
    except pdfium.PdfiumError as error:
        raise PdfReadError(f"{pdf.name}: its pages cannot be drawn ({error}).") from None
    return images


def _render(document: pdfium.PdfDocument, index: int, scale: float, kind: str) -> bytes:
    page = document[index]
    try:
        bitmap = page.render(scale=scale)
        try:
            picture = bitmap.to_pil()
            buffer = io.BytesIO()
            options = {"quality": 75} if kind == "JPEG" else {"optimize": False}
            picture.convert("RGB").save(buffer, kind, **options)
            return buffer.getvalue()
        finally:
            bitmap.close()
    finally:
        page.close()
