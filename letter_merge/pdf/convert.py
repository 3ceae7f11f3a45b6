"""Converting letters from .docx to PDF: LibreOffice (default) or Microsoft Word (Windows/macOS).

Starting LibreOffice and opening a document cost far more than laying out a letter, so letters made
from the same template are converted together, a few dozen as the sections of one document, and
each document's PDF is split back into letters (see combine.py and split.py). Two LibreOffices
work side by side, each with its own profile folder (two instances sharing one would hand their
work to each other), each converting all its documents in one run: a document is split as soon
as LibreOffice says it has gone on to the next, so that cutting keeps pace with converting.
Whatever cannot be converted together is converted one document at a time, and a failed run is
retried letter by letter, so one broken letter never takes the others down. Every PDF is checked
before it replaces the old one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue
from typing import Protocol

import pikepdf
from lxml import etree

from letter_merge.config import DEFAULT_PDF, PdfSettings
from letter_merge.errors import ConverterUnavailable, InputError
from letter_merge.files import CONVERTING_PREFIX, try_lock, write_atomic
from letter_merge.pdf.combine import CombineError, combine_letters, docx_title, shared_signature
from letter_merge.pdf.conformance import export_filter, finish_pdf
from letter_merge.pdf.split import letter_pdfs
from letter_merge.process import ProgramResult, run_program, stop_all_programs

log = logging.getLogger(__name__)

WINDOWS_PLACES = (
    r"C:\Program Files\LibreOffice\program\soffice.exe",
    r"C:\Program Files (x86)\LibreOffice\program\soffice.exe",
)
MACOS_PLACES = ("/Applications/LibreOffice.app/Contents/MacOS/soffice",)
# Letters converted together go as documents of a few dozen letters, several to a LibreOffice run:
# LibreOffice costs about as much a letter in documents of 10 letters as of 170, and a second or
# so to start, so the split of each document follows closely behind LibreOffice while the runs
# stay few. Long runs are cut (a run that stops loses less); letters converted one by one go a
# few to a run.
LETTERS_PER_DOCUMENT = 40
LETTERS_PER_RUN = 200
SEPARATE_CHUNK = 20
# How long LibreOffice may go without saying anything before it is stopped: a run of combined
# documents says when it begins each, but LibreOffice on Windows says nothing at all.
RUN_SECONDS = 60
SECONDS_PER_LETTER = 2
INSTALL_HINT = (
    "LibreOffice is needed to make PDFs and was not found. Install it (Debian/Ubuntu: "
    "'sudo apt-get install libreoffice-writer-nogui'; Windows/macOS: from libreoffice.org), or use "
    "--converter word on Windows/macOS with Microsoft Word, or build with --no-pdf."
)


@dataclass(frozen=True)
class ConversionJob:
    docx: Path
    pdf: Path
    title: str = ""  # the PDF's title (the letter's subject); "" -> the .docx's own title

    def pdf_title(self) -> str:
        return self.title or docx_title(self.docx)


@dataclass(frozen=True)
class ConversionResult:
    job: ConversionJob
    error: str | None = None  # why no PDF was made; None when it was
    pages: int | None = None  # the PDF's pages, where the converter knows without reading it


# Called with each letter's result as soon as it is known (the build counts them for its progress).
ResultCallback = Callable[[ConversionResult], None]


class Converter(Protocol):
    name: str

    def version(self) -> str: ...

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ResultCallback | None = None
    ) -> list[ConversionResult]: ...


def is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(5) == b"%PDF-"
    except OSError:
        return False


def find_libreoffice() -> Path | None:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return Path(found)
    places = WINDOWS_PLACES if sys.platform == "win32" else MACOS_PLACES
    return next((Path(p) for p in places if Path(p).exists()), None)


def make_converter(
    name: str, profile_dir: Path | None = None, pdf: PdfSettings = DEFAULT_PDF
) -> Converter:
    if name == "libreoffice":
        program = find_libreoffice()
        if program is None:
            raise ConverterUnavailable(INSTALL_HINT)
        return LibreOfficeConverter(program, profile_dir=profile_dir, pdf=pdf)
    if name == "word":
        return WordConverter()
    raise InputError(f"--converter {name}: use 'libreoffice' or 'word'.")


class LibreOfficeConverter:
    name = "LibreOffice"

    def __init__(
        self,
        program: Path,
        *,
        workers: int | None = None,
        profile_dir: Path | None = None,
        combine: bool = True,
        pdf: PdfSettings = DEFAULT_PDF,
    ) -> None:
        self.program = program
        self.pdf = pdf
        self.workers = max(1, workers or min(2, os.cpu_count() or 1))
        # Kept between runs: a new LibreOffice profile costs about two seconds to set up.
        self.profile_dir = profile_dir
        self.combine = combine
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            result = run_program([self.program, "--version"], timeout=60)
            lines = result.output.strip().splitlines()
            self._version = lines[-1].strip() if lines else "LibreOffice (version unknown)"
        return self._version

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ResultCallback | None = None
    ) -> list[ConversionResult]:
        if not jobs:
            return []
        results: list[ConversionResult] = []
        lock = threading.Lock()

        def report(result: ConversionResult) -> None:
            with lock:
                results.append(result)
                if on_result:
                    on_result(result)

        runs, alone = self._plan(jobs)
        with (
            _Profiles(self.profile_dir, self.workers) as profiles,
            ThreadPoolExecutor(self.workers) as pool,
            # Cutting a combined PDF into letters is Python's work, done on the side, so that
            # LibreOffice goes on to its next document at once.
            ThreadPoolExecutor(1) as splitter,
        ):
            work = _Work(profiles, splitter, report)
            try:
                tasks = [pool.submit(self._convert_together, run, work) for run in runs]
                tasks += [
                    pool.submit(self._convert_separately, chunk, work)
                    for chunk in _chunks(alone, self.workers, SEPARATE_CHUNK)
                ]
                for task in tasks:
                    task.result()
                # Every split has been handed over by now: the workers are done.
                for split in work.splits:
                    split.result()
                # Letters that could not be converted together after all: one by one.
                tasks = [
                    pool.submit(self._convert_separately, chunk, work)
                    for chunk in _chunks(work.alone, self.workers, SEPARATE_CHUNK)
                ]
                for task in tasks:
                    task.result()
            except BaseException:
                # Ctrl-C (or a bug): stop LibreOffice now rather than wait for every run.
                stop_all_programs()
                pool.shutdown(wait=True, cancel_futures=True)
                splitter.shutdown(wait=True, cancel_futures=True)
                raise
            finally:
                for folder in work.folders:
                    shutil.rmtree(folder, ignore_errors=True)
        order = {job: index for index, job in enumerate(jobs)}
        return sorted(results, key=lambda r: order[r.job])

    def _plan(
        self, jobs: Sequence[ConversionJob]
    ) -> tuple[list[list[list[ConversionJob]]], list[ConversionJob]]:
        """Letters that share a template go together, as documents of a few dozen letters, the
        same number of letters for each worker's LibreOffice: each worker's documents. The rest
        go one by one."""
        groups: dict[str, list[ConversionJob]] = {}
        for job in jobs:
            try:
                key = shared_signature(job.docx) if self.combine else str(job.docx)
            except (OSError, zipfile.BadZipFile):
                key = str(job.docx)  # unreadable: LibreOffice will say why, on its own
            groups.setdefault(key, []).append(job)
        alone = [job for g in groups.values() if len(g) == 1 for job in g]
        documents = [
            chunk
            for group in groups.values()
            if len(group) > 1
            for chunk in _chunks(group, self.workers, LETTERS_PER_DOCUMENT)
        ]
        runs: list[list[list[ConversionJob]]] = [[] for _ in range(self.workers)]
        letters = [0] * self.workers
        for document in sorted(documents, key=len, reverse=True):
            least = letters.index(min(letters))
            runs[least].append(document)
            letters[least] += len(document)
        return [run for run in runs if run], alone

    def _convert_together(self, documents: list[list[ConversionJob]], work: _Work) -> None:
        """Convert each of `documents` (letters) as one document, all in one LibreOffice run
        (or a few, for many letters), each split into its letters as soon as it is done."""
        profile = work.profiles.get()
        try:
            folder = work.folder(documents[0][0].pdf.parent)
            combined: dict[Path, list[ConversionJob]] = {}
            for number, letters in enumerate(documents):
                document = folder / f"letters-{number:05d}.docx"
                try:
                    document.write_bytes(combine_letters([job.docx for job in letters]))
                except (CombineError, OSError, zipfile.BadZipFile, etree.XMLSyntaxError) as error:
                    log.info("converting one by one: cannot combine letters (%s)", error)
                    work.later(letters)
                    continue
                combined[document] = letters
            pending = list(combined)
            while pending:
                run: list[Path] = []
                letters_in_run = 0
                while pending and (not run or letters_in_run < LETTERS_PER_RUN):
                    run.append(pending.pop(0))
                    letters_in_run += len(combined[run[-1]])

                def made(document: Path, pdf: Path) -> None:
                    work.split(self._split, combined[document], document, pdf, work)

                converted = self._export(run, letters_in_run, profile, made)
                failed = [document for document in run if document not in converted]
                if failed:
                    # The first may be what stopped LibreOffice: its letters go one by one, and
                    # any after it get another run.
                    log.info("converting one by one: LibreOffice did not convert %s", failed[0])
                    work.later(combined[failed[0]])
                    pending[:0] = failed[1:]
        finally:
            work.profiles.put(profile)

    def _export(
        self,
        documents: list[Path],
        letters: int,
        profile: Path,
        made: Callable[[Path, Path], None],
    ) -> set[Path]:
        """Convert combined `documents` (`letters` in all) in one LibreOffice run, calling
        `made(document, pdf)` as soon as each one's PDF is finished: those that were converted."""
        outdir = documents[0].parent / "out"
        checked: set[Path] = set()
        converted: set[Path] = set()
        begun: list[Path] = []  # in the order LibreOffice began them

        def finished(document: Path) -> None:
            checked.add(document)
            pdf = outdir / f"{document.stem}.pdf"
            if is_pdf(pdf):
                converted.add(document)
                made(document, pdf)

        def said(line: str) -> None:
            # "convert /…/letters-00002.docx -> /…/out/letters-00002.pdf using filter : …",
            # once LibreOffice has opened a document, so the one before it is finished.
            if not line.startswith("convert "):
                return
            document = next((d for d in documents if d.name in line), None)
            if document is None or document in begun:
                return
            if begun:
                finished(begun[-1])
            begun.append(document)

        result = self._soffice(
            documents,
            outdir,
            profile,
            export_filter(self.pdf, destinations=True),
            timeout=RUN_SECONDS + SECONDS_PER_LETTER * letters,
            on_line=said,
        )
        if result.returncode == 0:
            # It ended as it should: whatever it made is whole, said or not (LibreOffice on
            # Windows says nothing).
            for document in documents:
                if document not in checked:
                    finished(document)
        else:
            # Stopped in the middle of the last one it began, whose PDF may be cut short.
            log.info("LibreOffice stopped: %s", _reason(result, begun[-1] if begun else None))
        return converted

    def _split(self, letters: list[ConversionJob], document: Path, pdf: Path, work: _Work) -> None:
        """Cut a combined PDF into its letters; if it cannot be, they go one by one."""
        try:
            pdfs = letter_pdfs(pdf, [job.pdf_title() for job in letters], self.pdf)
        except (CombineError, pikepdf.PdfError, ValueError, KeyError) as error:
            log.info("converting one by one: cannot split the PDF (%s)", error)
            work.later(letters)
            return
        finally:
            pdf.unlink(missing_ok=True)
            document.unlink(missing_ok=True)
        for job, letter in zip(letters, pdfs, strict=True):
            write_atomic(job.pdf, letter.data, durable=False)
            work.report(ConversionResult(job, pages=letter.pages))

    def _convert_separately(self, chunk: Sequence[ConversionJob], work: _Work) -> None:
        profile = work.profiles.get()
        try:
            failures = self._run(chunk, profile, work.report)
            # One bad letter may have stopped LibreOffice for the whole chunk: try each failed
            # one alone, so that it cannot take the others down with it.
            if len(chunk) > 1 and failures:
                retried: dict[ConversionJob, str] = {}
                for job in failures:
                    retried.update(self._run([job], profile, work.report))
                failures = retried
        finally:
            work.profiles.put(profile)
        for job, reason in failures.items():
            work.report(ConversionResult(job, reason))

    def _run(
        self,
        chunk: Sequence[ConversionJob],
        profile: Path,
        report: Callable[[ConversionResult], None],
    ) -> dict[ConversionJob, str]:
        """Convert each document of `chunk` in one LibreOffice run; report successes, return
        failures and why."""
        workdir = Path(tempfile.mkdtemp(prefix=CONVERTING_PREFIX, dir=chunk[0].pdf.parent))
        try:
            documents = [job.docx for job in chunk]
            result = self._soffice(
                documents,
                workdir,
                profile,
                export_filter(self.pdf),
                timeout=90 + 5 * len(documents) if len(documents) > 1 else 120,
            )
            failures = {}
            for job in chunk:
                made = workdir / f"{job.docx.stem}.pdf"
                if not is_pdf(made):
                    failures[job] = _reason(result, job.docx)
                    continue
                try:
                    data = finish_pdf(made, self.pdf, job.pdf_title())
                except (pikepdf.PdfError, OSError, zipfile.BadZipFile, KeyError) as error:
                    failures[job] = f"its PDF could not be finished ({error})"
                    continue
                write_atomic(job.pdf, data, durable=False)
                report(ConversionResult(job))
            return failures
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _soffice(
        self,
        documents: Sequence[Path],
        outdir: Path,
        profile: Path,
        target: str,
        *,
        timeout: float,
        on_line: Callable[[str], None] | None = None,
    ) -> ProgramResult:
        return run_program(
            [
                self.program,
                f"-env:UserInstallation={profile.resolve().as_uri()}",
                "--headless",
                "--invisible",
                "--norestore",
                "--nolockcheck",
                "--nodefault",
                "--nologo",
                "--convert-to",
                target,
                "--outdir",
                outdir,
                *documents,
            ],
            timeout=timeout,
            on_line=on_line,
        )


