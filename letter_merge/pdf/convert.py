"""What converting letters from .docx to PDF means to every converter: a job, its result, the
Converter both converters are (libreoffice.py, word.py), and putting a made PDF in its place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from letter_merge.files import FileInUse, write_atomic
from letter_merge.pdf.combine import docx_title
from letter_merge.pdf.verify import Verdict


@dataclass(frozen=True)
class ConversionJob:
    docx: Path
    pdf: Path
    title: str = ""  # the PDF's title (the letter's subject); "" -> the .docx's own title
    # What the letter is made from besides its own fields (the template and settings): letters
    # of one family are checked once against themselves converted alone before they are
    # converted together. "" -> the package's own shared parts.
    family: str = ""

    def pdf_title(self) -> str:
        return self.title or docx_title(self.docx)


@dataclass(frozen=True)
class ConversionResult:
    job: ConversionJob
    error: str | None = None  # why no PDF was made; None when it was
    pages: int | None = None  # the PDF's pages, where the converter knows without reading it
    together: bool = False  # converted with other letters as one document, then cut apart
    # The check that letters of its template converted together are the letters alone.
    check: Verdict | None = None


# Called with each letter's result as soon as it is known (the build counts them for its progress).
ResultCallback = Callable[[ConversionResult], None]


class Converter(Protocol):
    name: str
    # What the last conversion has to say once (letters converted one at a time, and why).
    notices: list[str]

    def version(self) -> str: ...

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ResultCallback | None = None
    ) -> list[ConversionResult]: ...


def put_pdf(result: ConversionResult, data: bytes, report: ResultCallback) -> None:
    """Put a converted letter's PDF in its place and report it; a PDF that cannot be replaced
    (open in a PDF viewer on Windows) is that letter's failure, not the run's."""
    try:
        write_atomic(result.job.pdf, data, durable=False)
    except FileInUse as error:
        result = ConversionResult(result.job, f"{error.advice} and run build again")
    report(result)


def is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(5) == b"%PDF-"
    except OSError:
        return False
