"""Letters converted together and split back are the same letters as converted one by one."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil
import pytest
from pypdf import PdfReader

from letter_merge.batch import load_batch
from letter_merge.build import BuildReport, build_letters
from letter_merge.config import PdfSettings, Settings
from letter_merge.pdf import lean, libreoffice
from letter_merge.pdf.combine import Combined, combine_letters
from letter_merge.pdf.convert import ConversionJob
from letter_merge.pdf.libreoffice import LibreOfficeConverter, RunProgram, SplitPdf
from letter_merge.pdf.pages import read_pages
from letter_merge.pdf.reading import pdf_text
from letter_merge.pdf.soffice import find_libreoffice
from letter_merge.pdf.split import LetterPdf, letter_pdfs
from letter_merge.pdf.verify import Margins, Verdict, Verdicts, difference
from letter_merge.process import ProgramResult, run_program
from tests import word_features

pytestmark = pytest.mark.libreoffice


def pdf_title(pdf: Path) -> str:
    metadata = PdfReader(pdf).metadata
    return str(metadata.title) if metadata is not None else ""


def converted(settings: Settings, folder: Path, *, combine: bool) -> dict[str, Path]:
    report = build_letters(load_batch(settings), converter=None)
    program = find_libreoffice()
    assert program is not None
    folder.mkdir()
    jobs = [ConversionJob(o.docx, folder / f"{o.docx.stem}.pdf") for o in report.letters if o.docx]
    results = LibreOfficeConverter(program, combine=combine).convert(jobs)
    assert [r.error for r in results] == [None] * len(jobs)
    return {job.pdf.name: job.pdf for job in jobs}


def raw_text(pdf: Path) -> list[str]:
    """Each page's text, page footers included."""
    return [" ".join(page.split()) for page in pdf_text(pdf).split("\f")]


def test_combined_conversion_gives_the_same_letters(settings: Settings, tmp_path: Path) -> None:
    together = converted(settings, tmp_path / "together", combine=True)
    alone = converted(settings, tmp_path / "alone", combine=False)
    assert sorted(together) == sorted(alone) and len(together) == 4
    for name in together:
        pages_together, pages_alone = raw_text(together[name]), raw_text(alone[name])
        assert pages_together == pages_alone, name
        # each letter numbers its own pages from 1
        assert [p.rsplit("Page ", 1)[-1] for p in pages_together] == ["1", "2", "3"]
        assert pdf_title(together[name]) == pdf_title(alone[name])
        assert pdf_title(together[name]).startswith("Annual Review letter 2020 – ")


