"""Building a batch: one .docx and one PDF per council in `output/<year>/letters/`, and the manifest.

Each file is written atomically, and a letter's old PDF is removed before its new .docx replaces
the old one, so a PDF on disk always matches the .docx beside it: a run stopped half-way can simply
be run again. A letter whose template, fields and files are as the manifest recorded them is not
made again: a rebuild after correcting one row redoes one letter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TypeVar

from letter_merge import __version__
from letter_merge.batch import Batch, PlannedLetter
from letter_merge.figures import FIGURE_FIELDS
from letter_merge.files import (
    FileInUse,
    exclusive,
    remove_file,
    remove_leftovers,
    sha256_file,
    write_atomic,
)
from letter_merge.paths import OutputPaths
from letter_merge.pdf.convert import (
    Arrivals,
    ConversionJob,
    ConversionResult,
    Converter,
    convert_arriving,
)
from letter_merge.pdf.reading import page_count
from letter_merge.pdf.verify import Verdict
from letter_merge.process import stop_all_programs
from letter_merge.progress import Progress, no_progress
from letter_merge.records.join import CurrentFiles, Records
from letter_merge.records.manifest import (
    Conversion,
    FileRecord,
    InputRecord,
    LetterRecord,
    Manifest,
    Recipient,
    write_manifest,
)
from letter_merge.records.sources import snapshot, source_sha256, template_identity
from letter_merge.template.statement import read_letter
from letter_merge.template.text import TemplateError

_T = TypeVar("_T")


@dataclass(frozen=True)
class LetterOutcome:
    letter: PlannedLetter
    docx: Path | None  # None: the template could not be rendered for this council
    pdf: Path | None
    error: str | None = None
    source_sha256: str = ""
    remade: bool = True  # False: already up to date, left as it was
    pdf_pages: int | None = None  # as the converter counted them (None: count them)
    together: bool = False  # converted with other letters and cut apart (see pdf/verify.py)
    check: Verdict | None = None  # what showed that letters converted together are the same
    statement: str = ""  # what the letter states (template/statement.py)
    paragraphs: str = ""  # its body's paragraphs, packed (template/statement.py)

    @property
    def authority(self) -> str:
        return self.letter.council.authority


class RemovedPdf(NamedTuple):
    """A PDF a build removed because its letter changed and was made again without one."""

    authority: str
    pdf_sha256: str


@dataclass(frozen=True)
class Freshness:
    """What a letter is made from, and which of its files a build need not make again."""

    source_sha256: str
    current: CurrentFiles

    @property
    def docx(self) -> bool:
        return self.current.docx

    @property
    def pdf(self) -> bool:
        return self.current.pdf


@dataclass
class BuildReport:
    letters: list[LetterOutcome]
    manifest: Path
    seconds: float
    converter: str | None
    by_type: Counter[str] = field(default_factory=Counter)  # letters this run made, by type
    # PDFs removed because their letter changed and was made again without one (--no-pdf),
    # so that the command line can say which were approved.
    removed_pdfs: list[RemovedPdf] = field(default_factory=list)
    # What the conversion had to say once: letters converted one at a time, and why.
    notices: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[LetterOutcome]:
        return [o for o in self.letters if o.error]

    @property
    def made(self) -> list[LetterOutcome]:
        """The letters this run made (neither up to date already nor failed)."""
        return [o for o in self.letters if o.remade and not o.error]

    @property
    def unchanged(self) -> list[LetterOutcome]:
        return [o for o in self.letters if not o.remade and not o.error]


def build_letters(
    batch: Batch,
    *,
    only: Sequence[str] = (),
    converter: Converter | None = None,
    force: bool = False,
    on_progress: Progress = no_progress,
) -> BuildReport:
    """Make every chosen letter that is not already up to date (all of them with `force`), and
    its PDF with `converter` (None: .docx only). One build at a time for a year's batch."""
    paths = batch.settings.paths
    busy = (
        f"Another 'letter-merge build' is already running for {paths.year} ({paths.lock('build')}); "
        "wait for it to finish."
    )
    with exclusive(paths.lock("build"), busy):
        return _build(batch, paths, only, converter, force, on_progress)


