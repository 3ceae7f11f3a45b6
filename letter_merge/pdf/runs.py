"""How a LibreOffice conversion shares out its work: the profile folder each LibreOffice uses,
what the threads of one conversion share, letters cut into documents and documents into runs, and
the stream of documents made while their letters are still being written."""

from __future__ import annotations

import contextlib
import itertools
import logging
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue
from typing import TypeVar

from lxml import etree

from letter_merge.files import CONVERTING_PREFIX, DiskFull, FileInUse, try_lock, write_atomic
from letter_merge.pdf import startup
from letter_merge.pdf.combine import CombineError, combine_letters, look_at
from letter_merge.pdf.convert import Arrivals, ConversionJob, ResultCallback
from letter_merge.process import end_strays

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# What combining letters into a document and writing it may fail with: the letters then go
# one at a time.
CANNOT_COMBINE = (
    CombineError,
    OSError,
    zipfile.BadZipFile,
    etree.XMLSyntaxError,
    FileInUse,
    DiskFull,
)


class Profiles:
    """One LibreOffice profile folder per worker: kept in `folder` between runs when given (and
    not in use by another run at the same moment), otherwise temporary; each recording
    LibreOffice's `release` as seen (startup.py)."""

    def __init__(self, folder: Path | None, workers: int, release: str | None = None) -> None:
        self.folder = folder
        self.workers = workers
        self.release = release
        self.recovered: list[str] = []  # what was found and put right, for the run's notices
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
            startup.record_seen(profile, self.release)
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
        profile = self.folder / f"profile-{number}"
        # No other run holds it, so a LibreOffice still using it was left by one that was
        # killed or hung: it would take this run's documents and hold them. End it.
        stray = end_strays(f"-env:UserInstallation={profile.resolve().as_uri()}")
        if stray:
            self.recovered.append(
                f"a LibreOffice left running by an earlier run (process {', '.join(map(str, stray))}) "
                f"still held the profile {profile.name}; it was stopped, and the profile used again"
            )
        return profile


@dataclass
class Work:
    """What the threads of one conversion share."""

    profiles: Queue[Path]
    splitter: ThreadPoolExecutor
    report: ResultCallback
    splits: list[Future[None]] = field(default_factory=list)
    alone: list[ConversionJob] = field(default_factory=list)  # to convert one at a time after all
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


def even_chunks(
    jobs: list[ConversionJob], workers: int, chunk_size: int
) -> list[list[ConversionJob]]:
    """Even chunks, none larger than `chunk_size`, as many as make each worker the same number
    (where there are jobs enough)."""
    if not jobs:
        return []
    count = -(-len(jobs) // chunk_size)
    count = min(-(-count // workers) * workers, len(jobs))
    size = -(-len(jobs) // count)
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


def take_run(
    pending: list[_T], size: Callable[[_T], int], letters_per_run: int
) -> tuple[list[_T], list[_T]]:
    """The first documents of `pending` up to about `letters_per_run` letters, and the rest."""
    run: list[_T] = []
    letters = 0
    while pending and (not run or letters < letters_per_run):
        item = pending.pop(0)
        run.append(item)
        letters += size(item)
    return run, pending


@dataclass(frozen=True)
class Document:
    """A combined document's letters, in order, and their charts (see combine.Combined)."""

    letters: list[ConversionJob]
    charts: list[bytes | None]


@dataclass
class Stream:
    """Letters converted together while they are still being written: the documents are planned
    from the letters to come, each document is written (in one go: LibreOffice finds all of it
    or nothing) as soon as its letters have arrived, and each worker's LibreOffice is given its
    documents as they are written (`ready`). After the first, that is far ahead of LibreOffice,
    which converts a letter in about 25 ms, where merging one takes about 3."""

    arrivals: Arrivals
    documents: list[Path]  # in the order their letters arrive
    letters: dict[Path, list[ConversionJob]]  # the letters planned for each document
    runs: list[list[Path]]  # each LibreOffice run's documents
    combined: dict[Path, Document] = field(default_factory=dict)  # what each holds, once known
    ready: dict[Path, threading.Event] = field(default_factory=dict)  # set once it is written
    failed: list[Path] = field(default_factory=list)  # documents LibreOffice did not convert

    @classmethod
    def plan(
        cls, arrivals: Arrivals, workers: int, folder: Path, per_document: int, per_run: int
    ) -> Stream:
        """Documents of up to `per_document` letters, runs of about `per_run`."""
        chunks = even_chunks(arrivals.jobs, workers, per_document)
        documents = [folder / f"letters-{number:05d}.docx" for number in range(len(chunks))]
        letters = dict(zip(documents, chunks, strict=True))
        # Each worker takes every workers-th document, so that every LibreOffice begins with
        # one of the first documents written; runs are submitted in turn for the same reason.
        per_worker: list[list[list[Path]]] = []
        for own in (documents[worker::workers] for worker in range(workers)):
            runs: list[list[Path]] = []
            while own:
                run, own = take_run(own, lambda document: len(letters[document]), per_run)
                runs.append(run)
            per_worker.append(runs)
        in_turn = [run for turn in itertools.zip_longest(*per_worker) for run in turn if run]
        ready = {document: threading.Event() for document in documents}
        return cls(arrivals, documents, letters, in_turn, ready=ready)

    def combine_all(self) -> list[ConversionJob]:
        """Write each document as soon as its letters have arrived, with the letters that go
        together with the first one written: the others (a letter unlike it, or that cannot
        go together), to be converted as any other letters are."""
        elsewhere: list[ConversionJob] = []
        signature: str | None = None
        try:
            for document in self.documents:
                kept: list[ConversionJob] = []
                for job in self.letters[document]:
                    if not self.arrivals.wait(job):
                        continue  # not written: it could not be made
                    try:
                        own, refusal = look_at(job.docx)
                    except (OSError, KeyError, zipfile.BadZipFile):
                        own, refusal = "", "unreadable"
                    signature = signature or own
                    (kept if own == signature and refusal is None else elsewhere).append(job)
                self.combined[document] = Document([], [])
                if kept:
                    try:
                        together = combine_letters([job.docx for job in kept])
                        # What it holds is known before LibreOffice can find it, and cut it.
                        self.combined[document] = Document(kept, together.charts)
                        write_atomic(document, together.data, durable=False)
                    except CANNOT_COMBINE as error:
                        log.info("converting on their own: cannot combine letters (%s)", error)
                        self.combined[document] = Document([], [])
                        elsewhere += kept
                self.ready[document].set()
        finally:  # nothing waits for a document that will not be written
            for event in self.ready.values():
                event.set()
        return elsewhere
