"""A quick look at one council's letter: rendered, converted, and turned into PNG pages.

Written to `output/<year>/preview/`, apart from the batch's letters, so a preview never
replaces a built (or approved) letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from letter_merge.batch import Batch
from letter_merge.errors import LetterMergeError
from letter_merge.files import write_atomic
from letter_merge.pdf.convert import ConversionJob, Converter
from letter_merge.pdf.reading import page_images


@dataclass(frozen=True)
class Preview:
    authority: str
    pdf: Path
    pages: tuple[Path, ...]


def preview_letter(batch: Batch, name: str, converter: Converter) -> Preview:
    (letter,) = batch.letters([name])
    folder = batch.settings.paths.preview
    docx = folder / f"{letter.stem}.docx"
    write_atomic(docx, batch.template.render(letter.fields, title=letter.subject), durable=False)
    pdf = docx.with_suffix(".pdf")
    pdf.unlink(missing_ok=True)
    (result,) = converter.convert([ConversionJob(docx, pdf, letter.subject)])
    if result.error:
        raise LetterMergeError(f"{letter.council.authority}: {result.error}")
    pages = page_images(pdf, folder / letter.stem, resolution=80)
    return Preview(letter.council.authority, pdf, tuple(pages))
