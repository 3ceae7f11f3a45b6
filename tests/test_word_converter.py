"""The Microsoft Word converter. Word cannot run here, so a STAND-IN docx2pdf module (written by
these tests, put on the worker's PYTHONPATH) plays Word: these tests cover our side of it (the
platform check, the PDF check, failures, the time limit, Ctrl-C and stopping the run)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from letter_merge import process
from letter_merge.cli import cli
from letter_merge.errors import ConverterUnavailable
from letter_merge.pdf.convert import ConversionJob, ConversionResult
from letter_merge.pdf.converters import make_converter
from letter_merge.pdf.word import WordConverter

REAL_PLATFORM = sys.platform

# STAND-IN for docx2pdf (no Word here): what it does is read from STANDIN_WORD. "hang" writes half
# a PDF and its process id (to <target>.pid), then waits as a Word that never answers would.
STANDIN_DOCX2PDF = '''
"""STAND-IN for docx2pdf, written by tests/test_word_converter.py: no real conversion happens."""
import os, pathlib, sys, time

def convert(source, target):
    behaviour = os.environ["STANDIN_WORD"]
    # The worker's own folder (letter_merge/pdf: split.py, pages.py...) is not on the path.
    if os.path.dirname(os.path.abspath(sys.argv[0])) in map(os.path.abspath, sys.path):
        raise RuntimeError("the worker's folder is on sys.path")
    if behaviour == "raise":
        raise RuntimeError("Word automation failed: document is locked")
    if behaviour == "hang":
        pathlib.Path(target).write_bytes(b"%PDF-1.7 half")
        pathlib.Path(target + ".pid").write_text(str(os.getpid()))
        time.sleep(120)
    pathlib.Path(target).write_bytes(b"%PDF-1.7 STAND-IN" if behaviour == "pdf" else b"not a pdf")
'''


def stand_in_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str) -> None:
    """The stand-in docx2pdf, found by this process (for the converter's check that docx2pdf is
    installed) and by the worker it starts; and Windows, as far as the converter can tell."""
    folder = tmp_path / "stand-in"
    folder.mkdir()
    (folder / "docx2pdf.py").write_text(STANDIN_DOCX2PDF, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("STANDIN_WORD", behaviour)
    monkeypatch.setattr(sys, "platform", "win32")


def letter(folder: Path) -> ConversionJob:
    folder.mkdir(parents=True, exist_ok=True)
    docx = folder / "Derby City Council - Annual Review 2020.docx"
    docx.write_bytes(b"PK")
    return ConversionJob(docx, docx.with_suffix(".pdf"))


def scratch(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def word_pid(job: ConversionJob) -> int:
    """The stand-in Word's process id, once it has said it is working."""
    said = job.pdf.with_name(f".converting-{job.pdf.stem}.pdf.pid")
    deadline = time.monotonic() + 30
    while not said.exists() or not said.read_text():
        assert time.monotonic() < deadline, "the stand-in Word never started"
        time.sleep(0.05)
    return int(said.read_text())


def ended(pid: int) -> bool:
    """The process has ended (or ends within 10 s): gone, or a zombie not yet reaped."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_word_is_refused_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(ConverterUnavailable, match="needs Microsoft Word on Windows or macOS"):
        make_converter("word")


def test_word_needs_docx2pdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "stand-in" not in p])
    with pytest.raises(ConverterUnavailable, match=r"pip install 'letter-merge\[word\]'"):
        make_converter("word")


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("pdf", None),
        ("garbage", "Word could not convert it: Word produced no PDF"),
        ("raise", "Word could not convert it: Word automation failed: document is locked"),
    ],
)
def test_word_results_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str, error: str | None
) -> None:
    stand_in_word(tmp_path, monkeypatch, behaviour)
    job = letter(tmp_path / "letters")
    seen: list[ConversionResult] = []
    (result,) = WordConverter().convert([job], seen.append)
    assert result.error == error and seen == [result]
    assert job.pdf.exists() == (error is None)
    if error is None:
        assert job.pdf.read_bytes() == b"%PDF-1.7 STAND-IN"
    assert scratch(job.pdf.parent) == []


def test_a_word_that_does_not_finish_is_stopped_and_the_next_letter_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_word(tmp_path, monkeypatch, "hang")
    first = letter(tmp_path / "first")
    second = letter(tmp_path / "second")
    started = time.monotonic()
    results = WordConverter(timeout=2).convert([first, second])
    assert time.monotonic() - started < 40
    assert [r.error for r in results] == ["Word did not finish within 2 s and was stopped"] * 2
    assert ended(word_pid(first)) and ended(word_pid(second))
    assert not first.pdf.exists()
    assert scratch(first.pdf.parent) == [
        ".converting-Derby City Council - Annual Review 2020.pdf.pid"
    ]


def test_stopping_the_run_stops_word_and_starts_no_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_word(tmp_path, monkeypatch, "hang")
    first, second = letter(tmp_path / "first"), letter(tmp_path / "second")
    seen: list[ConversionResult] = []

    def stop_once_word_works() -> None:
        word_pid(first)
        process.stop_all_programs()

    stopper = threading.Thread(target=stop_once_word_works)
    started = time.monotonic()
    stopper.start()
    try:
        with pytest.raises(process.ProgramsStopped):
            WordConverter().convert([first, second], seen.append)
    finally:
        stopper.join()
        process.allow_programs()
    assert time.monotonic() - started < process.STOP_GRACE_SECONDS + 30
    assert ended(word_pid(first))
    assert [r.job for r in seen] == [first] and seen[0].error is not None
    assert not (
        second.pdf.parent / ".converting-Derby City Council - Annual Review 2020.pdf.pid"
    ).exists()


def test_ctrl_c_stops_word_and_what_it_leaves_is_cleaned_up_by_the_next_build(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_word(tmp_path, monkeypatch, "hang")
    job = letter(folder / "output" / "2020" / "letters")

    def ctrl_c() -> None:
        word_pid(job)
        os.kill(os.getpid(), signal.SIGINT)

    # Ctrl-C reaches this process as the terminal would send it, even where the suite was
    # started with SIGINT ignored (a shell's background job).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser = threading.Thread(target=ctrl_c)
    try:
        presser.start()
        with pytest.raises(KeyboardInterrupt):
            WordConverter().convert([job])
    finally:
        presser.join()
        signal.signal(signal.SIGINT, previous)
    assert ended(word_pid(job))
    (job.pdf.parent / f".converting-{job.pdf.stem}.pdf.pid").unlink()
    assert scratch(job.pdf.parent) == [".converting-Derby City Council - Annual Review 2020.pdf"]
    assert not job.pdf.exists()

    monkeypatch.setattr(sys, "platform", REAL_PLATFORM)  # the next build runs here, on Linux
    result = CliRunner().invoke(cli, ["build", "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert scratch(job.pdf.parent) == []
