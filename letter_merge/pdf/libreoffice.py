"""The LibreOffice converter: letters converted together in batches, one at a time where they
must be.

Starting LibreOffice and opening a document cost far more than laying out a letter, so letters made
from the same template are converted together, a few dozen as the sections of one document, and
each document's PDF is split back into letters (see combine.py and split.py). Two LibreOffices
work side by side, each with its own profile folder (two instances sharing one would hand their
work to each other), each converting its documents in as few runs as it can (all at once, or
as they are written): a document is split as soon as LibreOffice says it has gone on to the
next, so that cutting keeps pace with converting.
Whatever cannot be converted together is converted one document at a time, and a failed run is
retried letter by letter, so one broken letter never takes the others down. Every PDF is checked
before it replaces the old one.

A build hands its letters over as it writes them (`convert_arriving`): once an earlier build has
checked that its template's letters convert together as they do alone, LibreOffice starts on the
first documents while the last letters are still being merged (runs.py's Stream); until then the
letters wait for the check, and so for the last of them.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar

import pikepdf
from lxml import etree

from letter_merge.config import DEFAULT_PDF, PdfSettings
from letter_merge.pdf import lean, startup
from letter_merge.pdf.combine import (
    CombineError,
    combine_letters,
    look_at,
    shared_signature,
    template_cannot_combine,
)
from letter_merge.pdf.conformance import export_filter, finish_pdf
from letter_merge.pdf.convert import (
    Arrivals,
    ConversionJob,
    ConversionResult,
    ResultCallback,
    is_pdf,
    put_pdf,
)
from letter_merge.pdf.runs import (
    CANNOT_COMBINE,
    Document,
    Profiles,
    Stream,
    Work,
    even_chunks,
    take_run,
)
from letter_merge.pdf.split import LetterPdf, letter_pdfs
from letter_merge.pdf.verify import Margins, Verdict, Verdicts, difference, new_verdict, verdict_key
from letter_merge.process import ProgramResult, run_program, stop_all_programs
from letter_merge.words import counted

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Letters converted together go as documents of a few dozen letters, several to a LibreOffice run:
# LibreOffice costs about as much a letter in documents of 10 letters as of 170, and a second or
# so to start, so the split of each document follows closely behind LibreOffice while the runs
# stay few. Long runs are cut (a run that stops loses less); letters converted one by one go a
# few to a run.
LETTERS_PER_DOCUMENT = 40
LETTERS_PER_RUN = 200
# Letters converted together first, to check them against some of them converted alone.
CHECK_LETTERS = 4
# Letters converted one at a time go to LibreOffice with only the styles they use (lean.py) when
# their family has this many, once one of them converted both ways gave the same letter.
LEAN_AT_LEAST = 4
# How long LibreOffice may go without saying anything before it is stopped: a run of combined
# documents says when it begins each, but LibreOffice on Windows says nothing at all.
RUN_SECONDS = 60
SECONDS_PER_LETTER = 2


class RunProgram(Protocol):
    """How a program is run: process.run_program, or a test's watch over it."""

    def __call__(
        self,
        args: Sequence[str | Path],
        *,
        timeout: float,
        on_line: Callable[[str], None] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ProgramResult: ...


# How a PDF of letters converted together is cut into the letters (with their titles and
# charts): split.letter_pdfs.
SplitPdf = Callable[[Path, Sequence[str], PdfSettings, Sequence[bytes | None]], list[LetterPdf]]
# What cutting it may fail with: the letters then go one at a time.
CANNOT_CUT = (CombineError, pikepdf.PdfError, ValueError, KeyError, OSError)


@dataclass(frozen=True)
class Family:
    """Letters made from one template, and how they are converted: together, or one at a time
    and why."""

    jobs: list[ConversionJob]
    key: str  # the verdict's key in the cache
    verdict: Verdict | None  # None: not checked yet
    alone_because: str = ""  # "" unless they go one at a time


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
        verdicts: Path | None = None,
        run: RunProgram = run_program,
        split: SplitPdf = letter_pdfs,
    ) -> None:
        self.program = program
        self.pdf = pdf
        self.workers = max(1, workers or min(2, os.cpu_count() or 1))
        # Kept between runs: a new LibreOffice profile costs about a second to set up.
        self.profile_dir = profile_dir
        self.combine = combine
        self.verdicts = Verdicts(verdicts)
        # How LibreOffice is run and its PDFs cut: tests watch, or interrupt, both.
        self.run = run
        self.split = split
        self._version: str | None = None
        self._environment: dict[str, str] | None = None  # (decided with the version)
        self._asking = threading.Lock()
        self.notices: list[str] = []
        # The check each letter converted together was converted on.
        self._checks: dict[ConversionJob, Verdict] = {}
        # Letters converted one at a time from a copy with only the styles they use, and the
        # chart each one's PDF gets in place of the copy's stand-in.
        self._lean: set[ConversionJob] = set()
        self._charts: dict[ConversionJob, bytes] = {}

    def version(self) -> str:
        """What LibreOffice says it is; asked once, in the environment it is then run in (see
        startup.environment), or in this one if it cannot start in that."""
        with self._asking:
            if self._version is None:
                environment = startup.environment()
                result = self.run([self.program, "--version"], timeout=60, env=environment)
                if environment is not None and (result.returncode != 0 or not result.output):
                    log.info("LibreOffice did not start with jemalloc: %s", result.output.strip())
                    environment = None
                    result = self.run([self.program, "--version"], timeout=60)
                self._environment = environment
                lines = result.output.strip().splitlines()
                self._version = lines[-1].strip() if lines else "LibreOffice (version unknown)"
            return self._version

    def release(self) -> str | None:
        """The release ("7.4") LibreOffice's profiles record as seen (startup.py)."""
        return startup.release_of(self.version(), self.program)

    def convert(
        self, jobs: Sequence[ConversionJob], on_result: ResultCallback | None = None
    ) -> list[ConversionResult]:
        return self._converting(jobs, on_result, lambda work, pool: self._convert(jobs, work, pool))

    def convert_arriving(
        self, arrivals: Arrivals, on_result: ResultCallback | None = None
    ) -> list[ConversionResult]:
        """Convert the letters while they are still being written, where that is known to give
        the letters converted alone (their family's check was made and cached by an earlier
        build): LibreOffice starts as soon as the first document's letters are there, not after
        the last letter is merged. Otherwise as `convert`, once every letter is written."""
        return self._converting(
            arrivals.jobs,
            on_result,
            lambda work, pool: self._convert_arriving(arrivals, work, pool),
        )

    def _converting(
        self,
        jobs: Sequence[ConversionJob],
        on_result: ResultCallback | None,
        conversion: Callable[[Work, ThreadPoolExecutor], None],
    ) -> list[ConversionResult]:
        """Run `conversion` with this run's LibreOffice profiles and threads: the results, in the
        order of `jobs` (of those converted)."""
        self.notices = []
        self._checks = {}
        self._lean = set()
        self._charts = {}
        if not jobs:
            return []
        results: list[ConversionResult] = []
        lock = threading.Lock()

        def report(result: ConversionResult) -> None:
            with lock:
                results.append(result)
                if on_result:
                    on_result(result)

        claimed = Profiles(self.profile_dir, self.workers, self.release())
        with (
            claimed as profiles,
            ThreadPoolExecutor(self.workers) as pool,
            # Cutting a combined PDF into letters is Python's work, done on the side, so that
            # LibreOffice goes on to its next document at once.
            ThreadPoolExecutor(1) as splitter,
        ):
            self.notices += claimed.recovered
            work = Work(profiles, splitter, report)
            try:
                conversion(work, pool)
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

    def _convert(self, jobs: Sequence[ConversionJob], work: Work, pool: ThreadPoolExecutor) -> None:
        families, alone = self._plan(jobs)
        together = []
        for family in families:
            if family.verdict is None and not family.alone_because:
                family = self._check(family, work)
            if family.alone_because:
                self._say_alone(family)
                if len(family.jobs) >= LEAN_AT_LEAST and self._lean_holds(family, work):
                    self._lean.update(family.jobs)
                alone.extend(family.jobs)
            else:
                assert family.verdict is not None
                self._checks.update(dict.fromkeys(family.jobs, family.verdict))
                together.extend(family.jobs)
        runs = self._runs(together)
        tasks = [pool.submit(self._convert_together, run, work) for run in runs]
        tasks += [
            pool.submit(self._convert_alone, chunk, work)
            for chunk in even_chunks(alone, self.workers, LETTERS_PER_RUN)
        ]
        for task in tasks:
            task.result()
        self._convert_later(work, pool)

    def _convert_later(self, work: Work, pool: ThreadPoolExecutor) -> None:
        """Once every run is over: the letters that could not be converted together after all,
        one at a time."""
        for split in work.splits:  # every split has been handed over by now
            split.result()
        tasks = [
            pool.submit(self._convert_alone, chunk, work)
            for chunk in even_chunks(work.alone, self.workers, LETTERS_PER_RUN)
        ]
        for task in tasks:
            task.result()

    def _convert_arriving(self, arrivals: Arrivals, work: Work, pool: ThreadPoolExecutor) -> None:
        first = next((job for job in arrivals.jobs if arrivals.wait(job)), None)
        if first is None:
            return  # none was written
        verdict = self._known_verdict(first, arrivals.jobs)
        if verdict is None:
            self._convert(arrivals.written(), work, pool)
            return
        self._checks.update(dict.fromkeys(arrivals.jobs, verdict))
        folder = work.folder(first.pdf.parent)
        stream = Stream.plan(arrivals, self.workers, folder, LETTERS_PER_DOCUMENT, LETTERS_PER_RUN)
        tasks = [pool.submit(self._convert_stream, stream, run, work) for run in stream.runs]
        elsewhere = stream.combine_all()  # here, while LibreOffice converts
        for task in tasks:
            task.result()
        if arrivals.cancelled:
            return  # the build stopped: nothing more is converted
        # Documents LibreOffice did not convert (it stopped on one): the same documents again,
        # in runs of their own, where a letter that fails goes one at a time.
        again = [stream.combined[path].letters for path in sorted(stream.failed)]
        again = [letters for letters in again if letters]
        runs = [again[worker :: self.workers] for worker in range(self.workers)]
        for task in [pool.submit(self._convert_together, run, work) for run in runs if run]:
            task.result()
        if elsewhere:  # letters unlike the first: planned as any others
            self._convert(elsewhere, work, pool)
        else:
            self._convert_later(work, pool)

    def _known_verdict(self, first: ConversionJob, jobs: Sequence[ConversionJob]) -> Verdict | None:
        """The check of the letters to come, from the first letter written, if an earlier build
        made it and found that they convert together as they do alone; None if none did (or
        they do not, or there are too few to combine)."""
        if not self.combine or len(jobs) < 2 or not first.family:
            return None
        if _reason_not_to_combine(template_cannot_combine, first.docx):
            return None
        verdict = self.verdicts.get(self._together_key(first.family))
        return verdict if verdict is not None and verdict.same else None

    def _together_key(self, family: str) -> str:
        """The key under which the check of a family's letters converted together is kept."""
        return verdict_key(family, self.version(), export_filter(self.pdf, destinations=True))

    def _plan(self, jobs: Sequence[ConversionJob]) -> tuple[list[Family], list[ConversionJob]]:
        """Letters that share a template are a family, converted together unless something in
        the template forbids it or the check against letters converted alone found a
        difference. The rest go one at a time."""
        groups: dict[str, list[ConversionJob]] = {}
        refusals: dict[ConversionJob, str] = {}
        for job in jobs:
            key = str(job.docx)
            if self.combine:
                try:
                    key, refusal = look_at(job.docx)
                except (OSError, KeyError, zipfile.BadZipFile):
                    key = str(job.docx)  # unreadable: LibreOffice will say why, on its own
                else:
                    refusals[job] = refusal or ""
            groups.setdefault(key, []).append(job)
        alone = [job for g in groups.values() if len(g) == 1 for job in g]
        families = []
        for signature, group in groups.items():
            if len(group) < 2:
                continue
            key = self._together_key(group[0].family or signature)
            reason = _reason_not_to_combine(template_cannot_combine, group[0].docx)
            if reason:
                families.append(Family(group, key, None, reason))
                continue
            # Letters that cannot go together (notes, which may be in some letters only)
            refused: dict[str, list[ConversionJob]] = {}
            for job in group:
                reason = refusals.get(job, "")
                if reason:
                    refused.setdefault(reason, []).append(job)
            families += [Family(jobs, key, None, reason) for reason, jobs in refused.items()]
            rest = [job for job in group if not any(job in jobs for jobs in refused.values())]
            if len(rest) < 2:
                alone.extend(rest)
                continue
            verdict = self.verdicts.get(key)
            because = verdict.difference if verdict is not None and not verdict.same else ""
            families.append(Family(rest, key, verdict, because))
        return families, alone

    def _say_alone(self, family: Family) -> None:
        self.notices.append(
            f"{counted(len(family.jobs), 'letter')} converted one at a time, not together: "
            f"{family.alone_because}"
        )

    def _runs(self, jobs: list[ConversionJob]) -> list[list[list[ConversionJob]]]:
        """Documents of a few dozen letters of one family, the same number of letters for each
        worker's LibreOffice: each worker's documents."""
        groups: dict[str, list[ConversionJob]] = {}
        for job in jobs:
            groups.setdefault(job.family or shared_signature(job.docx), []).append(job)
        documents = [
            chunk
            for group in groups.values()
            for chunk in even_chunks(group, self.workers, LETTERS_PER_DOCUMENT)
        ]
        runs: list[list[list[ConversionJob]]] = [[] for _ in range(self.workers)]
        letters = [0] * self.workers
        for document in sorted(documents, key=len, reverse=True):
            least = letters.index(min(letters))
            runs[least].append(document)
            letters[least] += len(document)
        return [run for run in runs if run]

    def _check(self, family: Family, work: Work) -> Family:
        """Convert the family's first few letters together, and some of them (never the first)
        alone too, in one LibreOffice run; compare them (verify.py) and keep the verdict. The
        letters converted together are not kept: they are converted again with the rest of the
        family, so that a letter's bytes (its fonts' subsets, its structure's numbers) are the
        same whether or not this build made the check, and the same inputs build the same
        bytes."""
        letters = family.jobs[:CHECK_LETTERS]
        samples = list(dict.fromkeys([letters[-1], letters[len(letters) // 2]]))
        profile = work.profiles.get()
        try:
            folder = work.folder(letters[0].pdf.parent)
            document = folder / "letters-check.docx"
            try:
                together = combine_letters([job.docx for job in letters])
                document.write_bytes(together.data)
            except CANNOT_COMBINE as error:
                return replace(family, alone_because=f"they cannot be combined ({error})")
            outdir = folder / "out"
            result = self._soffice(
                [*(job.docx for job in samples), document],
                outdir,
                profile,
                export_filter(self.pdf, destinations=True),
                timeout=RUN_SECONDS + SECONDS_PER_LETTER * (len(letters) + len(samples)),
            )
            combined = outdir / f"{document.stem}.pdf"
            alone = {job: outdir / f"{job.docx.stem}.pdf" for job in samples}
            if (
                result.returncode != 0
                or not is_pdf(combined)
                or not all(map(is_pdf, alone.values()))
            ):
                return replace(
                    family,
                    alone_because="LibreOffice could not convert the letters that check "
                    f"converting together ({_reason(result, None)})",
                )
            try:
                pdfs = self.split(
                    combined, [job.pdf_title() for job in letters], self.pdf, together.charts
                )
            except CANNOT_CUT as error:
                return replace(family, alone_because=f"the combined PDF cannot be cut ({error})")
            made = dict(zip(letters, pdfs, strict=True))
            margins = Margins.of(letters[0].docx)
            verdict = new_verdict(
                {job.pdf.name: difference(made[job].data, alone[job], margins) for job in samples},
                self.version(),
            )
        finally:
            work.profiles.put(profile)
        self.verdicts.put(family.key, verdict)
        if not verdict.same:
            return replace(family, verdict=verdict, alone_because=verdict.difference)
        return replace(family, verdict=verdict)

    def _lean_holds(self, family: Family, work: Work) -> bool:
        """Whether a letter of the family converted from a copy with only the styles it uses is
        the letter converted from its own .docx: one letter converted both ways, in one
        LibreOffice run, compared page by page. The verdict is kept as the family's is."""
        export = export_filter(self.pdf)
        key = verdict_key(f"{family.key}\nwith only the styles used", self.version(), export)
        kept = self.verdicts.get(key)
        if kept is not None:
            return kept.same
        sample = family.jobs[len(family.jobs) // 2]
        profile = work.profiles.get()
        try:
            folder = work.folder(sample.pdf.parent)
            made = lean.lean_copy(sample.docx, folder)
            copy = made.path.rename(folder / f"{sample.docx.stem} (lean){sample.docx.suffix}")
            outdir = folder / "out"
            result = self._soffice(
                [sample.docx, copy],
                outdir,
                profile,
                export,
                timeout=RUN_SECONDS + SECONDS_PER_LETTER * 2,
            )
            original, leaner = outdir / f"{sample.docx.stem}.pdf", outdir / f"{copy.stem}.pdf"
            if result.returncode != 0 or not is_pdf(original) or not is_pdf(leaner):
                return False  # not known: converted as they are, and checked again next time
            try:
                finished = finish_pdf(leaner, self.pdf, sample.pdf_title(), made.chart)
            except (pikepdf.PdfError, ValueError) as error:
                found: str | None = f"the copy's PDF could not be finished ({error})"
            else:
                found = difference(finished, original, Margins.of(sample.docx))
        except (OSError, zipfile.BadZipFile, etree.XMLSyntaxError):
            return False
        finally:
            work.profiles.put(profile)
        verdict = new_verdict({sample.pdf.name: found}, self.version())
        self.verdicts.put(key, verdict)
        if found:
            log.info("converting with every style: %s", found)
        return verdict.same

    def _convert_together(self, documents: list[list[ConversionJob]], work: Work) -> None:
        """Convert each of `documents` (letters) as one document, all in one LibreOffice run
        (or a few, for many letters), each split into its letters as soon as it is done."""
        profile = work.profiles.get()
        try:
            folder = work.folder(documents[0][0].pdf.parent)
            combined: dict[Path, Document] = {}
            for number, letters in enumerate(documents):
                document = folder / f"letters-{number:05d}.docx"
                try:
                    together = combine_letters([job.docx for job in letters])
                    document.write_bytes(together.data)
                except CANNOT_COMBINE as error:
                    log.info("converting one at a time: cannot combine letters (%s)", error)
                    work.later(letters)
                    continue
                combined[document] = Document(letters, together.charts)
            pending = list(combined)
            while pending:
                run, pending = take_run(
                    pending, lambda d: len(combined[d].letters), LETTERS_PER_RUN
                )

                def made(document: Path, pdf: Path) -> None:
                    work.split(self._cut, combined[document], document, pdf, work)

                converted, _ = self._export(
                    run,
                    sum(len(combined[d].letters) for d in run),
                    profile,
                    folder / "out",
                    made,
                    export_filter(self.pdf, destinations=True),
                )
                failed = [document for document in run if document not in converted]
                if failed:
                    # The first may be what stopped LibreOffice: its letters go one at a time,
                    # and any after it get another run.
                    log.info("converting one at a time: LibreOffice did not convert %s", failed[0])
                    work.later(combined[failed[0]].letters)
                    pending[:0] = failed[1:]
        finally:
            work.profiles.put(profile)

    def _export(
        self,
        documents: list[Path],
        letters: int,
        profile: Path,
        outdir: Path,
        made: Callable[[Path, Path], None],
        target: str,
    ) -> tuple[set[Path], str]:
        """Convert `documents` (`letters` in all) in one LibreOffice run into `outdir`, calling
        `made(document, pdf)` as soon as each one's PDF is finished: those that were converted,
        and why the others were not."""
        checked: set[Path] = set()
        converted: set[Path] = set()
        begun: list[Path] = []  # in the order LibreOffice began them
        names = {document.name: document for document in documents}

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
            document = _named(line, names)
            if document is None or document in begun:
                return
            if begun:
                finished(begun[-1])
            begun.append(document)

        result = self._soffice(
            documents,
            outdir,
            profile,
            target,
            timeout=RUN_SECONDS + SECONDS_PER_LETTER * letters,
            on_line=said,
        )
        reason = _reason(result, begun[-1] if begun else None)
        if result.returncode == 0:
            # It ended as it should: whatever it made is whole, said or not (LibreOffice on
            # Windows says nothing).
            for document in documents:
                if document not in checked:
                    finished(document)
        else:
            # Stopped in the middle of the last one it began, whose PDF may be cut short.
            log.info("LibreOffice stopped: %s", reason)
        return converted, reason

    def _cut(self, document: Document, path: Path, pdf: Path, work: Work) -> None:
        """Cut a combined PDF into its letters; if it cannot be, they go one at a time."""
        letters = document.letters
        try:
            pdfs = self.split(pdf, [job.pdf_title() for job in letters], self.pdf, document.charts)
        except CANNOT_CUT as error:
            log.info("converting one at a time: cannot split the PDF (%s)", error)
            work.later(letters)
            return
        finally:
            pdf.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
        for job, letter in zip(letters, pdfs, strict=True):
            converted = ConversionResult(
                job, pages=letter.pages, together=True, check=self._checks[job]
            )
            put_pdf(converted, letter.data, work.report)

    def _convert_stream(self, stream: Stream, run: list[Path], work: Work) -> None:
        """Convert a run of a stream's documents as they are written: each LibreOffice run is
        given the documents already written, from the first on (it opens them one by one, and
        one written later would be missed), and is started again for the next ones. Merging
        a letter takes a tenth of the time converting it does, so after the first document
        most are written long before LibreOffice needs them. Each is split as soon as it is
        done."""
        profile = work.profiles.get()
        try:
            pending = list(run)
            while pending:
                stream.ready[pending[0]].wait()
                written = list(itertools.takewhile(lambda d: stream.ready[d].is_set(), pending))
                pending = pending[len(written) :]
                if stream.arrivals.cancelled:
                    return  # the build stopped: nothing more is converted
                # (a document none of whose letters was written, or went together, holds none)
                documents = [
                    d for d in written if d in stream.combined and stream.combined[d].letters
                ]
                if not documents:
                    continue

                def made(document: Path, pdf: Path) -> None:
                    work.split(self._cut, stream.combined[document], document, pdf, work)

                converted, _ = self._export(
                    documents,
                    sum(len(stream.combined[document].letters) for document in documents),
                    profile,
                    documents[0].parent / "out",
                    made,
                    export_filter(self.pdf, destinations=True),
                )
                with work.lock:
                    stream.failed += [d for d in documents if d not in converted]
        finally:
            work.profiles.put(profile)

    def _convert_alone(self, chunk: Sequence[ConversionJob], work: Work) -> None:
        """Convert each letter of `chunk` as a document of its own, all in one LibreOffice run
        (a LibreOffice already running for every letter after the first, never a start per
        letter). Should LibreOffice stop on a letter, it is tried once more in a run of its
        own, and the letters after it get another run."""
        profile = work.profiles.get()
        try:
            sources = self._sources(chunk, work)
            by_source = {source: job for job, source in sources.items()}
            runs: deque[list[ConversionJob]] = deque([list(chunk)])
            while runs:
                run = runs.popleft()

                def made(source: Path, pdf: Path) -> None:
                    self._finish(by_source[source], pdf, work)

                converted, reason = self._export(
                    [sources[job] for job in run],
                    len(run),
                    profile,
                    work.folder(run[0].pdf.parent),
                    made,
                    export_filter(self.pdf),
                )
                failed = [job for job in run if sources[job] not in converted]
                if not failed:
                    continue
                if len(run) == 1:
                    work.report(ConversionResult(failed[0], reason))
                    continue
                # One bad letter may have stopped LibreOffice for those after it.
                if failed[1:]:
                    runs.appendleft(failed[1:])
                runs.appendleft(failed[:1])
        finally:
            work.profiles.put(profile)

    def _sources(self, chunk: Sequence[ConversionJob], work: Work) -> dict[ConversionJob, Path]:
        """What LibreOffice converts for each letter: its copy with only the styles it uses
        where its family's check allows (see _lean_holds), else its own .docx."""
        folder: Path | None = None
        sources = {}
        for job in chunk:
            sources[job] = job.docx
            if job not in self._lean:
                continue
            folder = folder or work.folder(job.pdf.parent)
            with contextlib.suppress(OSError, zipfile.BadZipFile, etree.XMLSyntaxError):
                made = lean.lean_copy(job.docx, folder)
                sources[job] = made.path
                if made.chart is not None:
                    self._charts[job] = made.chart
        return sources

    def _finish(self, job: ConversionJob, made: Path, work: Work) -> None:
        chart = self._charts.get(job)
        try:
            data = finish_pdf(made, self.pdf, job.pdf_title(), chart)
        except (pikepdf.PdfError, ValueError, OSError, zipfile.BadZipFile, KeyError) as error:
            if chart is None:
                work.report(ConversionResult(job, f"its PDF could not be finished ({error})"))
                return
            # Converted from a copy whose chart could not be put in: again from its own .docx
            log.info("converting from its own .docx: %s", error)
            self._lean.discard(job)
            self._charts.pop(job, None)
            work.later([job])
            return
        finally:
            made.unlink(missing_ok=True)
        put_pdf(ConversionResult(job), data, work.report)

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
        self.version()  # (which decides the environment)
        return self.run(
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
            env=self._environment,
        )


def _reason_not_to_combine(rule: Callable[[Path], str | None], docx: Path) -> str:
    try:
        return rule(docx) or ""
    except (OSError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return ""  # combining says why, and then the letters go one at a time


def _named(line: str, names: dict[str, Path]) -> Path | None:
    """The document a line of LibreOffice's names: 'convert /…/<name> -> …'."""
    source = line.removeprefix("convert ").split(" -> ", 1)[0]
    return names.get(Path(source.strip()).name)


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
