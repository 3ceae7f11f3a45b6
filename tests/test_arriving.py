"""Letters converted while they are still being written (pdf/convert.py's Arrivals, the
LibreOffice converter's stream): LibreOffice starts on the first letters, and every letter is
still the letter alone, whenever the others arrive, whether or not they do."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Queue
from typing import Any

import pytest

from letter_merge import build, files
from letter_merge.batch import load_batch
from letter_merge.build import _PdfProgress, build_letters
from letter_merge.config import Settings
from letter_merge.files import DiskFull
from letter_merge.pdf import combine, libreoffice
from letter_merge.pdf import runs as runs_module
from letter_merge.pdf.convert import Arrivals, ConversionJob, ConversionResult
from letter_merge.pdf.libreoffice import LETTERS_PER_DOCUMENT, LETTERS_PER_RUN, LibreOfficeConverter
from letter_merge.pdf.runs import Document, Stream, Work
from letter_merge.pdf.soffice import find_libreoffice
from letter_merge.pdf.verify import Margins, difference
from letter_merge.process import ProgramResult
from tests.test_combined import (
    Runs,
    assert_same_letters,
    converted,
    jobs_for,
    trusted,
)


def written_already(jobs: list[ConversionJob]) -> Arrivals:
    arrivals = Arrivals(jobs)
    for job in jobs:
        arrivals.arrived(job)
    arrivals.close()
    return arrivals


def in_documents_of_two(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Path], list[ConversionJob]]:
    """The four letters converted alone; and their jobs, to be converted in documents of two,
    as a build hands them over with a check kept."""
    alone = converted(settings, tmp_path / "alone", combine=False)
    monkeypatch.setattr(libreoffice, "LETTERS_PER_DOCUMENT", 2)
    trusted(monkeypatch)
    return alone, family_of(jobs_for(settings, tmp_path / "together"))


def first_document_written(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Path], list[ConversionJob], Arrivals]:
    """in_documents_of_two, the first document's two letters written, the other two to come."""
    alone, jobs = in_documents_of_two(settings, tmp_path, monkeypatch)
    arrivals = Arrivals(jobs)
    for job in jobs[:2]:
        arrivals.arrived(job)
    return alone, jobs, arrivals


def family_of(jobs: list[ConversionJob]) -> list[ConversionJob]:
    """The jobs as a build gives them: of one family (the template), so that a check kept by
    an earlier build applies."""
    return [ConversionJob(job.docx, job.pdf, "", "the template") for job in jobs]


def jobs(count: int) -> list[ConversionJob]:
    return [
        ConversionJob(Path(f"letter {n}.docx"), Path(f"letter {n}.pdf"), "", "family")
        for n in range(count)
    ]


def test_a_converter_waits_for_a_letter_until_it_is_written_or_never_will_be() -> None:
    first, second, third = jobs(3)
    arrivals = Arrivals([first, second, third])
    answers: list[bool] = []
    waiting = threading.Thread(target=lambda: answers.extend(map(arrivals.wait, (first, third))))
    waiting.start()
    arrivals.arrived(first)
    arrivals.arrived(second, written=False)
    deadline = time.monotonic() + 10
    while not answers and time.monotonic() < deadline:
        time.sleep(0.01)
    assert answers == [True] and waiting.is_alive(), "still waiting for the third"
    arrivals.close()  # the build has merged every letter: the third never comes
    waiting.join(timeout=10)
    assert answers == [True, False]
    assert arrivals.written() == [first]


def test_a_build_that_stops_on_an_error_has_nothing_more_converted() -> None:
    first, second = jobs(2)
    arrivals = Arrivals([first, second])
    arrivals.arrived(first)
    arrivals.cancel()
    assert arrivals.cancelled
    assert not arrivals.wait(first) and not arrivals.wait(second)
    assert arrivals.written() == []


class Watching:
    """A converter that can begin as letters arrive (a stand-in for LibreOffice's): what it was
    handed to convert."""

    name = "watching"

    def __init__(self) -> None:
        self.notices: list[str] = []
        self.handed: list[ConversionJob] | None = None

    def version(self) -> str:
        return "watching"

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: Callable[..., None] | None = None
    ) -> list[ConversionResult]:
        raise AssertionError("a converter that can is handed letters as they arrive")

    def convert_arriving(
        self, arrivals: Arrivals, on_result: Callable[..., None] | None = None
    ) -> list[ConversionResult]:
        self.handed = arrivals.written()
        return []