def _build(
    batch: Batch,
    paths: OutputPaths,
    only: Sequence[str],
    converter: Converter | None,
    force: bool,
    progress: Progress,
) -> BuildReport:
    started = time.perf_counter()
    paths.letters.mkdir(parents=True, exist_ok=True)
    remove_leftovers(paths.letters)
    records = Records.load(batch.settings, batch)
    planned = batch.letters(only)
    template_hash = template_identity(batch)
    fresh = {
        letter.council.authority: Freshness(
            source_sha256(template_hash, letter),
            CurrentFiles() if force else records.files_current(letter.council.authority),
        )
        for letter in planned
    }
    if batch.template.uses_chart:
        batch.template.charts.prepare(
            (letter.fields for letter in planned if not fresh[letter.council.authority].docx),
            lambda done, total: progress("Drawing charts", done, total),
        )

    built = records.built
    outcomes: dict[str, LetterOutcome] = {}
    removed: list[RemovedPdf] = []
    to_convert = {
        letter.council.authority: _job(batch, letter, template_hash)
        for letter in planned
        if converter is not None and not fresh[letter.council.authority].pdf
    }
    arrivals = Arrivals(list(to_convert.values()))
    shown = _PdfProgress(progress)
    with ThreadPoolExecutor(1, thread_name_prefix="converting") as converting:
        results: Future[list[ConversionResult]] | None = None
        try:
            if converter is not None and to_convert:
                # The letters are converted while they are merged: a converter that can begins
                # on the first ones at once (pdf/convert.py), the others once the last is written.
                results = converting.submit(convert_arriving, converter, arrivals, shown.converted)
            for number, letter in enumerate(planned, start=1):
                authority = letter.council.authority
                old = built.get(authority) if converter is None else None
                outcome = _write_letter(batch, letter, fresh[authority], old, removed)
                outcomes[authority] = outcome
                if authority in to_convert:
                    arrivals.arrived(to_convert[authority], outcome.docx is not None)
                progress("Writing letters", number, len(planned))
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                stop_all_programs()  # Ctrl-C: LibreOffice (or Word) stops at once
            arrivals.cancel()  # nothing more is converted: the build stops here
            raise
        arrivals.close()
        shown.merged(sum(outcomes[authority].docx is not None for authority in to_convert))
        if results is not None:
            try:
                converted = _result(results)
            except KeyboardInterrupt:
                stop_all_programs()
                raise
            outcomes.update((o.authority, o) for o in _converted(outcomes, converted))

    report = BuildReport(
        letters=list(outcomes.values()),
        manifest=paths.manifest,
        seconds=0.0,
        converter=converter.version() if converter and to_convert else None,
        by_type=Counter(
            o.letter.council.authority_type for o in outcomes.values() if o.remade and not o.error
        ),
        removed_pdfs=removed,
        notices=list(converter.notices) if converter is not None and to_convert else [],
    )
    _record(batch, report, records.manifest, built)
    report.seconds = time.perf_counter() - started
    return report


def _write_letter(
    batch: Batch,
    letter: PlannedLetter,
    fresh: Freshness,
    old: LetterRecord | None,
    removed: list[RemovedPdf],
) -> LetterOutcome:
    """The letter's .docx, written unless it is up to date. A PDF of its old .docx is removed
    first (it would no longer match the new one); when no PDF is made in its place (`old`: the
    letter's record, given only then), it is noted in `removed`."""
    docx = batch.settings.paths.letters / f"{letter.stem}.docx"
    pdf = docx.with_suffix(".pdf")
    statement = paragraphs = ""
    if not fresh.docx:
        try:
            data = batch.template.render(letter.fields, title=letter.subject)
        except TemplateError as error:
            # This council's figures break an expression: the others are still built.
            return LetterOutcome(letter, None, None, str(error), fresh.source_sha256)
        try:
            if pdf.exists():
                remove_file(pdf)
                if old is not None and old.pdf is not None:
                    removed.append(RemovedPdf(old.authority, old.pdf.sha256))
            write_atomic(docx, data, durable=False)
            statement, paragraphs = read_letter(data)
        except FileInUse as error:
            # Word or a PDF viewer holds it (Windows will not replace it): the others are
            # still built, and the next build makes this one.
            return LetterOutcome(
                letter, None, None, f"{error.advice} and run build again", fresh.source_sha256
            )
    return LetterOutcome(
        letter,
        docx,
        pdf if fresh.pdf else None,
        None,
        fresh.source_sha256,
        remade=not fresh.docx,
        statement=statement,
        paragraphs=paragraphs,
    )


def _job(batch: Batch, letter: PlannedLetter, family: str) -> ConversionJob:
    docx = batch.settings.paths.letters / f"{letter.stem}.docx"
    return ConversionJob(docx, docx.with_suffix(".pdf"), letter.subject, family)