@dataclass
class _Work:
    """What the threads of one conversion share."""

    profiles: Queue[Path]
    splitter: ThreadPoolExecutor
    report: ResultCallback
    splits: list[Future[None]] = field(default_factory=list)
    alone: list[ConversionJob] = field(default_factory=list)  # to convert one by one after all
    folders: list[Path] = field(default_factory=list)  # to remove at the end
    lock: threading.Lock = field(default_factory=threading.Lock)

    def folder(self, beside: Path) -> Path:
        """A scratch folder in `beside` (a build run again removes any left by this one)."""
        folder = Path(tempfile.mkdtemp(prefix=CONVERTING_PREFIX, dir=beside))
        with self.lock:
            self.folders.append(folder)
        return folder

    def split(self, cut: Callable[..., None], *args: object) -> None:
        with self.lock:
            self.splits.append(self.splitter.submit(cut, *args))

    def later(self, letters: Sequence[ConversionJob]) -> None:
        with self.lock:
            self.alone.extend(letters)


class _Profiles:
    """One LibreOffice profile folder per worker: kept in `folder` between runs when given (and
    not in use by another run at the same moment), otherwise temporary."""

    def __init__(self, folder: Path | None, workers: int) -> None:
        self.folder = folder
        self.workers = workers
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Queue[Path]:
        queue: Queue[Path] = Queue()
        scratch: Path | None = None
        for number in range(self.workers):
            profile = self._claim(number)
            if profile is None:
                if scratch is None:
                    scratch = Path(
                        self._stack.enter_context(
                            tempfile.TemporaryDirectory(prefix="letter-merge-lo-")
                        )
                    )
                profile = scratch / f"profile-{number}"
            queue.put(profile)
        return queue

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _claim(self, number: int) -> Path | None:
        if self.folder is None:
            return None
        try:
            lock = try_lock(self.folder / f"profile-{number}.lock")
        except OSError:
            return None
        if lock is None:
            return None  # another run is using it
        self._stack.callback(lock.release)
        return self.folder / f"profile-{number}"