def test_a_build_stopped_by_an_error_while_merging_converts_nothing_more(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = build._write_letter
    written: list[str] = []

    def fails_on_the_third(batch: Any, letter: Any, *args: Any) -> Any:
        if len(written) == 2:
            raise OSError("the disk went away")
        written.append(letter.council.authority)
        return real_write(batch, letter, *args)

    monkeypatch.setattr(build, "_write_letter", fails_on_the_third)
    converter = Watching()
    with pytest.raises(OSError, match="the disk went away"):
        build_letters(load_batch(settings), converter=converter)
    # it was waiting for the letters, and is told there is nothing to convert, not the two
    # written before the error
    assert converter.handed == []


def test_every_libreoffice_begins_with_one_of_the_first_documents() -> None:
    letters = jobs(343)
    stream = Stream.plan(
        Arrivals(letters), 2, Path("scratch"), LETTERS_PER_DOCUMENT, LETTERS_PER_RUN
    )
    assert [len(stream.letters[d]) for d in stream.documents] == [35] * 9 + [28]
    names = [[document.stem[-2:] for document in run] for run in stream.runs]
    assert names == [["00", "02", "04", "06", "08"], ["01", "03", "05", "07", "09"]]
    # a larger batch: several runs a worker, handed out in turn, each worker's in order
    stream = Stream.plan(
        Arrivals(jobs(1000)), 2, Path("scratch"), LETTERS_PER_DOCUMENT, LETTERS_PER_RUN
    )
    firsts = [int(run[0].stem[-5:]) for run in stream.runs]
    assert firsts[:2] == [0, 1] and firsts == sorted(firsts)
    assert all(
        sum(len(stream.letters[d]) for d in run) < LETTERS_PER_RUN + 40 for run in stream.runs
    )
    planned = [job for document in stream.documents for job in stream.letters[document]]
    assert planned == stream.arrivals.jobs


def stream_of_two(tmp_path: Path) -> tuple[Arrivals, Stream]:
    """Two documents of a letter each, for one LibreOffice, the first written."""
    letters = jobs(2)
    arrivals = Arrivals(letters)
    stream = Stream.plan(arrivals, 1, tmp_path, 1, LETTERS_PER_RUN)
    for document, job in zip(stream.documents, letters, strict=True):
        stream.combined[document] = Document([job], [None])
    stream.ready[stream.documents[0]].set()
    return arrivals, stream


def convert_stream(
    tmp_path: Path, stream: Stream, run: Callable[..., ProgramResult]
) -> list[list[str]]:
    """Run the stream's one run through a LibreOffice that is only `run`: what it was given."""
    given: list[list[str]] = []

    def recording(args: Sequence[str | Path], **options: Any) -> ProgramResult:
        if "--version" in args:
            return ProgramResult(tuple(map(str, args)), 0, "LibreOffice 7.4.7.2")
        given.append([Path(a).name for a in args if str(a).endswith(".docx")])
        return run(args, **options)

    profiles: Queue[Path] = Queue()
    profiles.put(tmp_path / "profile")
    with ThreadPoolExecutor(1) as splitter:
        work = Work(profiles, splitter, lambda result: None)
        converter = LibreOfficeConverter(Path("soffice"), workers=1, run=recording)
        converter._convert_stream(stream, stream.runs[0], work)
    return given


def test_a_stream_stopped_while_libreoffice_converts_gives_it_nothing_more(
    tmp_path: Path,
) -> None:
    arrivals, stream = stream_of_two(tmp_path)

    def stopped_meanwhile(args: Sequence[str | Path], **options: Any) -> ProgramResult:
        arrivals.cancel()  # the build stops while LibreOffice converts the first document
        stream.ready[stream.documents[1]].set()  # (as combine_all does once stopped)
        return ProgramResult(tuple(map(str, args)), 0, "")

    assert convert_stream(tmp_path, stream, stopped_meanwhile) == [["letters-00000.docx"]]


def test_a_document_libreoffice_stopped_on_is_kept_for_later_and_the_next_one_converted(
    tmp_path: Path,
) -> None:
    _, stream = stream_of_two(tmp_path)

    def stops_on_the_first(args: Sequence[str | Path], **options: Any) -> ProgramResult:
        stream.ready[stream.documents[1]].set()  # written meanwhile
        return ProgramResult(tuple(map(str, args)), 1, "")

    given = convert_stream(tmp_path, stream, stops_on_the_first)
    assert given == [["letters-00000.docx"], ["letters-00001.docx"]]
    assert stream.failed == stream.documents, "both, converted again once the others are done"


def test_pdfs_are_counted_once_the_letters_are_written() -> None:
    said: list[tuple[str, int, int]] = []
    shown = _PdfProgress(lambda stage, done, total: said.append((stage, done, total)))
    first, second, third, _ = jobs(4)
    shown.converted(ConversionResult(first))
    shown.converted(ConversionResult(second))
    assert said == [], "no 'Making PDFs' among 'Writing letters'"
    shown.merged(3)  # of the four letters, three were written: three PDFs to make
    shown.converted(ConversionResult(third))
    assert said == [("Making PDFs", 2, 3), ("Making PDFs", 3, 3)]


@pytest.mark.libreoffice
def test_libreoffice_starts_on_the_first_document_before_the_last_letter_is_written(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone, jobs, arrivals = first_document_written(settings, tmp_path, monkeypatch)
    runs = Runs()
    rest_arrived: list[float] = []

    def the_rest_once_libreoffice_has_started() -> None:
        deadline = time.monotonic() + 60  # (not begun by then: the assertions below say so)
        while not runs.began and time.monotonic() < deadline:
            time.sleep(0.01)
        rest_arrived.append(time.monotonic())
        for job in jobs[2:]:
            arrivals.arrived(job)
        arrivals.close()

    last = threading.Thread(target=the_rest_once_libreoffice_has_started)
    last.start()
    results = runs.converter().convert_arriving(arrivals)
    last.join()
    assert [(r.error, r.together) for r in results] == [(None, True)] * 4
    # begun with the first document alone, the only one written: LibreOffice is never given
    # a document before it is written (it would pass it by); the second gets the next run
    assert runs.began[0] < rest_arrived[0]
    assert [names for names, _ in runs.runs] == [["letters-00000.docx"], ["letters-00001.docx"]]
    assert_same_letters(jobs, alone)
    assert not list((tmp_path / "together").glob(".converting*")), "scratch folders are removed"


@pytest.mark.libreoffice
def test_a_document_libreoffice_did_not_convert_is_converted_again_together(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone, jobs = in_documents_of_two(settings, tmp_path, monkeypatch)
    runs = Runs()
    real_run = runs.run
    missed_in: list[int] = []  # the run that could not open it

    def run_missing_the_second(args: Sequence[str | Path], **kwargs: Any) -> Any:
        # The first run given the second document cannot open it (as when LibreOffice stops)
        second = next((Path(a) for a in args if str(a).endswith("letters-00001.docx")), None)
        if second is None or missed_in:
            return real_run(args, **kwargs)
        missed_in.append(len(runs.runs))
        hidden = second.with_suffix(".hidden")
        second.rename(hidden)
        try:
            return real_run(args, **kwargs)
        finally:
            hidden.rename(second)

    monkeypatch.setattr(runs, "run", run_missing_the_second)
    results = runs.converter().convert_arriving(written_already(jobs))
    assert [(r.error, r.together) for r in results] == [(None, True)] * 4
    # its two letters are converted together again after the others, in a run and a folder
    # of their own, not one at a time
    assert missed_in and len(runs.runs) == missed_in[0] + 2
    assert runs.runs[-1][0] == ["letters-00000.docx"]
    assert runs.sources[-1][0].parent != runs.sources[missed_in[0]][0].parent
    assert_same_letters(jobs, alone)


@pytest.mark.libreoffice
def test_letters_unlike_the_first_or_never_written_are_left_out_of_its_documents(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone, jobs = in_documents_of_two(settings, tmp_path, monkeypatch)
    unlike, unwritten = jobs[1], jobs[2]
    real_look_at = combine.look_at

    def look_at(docx: Path) -> tuple[str, str | None]:
        signature, refusal = real_look_at(docx)
        return ("another template", refusal) if docx == unlike.docx else (signature, refusal)

    monkeypatch.setattr(runs_module, "look_at", look_at)
    runs = Runs()
    arrivals = Arrivals(jobs)
    for job in jobs:
        arrivals.arrived(job, written=job != unwritten)
    arrivals.close()
    results = runs.converter().convert_arriving(arrivals)
    # no result for the letter never written; the one unlike the others converted on its own
    assert [(r.job, r.error, r.together) for r in results] == [
        (jobs[0], None, True),
        (unlike, None, False),
        (jobs[3], None, True),
    ]
    # the two documents (in one run or two, as they were written), then the unlike letter
    *stream, last = [names for names, _ in runs.runs]
    assert [name for names in stream for name in names] == [
        "letters-00000.docx",
        "letters-00001.docx",
    ]
    assert last == [unlike.docx.name]
    assert_same_letters([jobs[0], unlike, jobs[3]], alone)


@pytest.mark.libreoffice
def test_without_a_check_kept_the_letters_wait_for_the_check(
    settings: Settings, tmp_path: Path
) -> None:
    runs = Runs()
    jobs = family_of(jobs_for(settings, tmp_path / "together"))
    results = runs.converter().convert_arriving(written_already(jobs))
    assert [(r.error, r.together) for r in results] == [(None, True)] * 4
    # first the check (letters together and two alone, in one run), then the letters
    assert runs.runs[0][0][-1] == "letters-check.docx"
    assert [names for names, _ in runs.runs[1:]] == [["letters-00000.docx"]]


@pytest.mark.libreoffice
def test_a_build_converts_while_it_merges_once_its_template_was_checked(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(libreoffice, "LETTERS_PER_DOCUMENT", 1)
    written: list[float] = []
    real_arrived = Arrivals.arrived

    def arrived(self: Arrivals, job: ConversionJob, is_written: bool = True) -> None:
        written.append(time.monotonic())
        real_arrived(self, job, is_written)

    monkeypatch.setattr(Arrivals, "arrived", arrived)
    runs = Runs()

    def converter() -> LibreOfficeConverter:
        program = find_libreoffice()
        assert program is not None
        checks = settings.paths.combining_checks  # kept between builds, as the app keeps them
        return LibreOfficeConverter(
            program, workers=1, run=runs.run, split=runs.split, verdicts=checks
        )

    first = build_letters(load_batch(settings), converter=converter())
    assert runs.runs[0][0][-1] == "letters-check.docx"
    assert runs.began[0] > written[-1], "no check kept yet: every letter is merged first"
    made = {o.authority: o.pdf.read_bytes() for o in first.letters if o.pdf}
    assert len(made) == 4 and all(o.together for o in first.letters)

    # The check is kept now. The last letter takes a second to write: LibreOffice does not
    # wait for it.
    runs, written[:] = Runs(), []
    real_write = build._write_letter

    def slow_last(batch: Any, letter: Any, *args: Any) -> Any:
        if letter.council.authority == first.letters[-1].authority:
            time.sleep(1)
        return real_write(batch, letter, *args)

    monkeypatch.setattr(build, "_write_letter", slow_last)
    again = build_letters(load_batch(settings), converter=converter(), force=True)
    assert "letters-check.docx" not in [name for names, _ in runs.runs for name in names]
    assert runs.began[0] < written[-1], "LibreOffice began before the last letter was written"
    assert [(o.error, o.together) for o in again.letters] == [(None, True)] * 4
    # the same letters, page by page, as the first build made after merging them all
    assert again.letters[0].docx is not None
    margins = Margins.of(again.letters[0].docx)
    for letter in again.letters:
        assert letter.pdf is not None
        earlier = tmp_path / f"{letter.pdf.stem} (first build).pdf"
        earlier.write_bytes(made[letter.authority])
        assert difference(letter.pdf.read_bytes(), earlier, margins) is None


@pytest.mark.libreoffice
def test_a_document_that_cannot_be_written_sends_its_letters_the_usual_way(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone, jobs, arrivals = first_document_written(settings, tmp_path, monkeypatch)
    for job in jobs[2:]:
        arrivals.arrived(job)
    arrivals.close()
    real_write = files.write_atomic

    def second_document_on_a_full_disk(path: Path, data: bytes, **options: Any) -> None:
        if path.name == "letters-00001.docx":
            raise DiskFull(path.parent)
        real_write(path, data, **options)

    monkeypatch.setattr(runs_module, "write_atomic", second_document_on_a_full_disk)
    runs = Runs()
    results = runs.converter().convert_arriving(arrivals)
    # the first document's letters together; the second's converted as any others are
    # (planned afresh: two letters, combined by the usual way), none lost
    assert [(r.job, r.error) for r in results] == [(job, None) for job in jobs]
    assert [r.together for r in results[:2]] == [True, True]
    assert runs.runs[0][0] == ["letters-00000.docx"]
    unwritten = runs.sources[0][0].parent / "letters-00001.docx"
    assert all(unwritten not in sources for sources in runs.sources), "never given LibreOffice"
    assert len(runs.runs) > 1, "the second document's letters had a run of their own"
    assert_same_letters(jobs, alone)