class _PdfProgress:
    """Making PDFs, for the progress bars, shown once writing letters is over: the first PDFs
    may be made while the last letters are still being written."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.done = 0
        self.total: int | None = None  # the letters written, once all are
        self._lock = threading.Lock()

    def converted(self, result: ConversionResult) -> None:
        with self._lock:
            self.done += 1
            if self.total is not None:
                self.progress("Making PDFs", self.done, self.total)

    def merged(self, written: int) -> None:
        with self._lock:
            self.total = written
            if self.done:
                self.progress("Making PDFs", self.done, self.total)


def _result(future: Future[_T]) -> _T:
    """The future's result, waited for in short steps, so that Ctrl-C is heard at once on
    Windows too (where a wait without a time limit cannot be interrupted, before Python 3.14)."""
    while True:
        try:
            return future.result(timeout=0.25)
        except FutureTimeout:
            continue


def _converted(
    outcomes: dict[str, LetterOutcome], results: Sequence[ConversionResult]
) -> list[LetterOutcome]:
    """The letters' outcomes with their PDFs (or why the conversion failed)."""
    by_docx = {o.docx: o for o in outcomes.values() if o.docx}
    return [
        dataclasses.replace(
            by_docx[result.job.docx],
            pdf=None if result.error else result.job.pdf,
            error=result.error,
            remade=True,
            pdf_pages=result.pages,
            together=result.together,
            check=result.check,
        )
        for result in results
    ]


def _record(
    batch: Batch,
    report: BuildReport,
    previous: Manifest | None,
    previous_letters: dict[str, LetterRecord],
) -> None:
    """Write the manifest: inputs, tools and every letter's files with their SHA-256, keeping the
    records of letters this run did not touch (`--only`) while they are still in the workbook."""
    settings = batch.settings
    paths = settings.paths
    current = {c.authority for c in batch.workbook.councils}
    letters = {name: r for name, r in previous_letters.items() if name in current}
    for outcome in report.letters:
        kept = letters.get(outcome.authority)
        unchanged = not outcome.remade and outcome.pdf is not None and kept and kept.pdf
        if not unchanged:
            record = _letter_record(outcome, paths, template_identity(batch))
            if not record.statement and kept and kept.source_sha256 == record.source_sha256:
                record = dataclasses.replace(  # its PDF only
                    record, statement=kept.statement, paragraphs=kept.paragraphs
                )
            letters[outcome.authority] = record
    order = {c.authority: i for i, c in enumerate(batch.workbook.councils)}
    inputs = {"workbook": settings.workbook, "template": settings.template}
    if settings.config_file:
        inputs["settings"] = settings.config_file
    manifest = Manifest(
        year=settings.year,
        letter_date=settings.letter_date.isoformat(),
        tool_version=__version__,
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        converter=report.converter or (previous.converter if previous else None),
        inputs={name: InputRecord(str(file), sha256_file(file)) for name, file in inputs.items()},
        letters=tuple(sorted(letters.values(), key=lambda r: order[r.authority])),
    )
    write_manifest(paths.manifest, manifest)


def _letter_record(outcome: LetterOutcome, paths: OutputPaths, template_hash: str) -> LetterRecord:
    council = outcome.letter.council
    docx = _file_record(outcome.docx, paths)
    pdf = _file_record(outcome.pdf, paths)
    if pdf is not None and outcome.pdf is not None:
        pages = outcome.pdf_pages if outcome.pdf_pages is not None else page_count(outcome.pdf)
        pdf = FileRecord(pdf.path, pdf.sha256, pages)
    return LetterRecord(
        authority=council.authority,
        authority_type=council.authority_type,
        recipient=Recipient(
            council.salutation, council.job_title, council.email, tuple(council.cc)
        ),
        subject=outcome.letter.subject,
        docx=docx,
        pdf=pdf,
        source_sha256=outcome.source_sha256,
        figures={name: outcome.letter.fields.get(name) for name in FIGURE_FIELDS},
        error=outcome.error,
        conversion=_conversion(outcome),
        fields=snapshot(outcome.letter),
        template=template_hash,
        tool_version=__version__,
        statement=outcome.statement,
        paragraphs=outcome.paragraphs,
    )


def _conversion(outcome: LetterOutcome) -> Conversion | None:
    if outcome.pdf is None:
        return None
    if not outcome.together or outcome.check is None:
        return Conversion(together=False)
    check = outcome.check
    return Conversion(True, check.compared, check.libreoffice, check.checked_at)


def _file_record(file: Path | None, paths: OutputPaths) -> FileRecord | None:
    if file is None or not file.exists():
        return None
    return FileRecord(paths.relative(file), sha256_file(file))
