"""A quick look at one council's letter: rendered, converted, and turned into PNG pages.

Written to `output/<year>/preview/`, apart from the batch's letters, so a preview never
replaces a built (or approved) letter.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from letter_merge.batch import Batch
from letter_merge.convert import ConversionJob, Converter
from letter_merge.errors import ConverterUnavailable, LetterMergeError
from letter_merge.files import write_atomic
from letter_merge.process import run_program

PREVIEW = "preview"


@dataclass(frozen=True)
class Preview:
    authority: str
    pdf: Path
    pages: tuple[Path, ...]


def page_images(
    pdf: Path, stem: Path, *, resolution: int = 60, first_only: bool = False
) -> list[Path]:
    """PNG pages of `pdf` as `<stem>-1.png`, `<stem>-2.png`, … (pdftoppm from poppler-utils)."""
    program = shutil.which("pdftoppm")
    if program is None:
        raise ConverterUnavailable(
            "pdftoppm (poppler-utils) is needed for page images; install it "
            "(Debian/Ubuntu: 'sudo apt-get install poppler-utils')."
        )
    for old in stem.parent.glob(f"{stem.name}-*.png"):
        old.unlink()
    pages = ["-f", "1", "-l", "1"] if first_only else []
    result = run_program([program, "-png", "-r", str(resolution), *pages, pdf, stem], timeout=120)
    if result.returncode != 0:
        raise LetterMergeError(
            f"{pdf.name}: pdftoppm could not make page images ({result.output.strip()})."
        )
    return sorted(
        stem.parent.glob(f"{stem.name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1])
    )


def preview_letter(batch: Batch, name: str, converter: Converter) -> Preview:
    (letter,) = batch.letters([name])
    folder = batch.settings.year_dir / PREVIEW
    docx = folder / f"{letter.stem}.docx"
    write_atomic(docx, batch.template.render(letter.fields, title=letter.subject), durable=False)
    pdf = docx.with_suffix(".pdf")
    pdf.unlink(missing_ok=True)
    (result,) = converter.convert([ConversionJob(docx, pdf)])
    if result.error:
        raise LetterMergeError(f"{letter.council.authority}: {result.error}")
    pages = page_images(pdf, folder / letter.stem, resolution=80)
    return Preview(letter.council.authority, pdf, tuple(pages))
