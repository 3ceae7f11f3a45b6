"""A LibreOffice kept running for quick single letters: the desk's previews.

Starting LibreOffice and opening a template's styles cost more than converting one letter; a
LibreOffice already running converts one of these letters in a fraction of that. It is driven through UNO by uno_worker.py, run with a Python that
has LibreOffice's `uno` module (Debian's python3 with python3-uno, or LibreOffice's own Python on
Windows and macOS). Where there is none, or the worker fails, letters are converted the usual way.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pikepdf

from letter_merge.config import DEFAULT_PDF, PdfSettings
from letter_merge.files import CONVERTING_PREFIX, write_atomic
from letter_merge.pdf import startup
from letter_merge.pdf.conformance import export_options, finish_pdf
from letter_merge.pdf.convert import (
    ConversionJob,
    ConversionResult,
    Converter,
    ResultCallback,
    is_pdf,
)
from letter_merge.process import ask_to_end, end_program, run_program, start_program

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("uno_worker.py")
UNO_PYTHONS = (
    "/usr/bin/python3",  # Debian and Ubuntu, with python3-uno
    "/usr/lib/libreoffice/program/python",
    "/Applications/LibreOffice.app/Contents/Resources/python",
    r"C:\Program Files\LibreOffice\program\python.exe",
    r"C:\Program Files (x86)\LibreOffice\program\python.exe",
)
START_SECONDS = 90
LETTER_SECONDS = 120


@functools.cache
def find_uno_python(soffice: Path | None = None) -> str | None:
    """A Python that can import LibreOffice's uno module, or None. LibreOffice's own, beside
    `soffice`, comes first: it is there wherever LibreOffice was installed (a per-user install,
    or a folder named by [pdf] soffice), on Windows and macOS."""
    beside: list[str] = []
    if soffice is not None:
        program = soffice.resolve().parent  # Contents/MacOS on macOS, program elsewhere
        beside = [
            str(program / "python.exe"),
            str(program / "python"),
            str(program.parent / "Resources" / "python"),
        ]
    for candidate in dict.fromkeys([*beside, *UNO_PYTHONS]):
        if not Path(candidate).exists():
            continue
        try:
            found = run_program([candidate, "-c", "import uno"], timeout=30)
        except OSError:
            continue
        if found.returncode == 0:
            return candidate
    return None


class UnoWorker:
    """One LibreOffice, started once and kept, converting one document at a time."""

    def __init__(self, python: str, soffice: Path, profile: Path) -> None:
        self._lock = threading.Lock()
        self._process = start_program(
            [python, WORKER, soffice, profile], talk=True, env=startup.environment()
        )
        ready = self._reply(START_SECONDS)
        if not ready.get("ready"):
            self.close()
            raise OSError(str(ready.get("error", "LibreOffice did not start")))

    def convert(self, docx: Path, pdf: Path, options: dict[str, bool | int]) -> str | None:
        """Convert `docx` to `pdf`; None, or why it failed."""
        with self._lock:
            stdin = self._stdin()
            stdin.write(json.dumps({"docx": str(docx), "pdf": str(pdf), "options": options}) + "\n")
            stdin.flush()
            reply = self._reply(LETTER_SECONDS)
        return None if reply.get("ok") else str(reply.get("error", "LibreOffice failed"))

    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        with self._lock:
            if self._process.poll() is None:
                try:  # an empty line: the worker ends its LibreOffice and itself
                    self._stdin().write("\n")
                    self._stdin().flush()
                except (OSError, ValueError):
                    ask_to_end(self._process)
            end_program(self._process, grace=30)

    def _stdin(self) -> IO[str]:
        assert self._process.stdin is not None
        return self._process.stdin

    def _reply(self, timeout: float) -> dict[str, object]:
        assert self._process.stdout is not None
        answer: list[str] = []
        reader = threading.Thread(
            target=lambda: answer.append(self._process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not answer or not answer[0]:
            ask_to_end(self._process)  # the worker ends its LibreOffice on the way out
            raise OSError("LibreOffice stopped answering")
        reply: dict[str, object] = json.loads(answer[0])
        return reply


class WarmLibreOffice:
    """A converter for one letter at a time through a LibreOffice kept running, falling back to
    `fallback` (the usual converter) when there is no such LibreOffice or it fails."""

    name = "LibreOffice (kept running)"
    notices: list[str] = []  # noqa: RUF012 (never added to: every letter is converted alone)

    def __init__(
        self, soffice: Path, profile: Path, fallback: Converter, pdf: PdfSettings = DEFAULT_PDF
    ) -> None:
        self.soffice = soffice
        self.profile = profile
        self.fallback = fallback
        self.pdf = pdf
        self._worker: UnoWorker | None = None
        self._failed = False
        self._lock = threading.Lock()

    def version(self) -> str:
        return self.fallback.version()

    def start(self) -> bool:
        """Start LibreOffice now (the desk does so as it opens); False if it cannot be."""
        with self._lock:
            if self._worker is not None and self._worker.alive():
                return True
            python = find_uno_python(self.soffice)
            if python is None or self._failed:
                return False
            try:
                release = startup.release_of(self.version(), self.soffice)
                startup.record_seen(self.profile, release)
                self._worker = UnoWorker(python, self.soffice, self.profile)
                return True
            except OSError as error:
                log.info("no LibreOffice kept running (%s): converting the usual way", error)
                self._failed = True
                return False

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ResultCallback | None = None
    ) -> list[ConversionResult]:
        results = []
        for job in jobs:
            result = self._convert_one(job) if self.start() else None
            if result is None:  # not converted here: the usual way
                (result,) = self.fallback.convert([job])
            results.append(result)
            if on_result:
                on_result(result)
        return results

    def _convert_one(self, job: ConversionJob) -> ConversionResult | None:
        worker = self._worker
        if worker is None:
            return None
        scratch = Path(tempfile.mkdtemp(prefix=CONVERTING_PREFIX, dir=job.pdf.parent))
        try:
            made = scratch / f"{job.docx.stem}.pdf"
            try:
                error = worker.convert(job.docx, made, export_options(self.pdf))
            except OSError as stopped:
                log.info("the LibreOffice kept running stopped (%s); starting another", stopped)
                worker.close()
                self._worker = None
                return None
            if error is not None or not is_pdf(made):
                return ConversionResult(job, f"LibreOffice could not convert it: {error}")
            try:
                write_atomic(job.pdf, finish_pdf(made, self.pdf, job.pdf_title()), durable=False)
            except (pikepdf.PdfError, OSError) as failure:
                return ConversionResult(job, f"its PDF could not be finished ({failure})")
            return ConversionResult(job)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None
