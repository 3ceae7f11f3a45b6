"""Converting letters from .docx to PDF: LibreOffice (default) or Microsoft Word (Windows/macOS).

Starting LibreOffice and opening a document cost far more than laying out a letter, so letters made
from the same template are converted together as the sections of one document and the PDF is split
back (see combine.py), two such runs side by side, each LibreOffice with its own profile folder (two
instances sharing one would hand their work to each other). Whatever cannot be converted together
is converted one document at a time, and a failed run is retried letter by letter, so one broken
letter never takes the others down. Every PDF is checked before it replaces the old one.
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
from dataclasses import dataclass
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
# Letters per LibreOffice run: together as one document, or as separate documents. Shorter runs
# let two workers share the load evenly and lose less when one run fails.
COMBINED_CHUNK = 100
SEPARATE_CHUNK = 20
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

        tasks = self._plan(jobs)
        with (
            _Profiles(self.profile_dir, self.workers) as profiles,
            ThreadPoolExecutor(self.workers) as pool,
            # Cutting a combined PDF into letters is Python's work, done on the side, so that
            # each LibreOffice goes on to its next chunk at once.
            ThreadPoolExecutor(1) as splitter,
        ):
            futures = [
                pool.submit(self._convert_task, together, chunk, profiles, report, splitter)
                for together, chunk in tasks
            ]
            try:
                splits = [future.result() for future in futures]
                for split in splits:
                    if split is not None:
                        split.result()
            except BaseException:
                # Ctrl-C (or a bug): stop LibreOffice now rather than wait for every chunk;
                # each worker's scratch folder is removed as it ends.
                stop_all_programs()
                pool.shutdown(wait=True, cancel_futures=True)
                splitter.shutdown(wait=True, cancel_futures=True)
                raise
        order = {job: index for index, job in enumerate(jobs)}
        return sorted(results, key=lambda r: order[r.job])

    def _plan(self, jobs: Sequence[ConversionJob]) -> list[tuple[bool, list[ConversionJob]]]:
        """Letters that share a template go together as one document; the rest one by one."""
        groups: dict[str, list[ConversionJob]] = {}
        for job in jobs:
            try:
                key = shared_signature(job.docx) if self.combine else str(job.docx)
            except (OSError, zipfile.BadZipFile):
                key = str(job.docx)  # unreadable: LibreOffice will say why, on its own
            groups.setdefault(key, []).append(job)
        together = [g for g in groups.values() if len(g) > 1]
        alone = [job for g in groups.values() if len(g) == 1 for job in g]
        tasks = [
            (True, chunk) for g in together for chunk in _chunks(g, self.workers, COMBINED_CHUNK)
        ]
        tasks += [(False, chunk) for chunk in _chunks(alone, self.workers, SEPARATE_CHUNK)]
        # Largest first, so that no worker is left with a long chunk at the end.
        return sorted(tasks, key=lambda task: -len(task[1]))

    def _convert_task(
        self,
        together: bool,
        chunk: list[ConversionJob],
        profiles: Queue[Path],
        report: Callable[[ConversionResult], None],
        splitter: ThreadPoolExecutor,
    ) -> Future[None] | None:
        """Convert a chunk; for letters converted together, the split still to come."""
        profile = profiles.get()
        try:
            if together:
                workdir = self._export_together(chunk, profile)
                if workdir is not None:
                    return splitter.submit(self._split, chunk, workdir, profiles, report)
            self._convert_separately(chunk, profile, report)
            return None
        finally:
            profiles.put(profile)

    def _export_together(self, chunk: list[ConversionJob], profile: Path) -> Path | None:
        """Convert `chunk` as one document: the folder holding out/letters.pdf, or None if
        that did not work out."""
        workdir = Path(tempfile.mkdtemp(prefix=CONVERTING_PREFIX, dir=chunk[0].pdf.parent))
        combined = workdir / "letters.docx"
        try:
            combined.write_bytes(combine_letters([job.docx for job in chunk]))
        except (CombineError, OSError, zipfile.BadZipFile, etree.XMLSyntaxError) as error:
            log.info("converting one by one: cannot combine letters (%s)", error)
            shutil.rmtree(workdir, ignore_errors=True)
            return None
        try:
            target = export_filter(self.pdf, destinations=True)
            result = self._soffice([combined], workdir / "out", profile, target)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        if not is_pdf(workdir / "out" / "letters.pdf"):
            log.info("converting one by one: %s", _reason(result, combined))
            shutil.rmtree(workdir, ignore_errors=True)
            return None
        return workdir

    def _split(
        self,
        chunk: list[ConversionJob],
        workdir: Path,
        profiles: Queue[Path],
        report: Callable[[ConversionResult], None],
    ) -> None:
        """Cut the combined PDF into the chunk's letters; if it cannot be, convert them one by
        one instead."""
        try:
            try:
                pdfs = letter_pdfs(
                    workdir / "out" / "letters.pdf", [j.pdf_title() for j in chunk], self.pdf
                )
            except (CombineError, pikepdf.PdfError, ValueError, KeyError) as error:
                log.info("converting one by one: cannot split the PDF (%s)", error)
                profile = profiles.get()
                try:
                    self._convert_separately(chunk, profile, report)
                finally:
                    profiles.put(profile)
                return
            for job, data in zip(chunk, pdfs, strict=True):
                write_atomic(job.pdf, data, durable=False)
                report(ConversionResult(job))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _convert_separately(
        self,
        chunk: Sequence[ConversionJob],
        profile: Path,
        report: Callable[[ConversionResult], None],
    ) -> None:
        failures = self._run(chunk, profile, report)
        # One bad letter may have stopped LibreOffice for the whole chunk: try each failed one
        # alone, so that it cannot take the others down with it.
        if len(chunk) > 1 and failures:
            retried: dict[ConversionJob, str] = {}
            for job in failures:
                retried.update(self._run([job], profile, report))
            failures = retried
        for job, reason in failures.items():
            report(ConversionResult(job, reason))

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
            target = export_filter(self.pdf)
            result = self._soffice([job.docx for job in chunk], workdir, profile, target)
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
        self, documents: Sequence[Path], outdir: Path, profile: Path, target: str
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
            timeout=90 + 5 * len(documents) if len(documents) > 1 else 120,
        )


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


def _reason(result: ProgramResult, docx: Path) -> str:
    if result.timed_out:
        return "LibreOffice did not finish in time and was stopped"
    mentions = [
        line.strip() for line in result.output.splitlines() if docx.name in line or "Error" in line
    ]
    detail = f": {mentions[0]}" if mentions else f" (exit code {result.returncode})"
    return f"LibreOffice could not convert it{detail}"


def _chunks(jobs: list[ConversionJob], workers: int, chunk_size: int) -> list[list[ConversionJob]]:
    """Even chunks, at least one per worker, none larger than `chunk_size`."""
    if not jobs:
        return []
    count = max(workers, -(-len(jobs) // chunk_size))
    count = min(count, len(jobs))
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
