"""A stand-in for LibreOffice in the tests of what happens after a build (approving, queueing,
sending, corrections, status), so that they run without it, in the fast tier.

It sets each letter's text (from its .docx) on A4 pages with matplotlib, fonts embedded, and
is named as what it is: the letters' real layout, tagging and conformance are tested with
LibreOffice elsewhere (test_letters, test_combined, test_accessible). What these tests exercise
is the decisions made about a letter, which depend on its PDF's bytes and words, not its looks.

Setting the text is most of a fast test's time, so the pages of each text are kept, in memory
and in .pytest_cache (named by the text, this file and matplotlib's version), and stamped afresh
with the time each time they are handed out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib.metadata
import os
import tempfile
import textwrap
import uuid
from collections.abc import Sequence
from pathlib import Path

from letter_merge.cli import Frontend
from letter_merge.pdf.convert import ConversionJob, ConversionResult, ResultCallback, put_pdf
from tests.helpers import ROOT, docx_text

LINES_PER_PAGE = 50  # within margins of an inch
# Settings the stand-in's PDFs meet: they are not tagged or PDF/A (LibreOffice's are).
PLAIN_PDF = '\n[pdf]\naccessible = false\narchive = "none"\n'


class TextPdfConverter:
    """Each letter's text on A4 pages (a stand-in for LibreOffice; see the module)."""

    name = "stand-in: text on pages (matplotlib)"
    notices: list[str] = []  # noqa: RUF012

    def version(self) -> str:
        return "stand-in 1"

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ResultCallback | None = None
    ) -> list[ConversionResult]:
        results: list[ConversionResult] = []
        for job in jobs:
            # Put in place as LibreOffice's PDFs are: one that cannot be is that letter's failure.
            data = text_pdf(docx_text(job.docx), job.pdf_title())
            put_pdf(ConversionResult(job), data, results.append)
            if on_result:
                on_result(results[-1])
        return results


def text_pdf(text: str, title: str) -> bytes:
    """`text` set on A4 pages, 10 point DejaVu Sans, embedded, stamped with the time it was made
    and, after its end, a mark of its own (a letter made again differs, as LibreOffice's would,
    even within the same second)."""
    made = dt.datetime.now(dt.UTC).strftime("D:%Y%m%d%H%M%SZ").encode("ascii")
    mark = f"\n% made {uuid.uuid4().hex}\n".encode("ascii")
    return _text_pages(text, title).replace(_UNSTAMPED, made, 1) + mark


_UNSTAMPED_TIME = dt.datetime(1999, 1, 1, tzinfo=dt.UTC)
_UNSTAMPED = _UNSTAMPED_TIME.strftime("D:%Y%m%d%H%M%SZ").encode("ascii")  # the same length
_KEPT = ROOT / ".pytest_cache" / "d" / "stand-in-pdf"  # pytest --cache-clear empties it


@functools.cache
def _text_pages(text: str, title: str) -> bytes:
    """The pages of `text`, unstamped: set once, then kept."""
    made_by = (Path(__file__).read_bytes(), importlib.metadata.version("matplotlib"))
    kept = _KEPT / f"{hashlib.sha256(repr((made_by, text, title)).encode()).hexdigest()}.pdf"
    with contextlib.suppress(OSError):
        return kept.read_bytes()
    pdf = _set_text(text, title)
    with contextlib.suppress(OSError):  # not kept: set again next time
        kept.parent.mkdir(parents=True, exist_ok=True)
        handle, part = tempfile.mkstemp(dir=kept.parent, suffix=".part")
        with os.fdopen(handle, "wb") as stream:
            stream.write(pdf)
        os.replace(part, kept)  # whole or not at all, whichever test worker writes it
    return pdf


def _set_text(text: str, title: str) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["pdf.fonttype"] = 42  # TrueType, embedded, with its characters' text
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    lines = [
        wrapped
        for paragraph in text.split("\n")
        for wrapped in (textwrap.wrap(paragraph, 95) or [""])
    ]
    buffer = io.BytesIO()
    metadata = {"Title": title, "CreationDate": _UNSTAMPED_TIME}
    with PdfPages(buffer, metadata=metadata) as pages:
        for start in range(0, max(len(lines), 1), LINES_PER_PAGE):
            figure = Figure(figsize=(8.27, 11.69))
            for number, line in enumerate(lines[start : start + LINES_PER_PAGE]):
                figure.text(0.12, 0.9 - number * 0.016, line, fontsize=9)
            pages.savefig(figure)
    pdf = buffer.getvalue()
    assert pdf.count(_UNSTAMPED) == 1
    return pdf


def plain_pdf_settings(folder: Path) -> None:
    settings = folder / "letter-merge.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + PLAIN_PDF, encoding="utf-8")


# The command line with the stand-in in place of LibreOffice: `cli(obj=STAND_IN)`.
STAND_IN = Frontend(converter=lambda settings, name: TextPdfConverter())
