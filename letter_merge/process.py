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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgramResult:
    args: tuple[str, ...]
    returncode: int | None  # None: killed after the timeout
    output: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run_program(
    args: Sequence[str | Path], *, timeout: float, cwd: Path | None = None
) -> ProgramResult:
    """Run a program to completion (or until `timeout` seconds), capturing its output."""
    argv = tuple(str(a) for a in args)
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
    try:
        output, _ = process.communicate(timeout=timeout)
        returncode: int | None = process.returncode
    except subprocess.TimeoutExpired:
        _kill(process, posix)
        output, _ = process.communicate()
        returncode = None
    text = output.decode("utf-8", errors="replace")
    log.debug("%s exited %s: %s", argv[0], returncode, text.strip())
    return ProgramResult(argv, returncode, text)


def _kill(process: subprocess.Popen[bytes], posix: bool) -> None:
    if posix:
        with contextlib.suppress(ProcessLookupError):  # it ended by itself meanwhile
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
