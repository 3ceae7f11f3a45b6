"""The Microsoft Word converter (--converter word): Word through docx2pdf, on Windows and macOS,
one letter at a time, each in a worker process (word_worker.py) with a time limit."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from letter_merge.errors import ConverterUnavailable
from letter_merge.files import CONVERTING_PREFIX, FileInUse, replace_file
from letter_merge.pdf.convert import ConversionJob, ConversionResult, ResultCallback, is_pdf
from letter_merge.pdf.word_worker import FAILED
from letter_merge.process import ProgramResult, run_program

WORKER = Path(__file__).with_name("word_worker.py")
# How long Word may take over one letter, its own start included (the first can take a minute).
WORD_SECONDS = 180.0


class WordConverter:
    """Microsoft Word through docx2pdf: Windows and macOS only (docx2pdf cannot work on Linux).
    A letter Word has not finished in `timeout` seconds is stopped, with what it started (on
    Windows, Word itself runs under the system's COM service and is left to end by itself)."""

    name = "Microsoft Word"
    notices: list[str] = []  # noqa: RUF012 (never added to: every letter is converted alone)

    def __init__(self, timeout: float = WORD_SECONDS) -> None:
        if sys.platform not in ("win32", "darwin"):
            raise ConverterUnavailable(
                "--converter word needs Microsoft Word on Windows or macOS; on this system use "
                "LibreOffice (the default)."
            )
        if importlib.util.find_spec("docx2pdf") is None:
            raise ConverterUnavailable(
                "--converter word needs the docx2pdf package: pip install 'letter-merge[word]'."
            )
        self.timeout: float = timeout

    def version(self) -> str:
        return "Microsoft Word (docx2pdf)"

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ResultCallback | None = None
    ) -> list[ConversionResult]:
        results = []
        for job in jobs:
            # Named so that a build killed while Word works has it cleaned up next time.
            temporary = job.pdf.with_name(f"{CONVERTING_PREFIX}{job.pdf.stem}.pdf")
            ran = run_program([sys.executable, WORKER, job.docx, temporary], timeout=self.timeout)
            error = self._error(ran, temporary)
            try:
                if error is None:
                    replace_file(temporary, job.pdf)
            except FileInUse as in_use:
                error = f"{in_use.advice} and run build again"
            if error is None:
                result = ConversionResult(job)
            else:
                temporary.unlink(missing_ok=True)
                result = ConversionResult(job, error)
            results.append(result)
            if on_result:
                on_result(result)
        return results

    def _error(self, ran: ProgramResult, made: Path) -> str | None:
        """Why Word made no PDF; None when it did."""
        if ran.timed_out:
            return f"Word did not finish within {self.timeout:g} s and was stopped"
        if ran.returncode != 0:
            said = [line for line in ran.output.splitlines() if line.startswith(FAILED)]
            why = said[-1].removeprefix(FAILED) if said else f"exit code {ran.returncode}"
            return f"Word could not convert it: {why}"
        if not is_pdf(made):
            return "Word could not convert it: Word produced no PDF"
        return None