def _reason(result: ProgramResult, docx: Path | None) -> str:
    if result.timed_out:
        return "LibreOffice did not finish in time and was stopped"
    mentions = [
        line.strip()
        for line in result.output.splitlines()
        if (docx is not None and docx.name in line) or "Error" in line
    ]
    detail = f": {mentions[0]}" if mentions else f" (exit code {result.returncode})"
    return f"LibreOffice could not convert it{detail}"


def _chunks(jobs: list[ConversionJob], workers: int, chunk_size: int) -> list[list[ConversionJob]]:
    """Even chunks, none larger than `chunk_size`, as many as make each worker the same number
    (where there are jobs enough)."""
    if not jobs:
        return []
    count = -(-len(jobs) // chunk_size)
    count = min(-(-count // workers) * workers, len(jobs))
    size = -(-len(jobs) // count)
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


class WordConverter:
    """Microsoft Word through docx2pdf: Windows and macOS only (docx2pdf cannot work on Linux)."""

    name = "Microsoft Word"

    def __init__(self) -> None:
        if sys.platform not in ("win32", "darwin"):
            raise ConverterUnavailable(
                "--converter word needs Microsoft Word on Windows or macOS; on this system use "
                "LibreOffice (the default)."
            )
        try:
            import docx2pdf  # noqa: F401
        except ImportError:
            raise ConverterUnavailable(
                "--converter word needs the docx2pdf package: pip install 'letter-merge[word]'."
            ) from None

    def version(self) -> str:
        return "Microsoft Word (docx2pdf)"

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ResultCallback | None = None
    ) -> list[ConversionResult]:
        from docx2pdf import convert

        results = []
        for job in jobs:
            # Named so that a build killed while Word works has it cleaned up next time.
            temporary = job.pdf.with_name(f"{CONVERTING_PREFIX}{job.pdf.stem}.pdf")
            try:
                convert(str(job.docx), str(temporary))
                if not is_pdf(temporary):
                    raise RuntimeError("Word produced no PDF")
                os.replace(temporary, job.pdf)
                result = ConversionResult(job)
            except Exception as error:  # Word's automation errors come in many types
                temporary.unlink(missing_ok=True)
                result = ConversionResult(job, f"Word could not convert it: {error}")
            results.append(result)
            if on_result:
                on_result(result)
        return results
