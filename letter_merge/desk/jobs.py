"""The desk's long work (build, proof, send) run one at a time in a thread, with its progress
kept where the page can read it, so that a reload finds the job still running.

A job is one of the library's own functions; the desk adds no rule of its own. Sending can be
paused between messages: the progress callback waits while the job is paused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from letter_merge.errors import LetterMergeError

RUNNING, PAUSED, DONE, FAILED = "running", "paused", "done", "failed"


class Busy(LetterMergeError):
    """Another job is running: one at a time."""


@dataclass
class Job:
    number: int
    kind: str  # "build", "proof", "send", "test send"
    state: str = RUNNING
    stage: str = ""
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: dict[str, Any] = field(default_factory=dict)  # what the page shows when done
    error: str = ""

    def view(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "kind": self.kind,
            "state": self.state,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "seconds": round((self.finished or time.time()) - self.started, 1),
            "result": self.result,
            "error": self.error,
        }


# A job's work: given a progress callback, returns what the page shows when it is done.
Work = Callable[[Callable[[str, int, int], None]], dict[str, Any]]


class Jobs:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._current: Job | None = None
        self._count = 0

    def current(self) -> dict[str, Any] | None:
        with self._lock:
            return self._current.view() if self._current else None

    def version(self) -> tuple[int, str, int, str]:
        """Changes whenever anything the page shows of the job changes."""
        with self._lock:
            return self._version_unlocked()

    def start(self, kind: str, work: Work) -> dict[str, Any]:
        with self._lock:
            if self._current is not None and self._current.state in (RUNNING, PAUSED):
                raise Busy(
                    f"The {self._current.kind} is still running; wait for it to finish "
                    "(one long job at a time)."
                )
            self._count += 1
            job = Job(self._count, kind)
            self._current = job
        threading.Thread(target=self._run, args=(job, work), daemon=True).start()
        return job.view()

    def _run(self, job: Job, work: Work) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            with self._lock:
                job.stage, job.done, job.total = stage, done, total
                self._lock.notify_all()
                while job.state == PAUSED:  # between two steps: nothing is half done
                    self._lock.wait()

        try:
            result = work(progress)
            with self._lock:
                job.result, job.state = result, DONE
        except LetterMergeError as error:
            with self._lock:
                job.error, job.state = str(error), FAILED
        except Exception as error:  # a bug: say so on the page rather than hang the job
            with self._lock:
                job.error, job.state = f"Something went wrong: {error!r}", FAILED
        finally:
            with self._lock:
                job.finished = time.time()
                self._lock.notify_all()

    def pause(self) -> None:
        with self._lock:
            if self._current is not None and self._current.state == RUNNING:
                self._current.state = PAUSED
                self._lock.notify_all()

    def resume(self) -> None:
        with self._lock:
            if self._current is not None and self._current.state == PAUSED:
                self._current.state = RUNNING
                self._lock.notify_all()

    def wait_for_change(self, seen: tuple[int, str, int, str], timeout: float) -> None:
        """Block (in a worker thread) until the job changes from `seen`, or `timeout`."""
        with self._lock:
            self._lock.wait_for(lambda: self._version_unlocked() != seen, timeout=timeout)

    def _version_unlocked(self) -> tuple[int, str, int, str]:
        job = self._current
        return (job.number, job.state, job.done, job.stage) if job else (0, "", 0, "")
