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
from letter_merge.template.html_email import email_body, with_header


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


@dataclass(frozen=True)
class EmailPreview:
    """One council's email as its chief executive will see it: `page` (HTML, its headers on
    top, pictures written in) for a browser, `text` its plain-text version."""

    authority: str
    subject: str
    page: Path
    text: Path
    html: bool  # an HTML email (else plain text only, shown in the page as it reads)


def preview_email(batch: Batch, name: str) -> EmailPreview:
    """The email for one council, written to output/<year>/preview/ as `<stem> email.html` and
    `<stem> email.txt`; nothing is queued."""
    (letter,) = batch.letters([name])
    settings = batch.settings
    council = letter.council
    plain = batch.email_body(letter.fields)
    body = email_body(settings, plain, letter.fields, title=letter.subject)
    headers = [
        ("From", settings.email_from),
        ("To", f"{council.full_name} <{council.email}>"),
        ("Cc", ", ".join(council.cc)),
        ("Subject", letter.subject),
        ("Attached", f"{letter.stem}.pdf"),
    ]
    folder = settings.paths.preview
    page = folder / f"{letter.stem} email.html"
    text = folder / f"{letter.stem} email.txt"
    write_atomic(text, body.text.encode("utf-8"), durable=False)
    write_atomic(page, with_header(body, headers).encode("utf-8"), durable=False)
    return EmailPreview(council.authority, letter.subject, page, text, bool(body.html))