def test_when_combining_fails_every_letter_is_still_converted(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the named destinations the combined PDF cannot be split: fall back to one by one.
    monkeypatch.setattr(libreoffice, "export_filter", lambda *_, **__: "pdf:writer_pdf_Export")
    together = converted(settings, tmp_path / "together", combine=True)
    assert len(together) == 4
    for pdf in together.values():
        assert len(PdfReader(pdf).pages) == 3


def jobs_for(settings: Settings, folder: Path) -> list[ConversionJob]:
    report = build_letters(load_batch(settings), converter=None)
    folder.mkdir()
    return [ConversionJob(o.docx, folder / f"{o.docx.stem}.pdf") for o in report.letters if o.docx]


def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Converting together taken as checked already: these tests are about LibreOffice's runs,
    not about the check (see the tests below it)."""
    same = Verdict(True, "", ("a letter",), "LibreOffice", "2020-07-01T00:00:00+00:00")
    monkeypatch.setattr(Verdicts, "get", lambda self, key: same)


def one_worker(
    run: RunProgram = run_program, split: SplitPdf = letter_pdfs
) -> LibreOfficeConverter:
    program = find_libreoffice()
    assert program is not None
    return LibreOfficeConverter(program, workers=1, run=run, split=split)


def assert_same_letters(jobs: list[ConversionJob], alone: dict[str, Path]) -> None:
    for job in jobs:
        assert raw_text(job.pdf) == raw_text(alone[job.pdf.name]), job.pdf.name


def sources_of(args: Sequence[str | Path]) -> list[Path]:
    """The documents a LibreOffice run converts: what follows --outdir's folder."""
    words = [str(a) for a in args]
    return [Path(a) for a in words[words.index("--outdir") + 2 :]]


def documents_of(args: Sequence[str | Path]) -> list[str]:
    return [path.name for path in sources_of(args)]


class Runs:
    """Watches a converter's LibreOffice runs (their documents, when each began and ended; the
    documents' paths) and its splits (when each began), through the converter's own seams;
    `after_run` is called as each run ends."""

    def __init__(self) -> None:
        self.runs: list[tuple[list[str], float]] = []
        self.began: list[float] = []
        self.sources: list[list[Path]] = []
        self.splits: list[float] = []
        self.after_run: Callable[[], None] = lambda: None

    def run(
        self,
        args: Sequence[str | Path],
        *,
        timeout: float,
        on_line: Callable[[str], None] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ProgramResult:
        converting = "--convert-to" in args
        if converting:
            self.began.append(time.monotonic())
        result = run_program(args, timeout=timeout, on_line=on_line, env=env)
        if converting:
            self.runs.append((documents_of(args), time.monotonic()))
            self.sources.append(sources_of(args))
            self.after_run()
        return result

    def split(
        self,
        pdf: Path,
        titles: Sequence[str],
        settings: PdfSettings,
        charts: Sequence[bytes | None],
    ) -> list[LetterPdf]:
        self.splits.append(time.monotonic())
        return letter_pdfs(pdf, titles, settings, charts)

    def converter(self) -> LibreOfficeConverter:
        return one_worker(self.run, self.split)


def test_documents_of_letters_go_through_one_run_each_split_while_it_goes_on(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = converted(settings, tmp_path / "alone", combine=False)
    monkeypatch.setattr(libreoffice, "LETTERS_PER_DOCUMENT", 2)
    trusted(monkeypatch)
    runs = Runs()
    jobs = jobs_for(settings, tmp_path / "together")
    results = runs.converter().convert(jobs)
    assert [r.error for r in results] == [None] * 4
    # one LibreOffice run for the two documents of two letters
    assert [names for names, _ in runs.runs] == [["letters-00000.docx", "letters-00001.docx"]]
    # the first document was split while LibreOffice was still at work on the second
    assert len(runs.splits) == 2 and runs.splits[0] < runs.runs[0][1]
    assert_same_letters(jobs, alone)
    assert not list((tmp_path / "together").glob(".converting*")), "scratch folders are removed"


def test_a_document_libreoffice_cannot_open_costs_only_its_own_letters(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = converted(settings, tmp_path / "alone", combine=False)
    monkeypatch.setattr(libreoffice, "LETTERS_PER_DOCUMENT", 1)
    real_combine = combine_letters
    combined: list[int] = []

    def second_is_broken(letters: list[Path]) -> Combined:
        combined.append(len(letters))
        made = real_combine(letters)
        if len(combined) == 2:
            return made._replace(data=b"PK\x03\x04 this is not a Word document")
        return made

    monkeypatch.setattr(libreoffice, "combine_letters", second_is_broken)
    trusted(monkeypatch)
    runs = Runs()
    jobs = jobs_for(settings, tmp_path / "together")
    results = runs.converter().convert(jobs)
    assert [r.error for r in results] == [None] * 4
    # the four documents in one run, then the broken one's letter alone
    assert [len(names) for names, _ in runs.runs] == [4, 1]
    assert runs.runs[1][0] == [jobs[1].docx.name]
    assert_same_letters(jobs, alone)


def test_after_libreoffice_dies_in_a_run_the_rest_get_another(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = converted(settings, tmp_path / "alone", combine=False)
    monkeypatch.setattr(libreoffice, "LETTERS_PER_DOCUMENT", 1)
    runs: list[list[str]] = []

    # The first run's LibreOffice is killed (SIGKILL, as a crash ends it) as soon as it says it
    # has opened the second document: the first is finished, the second half-made.
    def dies_once(
        args: Sequence[str | Path],
        *,
        timeout: float,
        on_line: Callable[[str], None] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ProgramResult:
        if "--convert-to" not in args:
            return run_program(args, timeout=timeout, on_line=on_line, env=env)
        documents = documents_of(args)
        runs.append(documents)
        said = on_line
        if said is None:  # letters one by one
            return run_program(args, timeout=timeout, env=env)
        (profile,) = [a for a in map(str, args) if a.startswith("-env:UserInstallation=")]

        def kill_on_second(line: str) -> None:
            said(line)
            if len(runs) == 1 and documents[1] in line:
                kill_libreoffice(profile.removeprefix("-env:UserInstallation="))

        return run_program(args, timeout=timeout, on_line=kill_on_second, env=env)

    trusted(monkeypatch)
    jobs = jobs_for(settings, tmp_path / "together")
    results = one_worker(dies_once).convert(jobs)
    assert [r.error for r in results] == [None] * 4
    documents = [f"letters-0000{n}.docx" for n in range(4)]
    # the one it died in (whose PDF may be cut short) goes alone; the others get a new run
    assert runs == [documents, documents[2:], [jobs[1].docx.name]]
    assert_same_letters(jobs, alone)


def build_with_features(
    settings: Settings, *features: Callable[[Path], None], run: RunProgram = run_program
) -> BuildReport:
    template = Path("templates") / "letter.docx"
    for feature in features:
        feature(template)
    program = find_libreoffice()
    assert program is not None
    converter = LibreOfficeConverter(
        program, pdf=settings.pdf, verdicts=settings.paths.combining_checks, run=run
    )
    return build_letters(load_batch(settings), converter=converter)


def assert_the_letters_alone(report: BuildReport, folder: Path) -> None:
    """Each letter of the build is, page by page, the letter converted alone."""
    program = find_libreoffice()
    assert program is not None
    folder.mkdir()
    jobs = [
        ConversionJob(o.docx, folder / o.docx.with_suffix(".pdf").name)
        for o in report.letters
        if o.docx
    ]
    LibreOfficeConverter(program, combine=False).convert(jobs)
    margins = Margins.of(jobs[0].docx)
    for outcome, job in zip(report.letters, jobs, strict=True):
        assert outcome.pdf is not None
        assert difference(outcome.pdf, job.pdf, margins) is None, outcome.authority


# Word's features that letters converted together make each letter's own (isolate.py).
FEATURES = (
    word_features.title_in_footer,  # TITLE field, and the title bound to a content control
    functools.partial(word_features.page_x_of_y_footer, at_end=True),  # PAGE, NUMPAGES
    word_features.numbered_list,  # a list, and the same list restarted
    word_features.caption_and_cross_reference,  # SEQ, a bookmark, REF and PAGEREF
    word_features.header_naming_the_council,  # {{ authority }}, PAGE and NUMPAGES simple
)


def built_together_as_alone(
    settings: Settings, tmp_path: Path, *features: Callable[[Path], None]
) -> BuildReport:
    """The four letters built with `features`, all converted together, each the letter alone."""
    report = build_with_features(settings, *features)
    assert [o.error for o in report.letters] == [None] * 4
    assert report.notices == []
    assert [o.together for o in report.letters] == [True] * 4
    assert_the_letters_alone(report, tmp_path / "alone")
    return report


def test_letters_using_word_features_are_converted_together_as_they_are_alone(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check converts the first two together (and the second alone); then the four go as
    # two documents of two, so that two letters are neither first nor checked.
    monkeypatch.setattr(libreoffice, "CHECK_LETTERS", 2)
    monkeypatch.setattr(libreoffice, "LETTERS_PER_DOCUMENT", 2)
    # ...and line numbers, numbered from 1 in each letter
    report = built_together_as_alone(settings, tmp_path, *FEATURES, word_features.line_numbers)
    derby = [" ".join(p.text.split()) for p in read_pages(report.letters[1].pdf or Path())]
    assert len(derby) == 4
    assert all(f"Page {n} of 4" in page for n, page in enumerate(derby, start=1))
    assert all("Annual Review letter 2020 – Derby City Council" in page for page in derby)
    assert "1. Complaints upheld" in derby[0] and "Leicestershire" not in " ".join(derby)


def test_footnotes_with_every_other_feature_are_converted_together_as_they_are_alone(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(libreoffice, "CHECK_LETTERS", 2)
    monkeypatch.setattr(libreoffice, "LETTERS_PER_DOCUMENT", 2)
    # two footnotes, numbered from 1, one naming the council (not under line numbers: those go
    # one at a time, see notes.py)
    report = built_together_as_alone(settings, tmp_path, word_features.notes, *FEATURES)
    for outcome in report.letters[1:]:  # each numbers its own from 1, under the line
        text = " ".join(" ".join(p.text.split()) for p in read_pages(outcome.pdf or Path()))
        assert "1 As decided by the Ombudsman." in text
        assert f"2 The figures of {outcome.authority}." in text


def test_the_check_finds_what_letter_merge_leaves_alone_and_converts_one_at_a_time(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Line numbers (Layout › Line Numbers › Continuous) in a letter's second section only:
    # LibreOffice counts them over the whole document, and letter-merge does nothing about
    # them, on purpose for this test.
    report = build_with_features(settings, word_features.line_numbers_after_a_section_break)
    assert [o.together for o in report.letters] == [False] * 4
    (notice,) = report.notices
    assert notice.startswith("4 letters converted one at a time")
    assert re.search(r'page 1: "\d+ \d+ .*" in the batch, "1 2 3 .*" alone', notice), notice
    assert_the_letters_alone(report, tmp_path / "alone")
    # Remembered: the next build does not check again, and says the same.
    runs = Runs()
    again = build_with_features(settings, run=runs.run)
    assert [o.remade for o in again.letters] == [False] * 4
    forced = build_letters(
        load_batch(settings),
        converter=LibreOfficeConverter(
            find_libreoffice() or Path(),
            pdf=settings.pdf,
            verdicts=settings.paths.combining_checks,
            run=runs.run,
        ),
        force=True,
    )
    assert forced.notices == [notice]
    # LibreOffice ran (the letters were converted one at a time), but no check did
    assert runs.runs and not any("letters-check.docx" in names for names, _ in runs.runs)


def kill_libreoffice(profile: str) -> None:
    """Kill every LibreOffice process using `profile` (its file: URI), as a crash ends it
    (SIGKILL; on Windows TerminateProcess)."""
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(profile in argument for argument in process.info["cmdline"] or ()):
                process.kill()
        except psutil.Error:
            pass  # gone meanwhile


def verdicts_kept(settings: Settings) -> list[dict[str, object]]:
    folder = settings.paths.combining_checks
    return [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")]


def test_letters_one_at_a_time_go_with_only_their_styles_once_shown_the_same(
    settings: Settings, tmp_path: Path
) -> None:
    # Endnotes: LibreOffice 7.4 puts a document's endnotes after its last letter, so these
    # letters go one at a time, each from a copy with only the styles it uses (lean.py).
    runs = Runs()
    report = build_with_features(settings, word_features.plain_endnotes, run=runs.run)
    assert [o.error for o in report.letters] == [None] * 4
    assert [o.together for o in report.letters] == [False] * 4
    letters = {o.docx for o in report.letters}
    # The check: one letter from its own .docx and from its copy, in one run; then the copies
    check, *rest = runs.sources
    converted = [path for run in rest for path in run]
    assert check[0] in letters and check[1].name == f"{check[0].stem} (lean).docx"
    assert sorted(p.name for p in converted) == sorted(p.name for p in letters if p)
    assert not letters & set(converted), "the copies, not the letters' own .docx"
    assert [v["same"] for v in verdicts_kept(settings)] == [True]
    assert_the_letters_alone(report, tmp_path / "alone")


def test_a_copy_that_is_not_the_letter_is_not_used(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy that lost a style the letter uses (its heading's) converts to another letter: the
    # check finds it, and the letters go from their own .docx.
    def without_headings(parts: dict[str, bytes]) -> dict[str, bytes]:
        return {
            name: re.sub(rb'<w:style [^>]*w:styleId="Heading1".*?</w:style>', b"", data, flags=re.S)
            for name, data in parts.items()
            if name.startswith("word/styles")
        }

    monkeypatch.setattr(lean, "lean_parts", without_headings)
    runs = Runs()
    report = build_with_features(settings, word_features.plain_endnotes, run=runs.run)
    assert [o.error for o in report.letters] == [None] * 4
    (verdict,) = verdicts_kept(settings)
    assert verdict["same"] is False and verdict["difference"]
    converted = [path for run in runs.sources[1:] for path in run]
    assert set(converted) == {o.docx for o in report.letters}
    assert_the_letters_alone(report, tmp_path / "alone")
