"""Converting letters from .docx to PDF: LibreOffice (default) or Microsoft Word (Windows/macOS).

Starting LibreOffice costs about a second, so it is started once per chunk of letters, with two
chunks converting side by side, each LibreOffice with its own profile folder (two instances sharing a
profile would hand their work to each other). Every PDF is checked before it replaces the old one.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from typing import Protocol

from letter_merge.errors import ConverterUnavailable, InputError
from letter_merge.process import ProgramResult, run_program

WINDOWS_PLACES = (
    r"C:\Program Files\LibreOffice\program\soffice.exe",
    r"C:\Program Files (x86)\LibreOffice\program\soffice.exe",
)
MACOS_PLACES = ("/Applications/LibreOffice.app/Contents/MacOS/soffice",)
INSTALL_HINT = (
    "LibreOffice is needed to make PDFs and was not found. Install it (Debian/Ubuntu: "
    "'sudo apt-get install libreoffice-writer-nogui'; Windows/macOS: from libreoffice.org), or use "
    "--converter word on Windows/macOS with Microsoft Word, or build with --no-pdf."
)


@dataclass(frozen=True)
class ConversionJob:
    docx: Path
    pdf: Path


@dataclass(frozen=True)
class ConversionResult:
    job: ConversionJob
    error: str | None = None  # why no PDF was made; None when it was


ProgressCallback = Callable[[ConversionResult], None]


class Converter(Protocol):
    name: str

    def version(self) -> str: ...

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ProgressCallback | None = None
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


def make_converter(name: str, workers: int | None = None) -> Converter:
    if name == "libreoffice":
        program = find_libreoffice()
        if program is None:
            raise ConverterUnavailable(INSTALL_HINT)
        return LibreOfficeConverter(program, workers=workers)
    if name == "word":
        return WordConverter()
    raise InputError(f"--converter {name}: use 'libreoffice' or 'word'.")


class LibreOfficeConverter:
    name = "LibreOffice"

    def __init__(self, program: Path, *, workers: int | None = None, chunk_size: int = 60) -> None:
        self.program = program
        self.workers = max(1, workers or min(2, os.cpu_count() or 1))
        self.chunk_size = chunk_size
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            result = run_program([self.program, "--version"], timeout=60)
            lines = result.output.strip().splitlines()
            self._version = lines[-1].strip() if lines else "LibreOffice (version unknown)"
        return self._version

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ProgressCallback | None = None
    ) -> list[ConversionResult]:
        if not jobs:
            return []
        chunks = _chunks(list(jobs), self.workers, self.chunk_size)
        results: list[ConversionResult] = []
        lock = threading.Lock()

        def report(result: ConversionResult) -> None:
            with lock:
                results.append(result)
                if on_result:
                    on_result(result)

        with tempfile.TemporaryDirectory(prefix="letter-merge-lo-") as scratch:
            profiles: Queue[Path] = Queue()
            for number in range(self.workers):
                profiles.put(Path(scratch, f"profile-{number}"))
            with ThreadPoolExecutor(self.workers) as pool:
                futures = [
                    pool.submit(self._convert_chunk, chunk, profiles, report) for chunk in chunks
                ]
                for future in futures:
                    future.result()
        order = {job: index for index, job in enumerate(jobs)}
        return sorted(results, key=lambda r: order[r.job])

    def _convert_chunk(
        self,
        chunk: Sequence[ConversionJob],
        profiles: Queue[Path],
        report: Callable[[ConversionResult], None],
    ) -> None:
        profile = profiles.get()
        try:
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
        finally:
            profiles.put(profile)

    def _run(
        self,
        chunk: Sequence[ConversionJob],
        profile: Path,
        report: Callable[[ConversionResult], None],
    ) -> dict[ConversionJob, str]:
        """Convert `chunk` in one LibreOffice run; report successes, return failures and why."""
        outdir = Path(tempfile.mkdtemp(prefix=".converting-", dir=chunk[0].pdf.parent))
        try:
            result = run_program(
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
                    "pdf:writer_pdf_Export",
                    "--outdir",
                    outdir,
                    *(job.docx for job in chunk),
                ],
                timeout=90 + 5 * len(chunk),
            )
            failures = {}
            for job in chunk:
                made = outdir / f"{job.docx.stem}.pdf"
                if is_pdf(made):
                    os.replace(made, job.pdf)
                    report(ConversionResult(job))
                else:
                    failures[job] = _reason(result, job)
            return failures
        finally:
            shutil.rmtree(outdir, ignore_errors=True)


def _reason(result: ProgramResult, job: ConversionJob) -> str:
    if result.timed_out:
        return "LibreOffice did not finish in time and was stopped"
    mentions = [
        line.strip()
        for line in result.output.splitlines()
        if job.docx.name in line or "Error" in line
    ]
    detail = f": {mentions[0]}" if mentions else f" (exit code {result.returncode})"
    return f"LibreOffice could not convert it{detail}"


def _chunks(jobs: list[ConversionJob], workers: int, chunk_size: int) -> list[list[ConversionJob]]:
    """Even chunks, at least one per worker, none larger than `chunk_size`."""
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
            import docx2pdf  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            raise ConverterUnavailable(
                "--converter word needs the docx2pdf package: pip install 'letter-merge[word]'."
            ) from None

    def version(self) -> str:
        return "Microsoft Word (docx2pdf)"

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ProgressCallback | None = None
    ) -> list[ConversionResult]:
        from docx2pdf import convert  # type: ignore[import-not-found]

        results = []
        for job in jobs:
            temporary = job.pdf.with_name(f".{job.pdf.stem}.converting.pdf")
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
