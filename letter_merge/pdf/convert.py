"""What converting letters from .docx to PDF means to every converter: a job, its result, the
Converter both converters are (libreoffice.py, word.py), letters handed over while they are still
being written (Arrivals), and putting a made PDF in its place."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

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


class Arrivals:
    """Letters to convert whose .docx files are still being written, in this order: the build
    merges them one after another while a converter that can begins on the first ones.

    The build says of each job, in order, whether its .docx was written (`arrived`), and closes
    the arrivals when it has merged every letter, or cancels them when it stops on an error: a
    job not arrived by then never will, so nothing waits for ever."""

    def __init__(self, jobs: Sequence[ConversionJob]) -> None:
        self.jobs = list(jobs)
        self._written: dict[ConversionJob, bool] = {}
        self._closed = False
        self.cancelled = False
        self._changed = threading.Condition()

    def arrived(self, job: ConversionJob, written: bool = True) -> None:
        """`job`'s .docx is written (or, `written` False, will not be: it could not be made)."""
        with self._changed:
            self._written[job] = written
            self._changed.notify_all()

    def close(self) -> None:
        """No more arrive: the build has merged every letter."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def cancel(self) -> None:
        """The build stopped on an error or Ctrl-C: nothing more is to be converted, not even
        what was written already."""
        with self._changed:
            self._closed = self.cancelled = True
            self._changed.notify_all()

    def wait(self, job: ConversionJob) -> bool:
        """Wait until `job` has arrived or never will: whether its .docx is written (and is to
        be converted)."""
        with self._changed:
            self._changed.wait_for(lambda: job in self._written or self._closed)
            return self._written.get(job, False) and not self.cancelled

    def written(self) -> list[ConversionJob]:
        """Wait until every letter is merged (the arrivals closed): those whose .docx was written,
        in order; none if the build stopped on an error."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed)
            return [] if self.cancelled else [job for job in self.jobs if self._written.get(job)]


@runtime_checkable
class ConvertsArriving(Protocol):
    """A converter that can begin while the letters are still being written."""

    def convert_arriving(
        self, arrivals: Arrivals, on_result: ResultCallback | None = None
    ) -> list[ConversionResult]: ...


def convert_arriving(
    converter: Converter, arrivals: Arrivals, on_result: ResultCallback | None = None
) -> list[ConversionResult]:
    """Convert the letters as they arrive where `converter` can; otherwise once all have."""
    if isinstance(converter, ConvertsArriving):
        return converter.convert_arriving(arrivals, on_result)
    return converter.convert(arrivals.written(), on_result)


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
