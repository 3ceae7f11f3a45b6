"""The check that converting letters together gives the letters converted alone.

Before letters made from a template are trusted to be converted together, a few of them (never
the first of their combined document, where nothing has run on from a letter before) are also
converted alone, and each pair is compared page by page: the number of pages, each page's lines
of text, and what each page shows, within a pixel at 100 dpi (so that a missing line or picture
counts, and a glyph moved by a fraction of a point does not). The first difference is said the
way a person finds it: 'footer of page 1: "Page 1 of 27" in the batch, "Page 1 of 3" alone'.

The verdict is kept in the cache by what it depends on (the template, the PDF settings, the
LibreOffice and letter-merge versions), so that a normal build pays nothing for it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import hashlib
import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from letter_merge import __version__
from letter_merge.files import write_atomic
from letter_merge.pdf.pages import Line, Page, page_pictures, read_pages
from letter_merge.template.wordxml import BODY_PART, parse, w

# Raised whenever what the combined document does for each letter changes, so that verdicts
# reached by an older way are not trusted.
COMBINING_VERSION = 4
DPI = 100
INK = 160  # darker than this (0 black, 255 white) is ink
STRAY_PIXELS = 12  # ink in one picture and nowhere near in the other, above which pages differ
TWIPS_PER_POINT = 20


@dataclass(frozen=True)
class Margins:
    """The top and bottom page margins, in points: a line above or below them is in the header
    or footer."""

    top: float = 72.0
    bottom: float = 72.0

    @classmethod
    def of(cls, docx: Path) -> Margins:
        """The margins of the letter's first section."""
        try:
            with zipfile.ZipFile(docx) as package:
                body = parse(package.read(BODY_PART))
        except (OSError, KeyError, zipfile.BadZipFile, ValueError):
            return cls()
        section = next(body.iter(w("sectPr")), None)
        margins = section.find(w("pgMar")) if section is not None else None
        if margins is None:
            return cls()
        try:
            top = abs(int(margins.get(w("top"), "1440")))
            bottom = abs(int(margins.get(w("bottom"), "1440")))
        except ValueError:
            return cls()
        return cls(top / TWIPS_PER_POINT, bottom / TWIPS_PER_POINT)


@dataclass(frozen=True)
class Verdict:
    """Whether letters of a template converted together were the letters converted alone."""

    same: bool
    difference: str  # the first difference found; '' when the same
    compared: tuple[str, ...]  # the letters compared (file names)
    libreoffice: str
    checked_at: str  # ISO date and time

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Verdict:
        data = json.loads(text)
        return cls(
            bool(data["same"]),
            str(data["difference"]),
            tuple(str(name) for name in data["compared"]),
            str(data["libreoffice"]),
            str(data["checked_at"]),
        )


