"""The one place letter-merge starts another program (LibreOffice, pdftoppm, ...).

Always an argument list and no shell, always a timeout, and the program's output kept for the
error message. On timeout the whole process group is killed: LibreOffice's launcher leaves its real
worker process behind otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Programs running now, so that Ctrl-C can stop them at once: they run in sessions of their own
# (so that a timeout can kill LibreOffice's whole process tree), which the terminal's Ctrl-C
# does not reach.
_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()
_stopping = threading.Event()


class ProgramsStopped(Exception):
    """No program may start: the run is being stopped (Ctrl-C)."""


def stop_all_programs() -> None:
    """Kill every program started here that is still running, and start no more."""
    _stopping.set()
    with _running_lock:
        running = list(_running)
    for process in running:
        _kill(process, sys.platform != "win32")


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
) -> ProgramResult:
    """Run a program to completion (or until `timeout` seconds), capturing its output.

    With `on_line`, each line of output is handed to it as it comes, and `timeout` counts from
    the program's last line instead of its start: a long run that keeps saying what it does is
    not stopped, one that falls silent is."""
    argv = tuple(str(a) for a in args)
    if _stopping.is_set():
        raise ProgramsStopped(f"not starting {Path(argv[0]).name}: the run is being stopped")
    log.debug("running %s", argv)
    posix = sys.platform != "win32"
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=posix,
    )
    with _running_lock:
        _running.add(process)
    try:
        if on_line is not None:
            output, returncode = _follow(process, timeout, on_line, posix)
        else:
            try:
                output, _ = process.communicate(timeout=timeout)
                returncode = process.returncode
            except subprocess.TimeoutExpired:
                _kill(process, posix)
                output, _ = process.communicate()
                returncode = None
    except BaseException:  # Ctrl-C while waiting: the program must not outlive us
        _kill(process, posix)
        raise
    finally:
        with _running_lock:
            _running.discard(process)
    text = output.decode("utf-8", errors="replace")
    log.debug("%s exited %s: %s", argv[0], returncode, text.strip())
    return ProgramResult(argv, returncode, text)


def _follow(
    process: subprocess.Popen[bytes],
    quiet_seconds: float,
    on_line: Callable[[str], None],
    posix: bool,
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
                _kill(process, posix)
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


def _kill(process: subprocess.Popen[bytes], posix: bool) -> None:
    if posix:
        with contextlib.suppress(ProcessLookupError):  # it ended by itself meanwhile
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
