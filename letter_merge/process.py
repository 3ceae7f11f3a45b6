"""The one place letter-merge starts another program or process (LibreOffice, its UNO worker,
Word's worker, the file manager; the worker pools that draw charts and read PDFs).

Always an argument list and no shell, always a timeout, and the program's output kept for the
error message. On timeout the whole process tree is killed: LibreOffice's launcher leaves its real
worker process behind otherwise. Each program runs in a process group of its own (a new session on
Linux and macOS, a new process group on Windows) so that it can be ended with everything it
started. This module needs nothing but the standard library: LibreOffice's UNO worker, which runs
under LibreOffice's own Python, uses it too.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

try:  # every process's children, on every system; absent under LibreOffice's own Python
    import psutil as _psutil
except ImportError:  # pragma: no cover
    _psutil = None  # type: ignore[assignment,unused-ignore]

log = logging.getLogger(__name__)

# Programs running now, so that Ctrl-C can stop them at once: they run in sessions of their own
# (so that a timeout can kill LibreOffice's whole process tree), which the terminal's Ctrl-C
# does not reach.
_running: set[subprocess.Popen[Any]] = set()
_running_lock = threading.Lock()
_stopping = threading.Event()


class ProgramsStopped(Exception):
    """No program may start: the run is being stopped (Ctrl-C)."""


STOP_GRACE_SECONDS = 3.0


def worker_pool(
    workers: int, initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = ()
) -> WorkerPool:
    """Python processes for work that cannot share one process (pdfium reads one PDF at a time
    in a process) or is worth spreading over every core (drawing charts); each runs
    `initializer(*initargs)` as it starts. Each starts afresh ('spawn'), as on Windows and macOS,
    everywhere: a copy of a process with threads running (the desk's) can hang. Ctrl-C is the
    parent's to handle: the workers ignore it, and leaving the pool's `with` block by an
    exception (Ctrl-C) stops them without waiting for the rest of the work."""
    return WorkerPool(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(initializer, initargs),
    )


class WorkerPool(ProcessPoolExecutor):
    """A process pool that, left by an exception, cancels what has not started and does not
    wait for what has."""

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        if error is None:
            return super().__exit__(kind, error, traceback)
        self.shutdown(wait=False, cancel_futures=True)
        return False


def _start_worker(initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)


def stop_all_programs() -> None:
    """End every program started here that is still running, with what each started, and start
    no more. Each is asked first (LibreOffice's UNO worker then ends its LibreOffice), and
    killed after STOP_GRACE_SECONDS."""
    _stopping.set()
    with _running_lock:
        running = list(_running)
    for process in running:
        ask_to_end(process)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        kill_tree(process)  # the group: what it started may outlive it


def allow_programs() -> None:
    """Let programs start again after stop_all_programs: a new run in the same process."""
    _stopping.clear()


@dataclass(frozen=True)
class ProgramResult:
    args: tuple[str, ...]
    returncode: int | None  # None: killed after the timeout
    output: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run_program(
    args: Sequence[str | Path],
    *,
    timeout: float,
    cwd: Path | None = None,
    on_line: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> ProgramResult:
    """Run a program to completion (or until `timeout` seconds), capturing its output; in the
    environment `env` (None: this one).

    With `on_line`, each line of output is handed to it as it comes, and `timeout` counts from
    the program's last line instead of its start: a long run that keeps saying what it does is
    not stopped, one that falls silent is."""
    argv = tuple(str(a) for a in args)
    if _stopping.is_set():
        raise ProgramsStopped(f"not starting {Path(argv[0]).name}: the run is being stopped")
    log.debug("running %s", argv)
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **_OWN_GROUP,
    )
    _keep_track(process, argv[0])
    try:
        if on_line is not None:
            output, returncode = _follow(process, timeout, on_line)
        else:
            try:
                output, _ = process.communicate(timeout=timeout)
                returncode = process.returncode
            except subprocess.TimeoutExpired:
                kill_tree(process)
                output, _ = process.communicate()
                returncode = None
    except BaseException:  # Ctrl-C while waiting: the program must not outlive us
        kill_tree(process)
        with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
            if process.stdout is not None:
                process.stdout.close()
            process.wait(timeout=STOP_GRACE_SECONDS)  # reaped, not left a zombie
        raise
    finally:
        with _running_lock:
            _running.discard(process)
    text = output.decode("utf-8", errors="replace")
    log.debug("%s exited %s: %s", argv[0], returncode, text.strip())
    return ProgramResult(argv, returncode, text)


def _follow(
    process: subprocess.Popen[bytes], quiet_seconds: float, on_line: Callable[[str], None]
) -> tuple[bytes, int | None]:
    """Read the program's output line by line until it ends, killing it after `quiet_seconds`
    without a line; its output, and its exit code (None: killed)."""
    assert process.stdout is not None
    heard = threading.Event()  # a line came: the watch starts again
    ended = threading.Event()
    silent = threading.Event()

    def watch() -> None:
        while not ended.is_set():
            if heard.wait(quiet_seconds):
                heard.clear()
            elif not ended.is_set():
                # The whole group: soffice.bin may hold the output open after its launcher ended.
                silent.set()
                kill_tree(process)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    lines = []
    try:
        for raw in process.stdout:
            lines.append(raw)
            heard.set()
            on_line(raw.decode("utf-8", errors="replace"))
        process.wait()
    finally:
        ended.set()
        heard.set()
        process.stdout.close()
    return b"".join(lines), None if silent.is_set() else process.returncode


# A process group of its own, so that the program can be ended with everything it started.
_OWN_GROUP: dict[str, Any] = (
    {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined,unused-ignore]
    if sys.platform == "win32"
    else {"start_new_session": True}
)


def start_program(
    args: Sequence[str | Path], *, talk: bool = False, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start a program that stays running (LibreOffice, its UNO worker) in a process group of
    its own, in the environment `env` (None: this one). With `talk`, its stdin and stdout are
    pipes of text lines; otherwise both are closed. Ctrl-C (stop_all_programs) ends it; end it
    with `end_program`."""
    argv = [str(a) for a in args]
    if _stopping.is_set():
        raise ProgramsStopped(f"not starting {Path(argv[0]).name}: the run is being stopped")
    log.debug("starting %s", argv)
    pipe = subprocess.PIPE if talk else subprocess.DEVNULL
    process = subprocess.Popen(
        argv,
        env=env,
        stdin=pipe,
        stdout=pipe,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        **_OWN_GROUP,
    )
    _keep_track(process, argv[0])
    return process


def _keep_track(process: subprocess.Popen[Any], program: str) -> None:
    """Count a program just started among those stop_all_programs ends; if that ran while the
    program was starting (and so did not see it), end it now."""
    with _running_lock:
        _running.add(process)
        stopping = _stopping.is_set()
    if stopping:
        kill_tree(process)
        with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
            process.communicate(timeout=STOP_GRACE_SECONDS)
        with _running_lock:
            _running.discard(process)
        raise ProgramsStopped(f"not running {Path(program).name}: the run is being stopped")


def end_program(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Wait up to `grace` seconds for `process` to end by itself (after being asked to), then
    kill it and everything it started."""
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        kill_tree(process)
        process.wait()
    finally:
        with _running_lock:
            _running.discard(process)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError, ValueError):
                    pipe.close()


def kill_tree(process: subprocess.Popen[Any]) -> None:
    """Kill `process` and every process it started, now, on every system."""
    family = _descendants(process.pid)  # before the parent goes, while they are linked to it
    if sys.platform != "win32":
        # Its session's group too: a launcher's worker may have been handed to init already.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    elif not family and _psutil is None:
        # No psutil (LibreOffice's own Python runs the UNO worker): Windows' taskkill follows
        # the parent links instead.
        subprocess.run(
            ["taskkill", "/PID", str(process.pid), "/T", "/F"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
    for child in family:
        with contextlib.suppress(Exception):  # psutil.Error: it ended meanwhile, or is not ours
            child.kill()
    with contextlib.suppress(OSError):
        process.kill()


def end_strays(marker: str) -> list[int]:
    """End every process of this user with `marker` as one of its arguments (LibreOffice's
    -env:UserInstallation=<profile>), with what it started: one a killed or hung run left behind, which
    would otherwise take the next run's work for itself and hold it. Its pids, for the message.
    Without psutil, nothing is known and nothing is ended."""
    if _psutil is None:
        return []
    ended = []
    for found in _psutil.process_iter(["pid", "cmdline"]):
        try:
            words = found.info.get("cmdline") or []
            if found.pid == os.getpid() or marker not in words:
                continue
            for child in found.children(recursive=True):
                with contextlib.suppress(_psutil.Error):
                    child.kill()
            found.kill()
            found.wait(timeout=STOP_GRACE_SECONDS)
            ended.append(found.pid)
        except _psutil.Error:  # ended meanwhile, or not ours to end
            continue
    return ended


def _descendants(pid: int) -> list[Any]:
    """The processes `pid` started, and theirs, as psutil.Process (none known without psutil).
    psutil checks each one's start time before killing it: a number the system has given to a
    new process since is left alone."""
    if _psutil is None:
        return []
    try:
        return list(_psutil.Process(pid).children(recursive=True))
    except _psutil.Error:
        return []


def ask_to_end(process: subprocess.Popen[Any]) -> None:
    """Ask `process` and everything it started to end (SIGTERM to its group; on Windows, where
    there is no asking, kill the tree)."""
    if sys.platform == "win32":
        kill_tree(process)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)


def open_folder(folder: Path) -> bool:
    """Show `folder` in the system's file manager (Explorer, Finder, the desktop's own); False
    when there is none."""
    if sys.platform == "win32":
        try:
            os.startfile(folder)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        process = subprocess.Popen(
            [opener, str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return False
    threading.Thread(target=process.wait, daemon=True).start()  # reaped when it ends
    return True


def open_in_browser(address: str) -> bool:
    """Open `address` in the user's web browser (the desk, as it starts)."""
    import webbrowser

    return webbrowser.open(address)
