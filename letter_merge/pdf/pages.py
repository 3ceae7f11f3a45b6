"""A PDF's pages as a reader meets them: the lines of text on each page with where they stand,
and each page as a picture, read in this process with pdfium (pypdfium2, which has wheels for
Windows, macOS and Linux).

pdfium is not safe to call from two threads at once, so every call goes through one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

LOCK = threading.RLock()


@dataclass(frozen=True)
class Line:
    """A run of text on a page and its box, in points from the page's bottom left corner."""

    text: str
    left: float
    bottom: float
    right: float
    top: float


@dataclass(frozen=True)
class Page:
    number: int  # from 1
    width: float  # points
    height: float
    lines: tuple[Line, ...]

    @property
    def text(self) -> str:
        return " ".join(" ".join(line.text for line in self.lines).split())


@contextmanager
def opened(pdf: Path | bytes) -> Iterator[pdfium.PdfDocument]:
    with LOCK:
        document = pdfium.PdfDocument(pdf if isinstance(pdf, bytes) else str(pdf))
        try:
            yield document
        finally:
            document.close()


def read_pages(pdf: Path | bytes) -> list[Page]:
    """Every page's lines of text, in the order the PDF draws them."""
    with opened(pdf) as document:
        return [read_page(document, index)[0] for index in range(len(document))]


def read_page(document: pdfium.PdfDocument, index: int) -> tuple[Page, str]:
    """One page's lines, and all its text as pdfium gives it (lines ending in \\r\\n)."""
    page = document[index]
    try:
        width, height = page.get_size()
        text = page.get_textpage()
        try:
            lines = []
            for number in range(text.count_rects()):
                left, bottom, right, top = text.get_rect(number)
                words = text.get_text_bounded(left, bottom, right, top)
                if words.strip():
                    lines.append(Line(" ".join(words.split()), left, bottom, right, top))
            whole = text.get_text_bounded()
        finally:
            text.close()
    finally:
        page.close()
    return Page(index + 1, width, height, tuple(lines)), whole


def page_pictures(pdf: Path | bytes, dpi: int = 100) -> list[np.ndarray]:
    """Each page as a grey picture (0 black, 255 white) at `dpi`."""
    pictures = []
    with opened(pdf) as document:
        for index in range(len(document)):
            page = document[index]
            try:
                bitmap = page.render(scale=dpi / 72, grayscale=True)
                try:
                    picture = np.array(bitmap.to_numpy())  # a copy: the bitmap's memory is freed
                    pictures.append(picture[:, :, 0] if picture.ndim == 3 else picture)
                finally:
                    bitmap.close()
            finally:
                page.close()
    return pictures