def verdict_key(family: str, libreoffice: str, export: str) -> str:
    """What a verdict depends on: the template and settings the letters were made from
    (`family`), how they are exported, LibreOffice's and letter-merge's versions."""
    text = f"{family}\n{export}\n{libreoffice}\n{__version__}\n{COMBINING_VERSION}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Verdicts:
    """Verdicts kept in a folder of the cache, one file each (None: nothing is kept)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def get(self, key: str) -> Verdict | None:
        if self.folder is None:
            return None
        try:
            return Verdict.from_json((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, verdict: Verdict) -> None:
        if self.folder is None:
            return
        # The cache only saves time: without it the check is made again next time.
        with contextlib.suppress(OSError):
            write_atomic(self.folder / f"{key}.json", verdict.to_json().encode("utf-8"))


def new_verdict(differences: dict[str, str | None], libreoffice: str) -> Verdict:
    """The verdict on the letters compared (file name -> their first difference, or None)."""
    found = [f"{Path(name).stem}, {why}" for name, why in differences.items() if why]
    return Verdict(
        same=not found,
        difference=found[0] if found else "",
        compared=tuple(differences),
        libreoffice=libreoffice,
        checked_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def difference(batch: Path | bytes, alone: Path | bytes, margins: Margins) -> str | None:
    """How the letter from the batch differs from the letter converted alone: None if in
    nothing, else the first difference, said as a person would find it."""
    batch_pages, alone_pages = read_pages(batch), read_pages(alone)
    for batch_page, alone_page in zip(batch_pages, alone_pages, strict=False):
        found = _text_difference(batch_page, alone_page, margins)
        if found:
            return found
    if len(batch_pages) != len(alone_pages):
        return f"{_pages(len(batch_pages))} in the batch, {_pages(len(alone_pages))} alone"
    for number, (seen, expected) in enumerate(
        zip(page_pictures(batch, DPI), page_pictures(alone, DPI), strict=True), start=1
    ):
        found = _picture_difference(seen, expected, batch_pages[number - 1], margins)
        if found:
            return found
    return None


def _pages(count: int) -> str:
    return f"{count} page" if count == 1 else f"{count} pages"


def _text_difference(batch: Page, alone: Page, margins: Margins) -> str | None:
    # Where pdfium puts a space between two pieces of text depends on how the PDF draws them,
    # which may differ where nothing a reader sees does: text is compared without spaces (the
    # pictures are compared too).
    if _unspaced(batch.text) == _unspaced(alone.text):
        return None
    seen = [_unspaced(line.text) for line in batch.lines]
    expected = [_unspaced(line.text) for line in alone.lines]
    matcher = difflib.SequenceMatcher(None, seen, expected, autojunk=False)
    for kind, first, last, other_first, other_last in matcher.get_opcodes():
        if kind == "equal":
            continue
        if first < last:
            line = batch.lines[first]
            where = region(batch, line.top, line.bottom, margins)
            ours = " ".join(line.text for line in batch.lines[first:last])
            theirs = " ".join(line.text for line in alone.lines[other_first:other_last])
            if theirs:
                return f'{where}: "{_short(ours)}" in the batch, "{_short(theirs)}" alone'
            return f'{where}: "{_short(ours)}" in the batch, nothing there alone'
        line = alone.lines[other_first]
        where = region(alone, line.top, line.bottom, margins)
        theirs = " ".join(line.text for line in alone.lines[other_first:other_last])
        return f'{where}: "{_short(theirs)}" alone, missing in the batch'
    return f"page {batch.number}: the text differs"


def _unspaced(text: str) -> str:
    return "".join(text.split())


def region(page: Page, top: float, bottom: float, margins: Margins) -> str:
    """'header of page 2', 'footer of page 2' or 'page 2', for something between `bottom` and
    `top` (points from the page's foot)."""
    middle = (top + bottom) / 2
    if middle > page.height - margins.top:
        return f"header of page {page.number}"
    if middle < margins.bottom:
        return f"footer of page {page.number}"
    return f"page {page.number}"


def _short(text: str) -> str:
    return text if len(text) <= 70 else text[:67] + "..."


def _picture_difference(
    seen: np.ndarray, expected: np.ndarray, page: Page, margins: Margins
) -> str | None:
    """Where ink lies on one page and nowhere within a pixel of it on the other."""
    if seen.shape != expected.shape:
        return f"page {page.number}: the page is another size in the batch than alone"
    ink_seen, ink_expected = seen < INK, expected < INK
    stray = (ink_seen & ~_grown(ink_expected)) | (ink_expected & ~_grown(ink_seen))
    if int(stray.sum()) <= STRAY_PIXELS:
        return None
    rows = np.nonzero(stray.any(axis=1))[0]
    scale = page.height / seen.shape[0]
    top = page.height - rows[0] * scale
    bottom = page.height - rows[-1] * scale
    where = region(page, top, bottom, margins)
    missing = bool((ink_expected & ~_grown(ink_seen)).any())
    extra = bool((ink_seen & ~_grown(ink_expected)).any())
    what = (
        "something drawn alone is missing in the batch"
        if missing and not extra
        else "something is drawn in the batch that is not there alone"
        if extra and not missing
        else "it is laid out differently in the batch than alone"
    )
    return f"{where}: {what} (the same text, {line_hint(page, top, bottom)})"


def line_hint(page: Page, top: float, bottom: float) -> str:
    """The text nearest a place on the page, to help find it."""
    near: Line | None = None
    distance = float("inf")
    for line in page.lines:
        gap = min(abs(line.top - top), abs(line.bottom - bottom), abs(line.bottom - top))
        if gap < distance:
            near, distance = line, gap
    return f'near "{_short(near.text)}"' if near is not None else "on an empty part of the page"


def _grown(ink: np.ndarray) -> np.ndarray:
    """Ink grown by a pixel in every direction."""
    grown = ink.copy()
    grown[1:, :] |= ink[:-1, :]
    grown[:-1, :] |= ink[1:, :]
    wider = grown.copy()
    wider[:, 1:] |= grown[:, :-1]
    wider[:, :-1] |= grown[:, 1:]
    return wider
