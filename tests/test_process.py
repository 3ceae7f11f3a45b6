"""Running other programs: a timeout that stops them, and following a long run as it speaks."""

from __future__ import annotations

import ast
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from letter_merge import process
from letter_merge.process import run_program


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_program_that_takes_too_long_is_stopped() -> None:
    started = time.monotonic()
    result = run_program(python("import time; time.sleep(30)"), timeout=0.5)
    assert result.timed_out
    assert time.monotonic() - started < 10


def test_each_line_is_handed_over_as_it_comes() -> None:
    seen: list[tuple[str, float]] = []
    code = "import time\nfor n in range(3):\n    print('line', n, flush=True)\n    time.sleep(0.4)"
    started = time.monotonic()
    result = run_program(
        python(code), timeout=10, on_line=lambda line: seen.append((line, time.monotonic()))
    )
    assert result.returncode == 0 and not result.timed_out
    assert [line.strip() for line, _ in seen] == ["line 0", "line 1", "line 2"]
    # the first line arrived while the program was still running, not when it ended
    assert seen[0][1] - started < time.monotonic() - started - 0.6
    assert result.output.splitlines() == ["line 0", "line 1", "line 2"]


def test_a_run_that_keeps_speaking_may_take_longer_than_its_timeout() -> None:
    # 5 lines 0.3 s apart: 1.5 s in all, more than the 1 s allowed between two lines.
    code = "import time\nfor n in range(5):\n    time.sleep(0.3)\n    print(n, flush=True)"
    result = run_program(python(code), timeout=1.0, on_line=lambda line: None)
    assert result.returncode == 0
    assert result.output.split() == ["0", "1", "2", "3", "4"]


def test_a_run_that_falls_silent_is_stopped() -> None:
    code = "import time\nprint('starting', flush=True)\ntime.sleep(30)"
    started = time.monotonic()
    result = run_program(python(code), timeout=0.5, on_line=lambda line: None)
    assert result.timed_out
    assert result.output.strip() == "starting"
    assert time.monotonic() - started < 10


def alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped by its parent, has ended)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# A program that starts another and prints that one's process id, as soffice starts soffice.bin.
PARENT_OF_ONE = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],\n"
    "                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_timeout_stops_what_the_program_started_too() -> None:
    pids: list[int] = []
    started = time.monotonic()
    result = run_program(
        python(PARENT_OF_ONE), timeout=1.0, on_line=lambda line: pids.append(int(line))
    )
    assert result.timed_out and len(pids) == 1
    assert wait_until(lambda: not alive(pids[0])), "the grandchild outlived the timeout"
    assert time.monotonic() - started < 15


def test_stopping_the_run_ends_programs_kept_running_and_theirs() -> None:
    kept = process.start_program(python(PARENT_OF_ONE), talk=True)
    assert kept.stdout is not None
    grandchild = int(kept.stdout.readline())
    started = time.monotonic()
    try:
        process.stop_all_programs()
        assert kept.poll() is not None
        assert wait_until(lambda: not alive(grandchild))
        assert time.monotonic() - started < process.STOP_GRACE_SECONDS + 5
        with pytest.raises(process.ProgramsStopped):  # and nothing more starts
            process.start_program(python("print(1)"))
    finally:
        process.allow_programs()  # the next run (the next test) may start programs again
        process.end_program(kept)
    process.end_program(process.start_program(python("print(1)")))


def test_a_program_starting_as_the_run_is_stopped_is_stopped_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C between the check that programs may start and the program being counted among
    those to stop: stop_all_programs did not see it, so it is ended as soon as it is counted."""
    real_popen = subprocess.Popen
    started: list[psutil.Process] = []

    def stopped_meanwhile(*args: Any, **kwargs: Any) -> Any:
        program = real_popen(*args, **kwargs)
        started.append(psutil.Process(program.pid))
        process.stop_all_programs()  # before the program is counted
        return program

    monkeypatch.setattr(subprocess, "Popen", stopped_meanwhile)
    try:
        with pytest.raises(process.ProgramsStopped):
            run_program(python("import time; time.sleep(60)"), timeout=120)
        assert not started[0].is_running() or started[0].status() == psutil.STATUS_ZOMBIE
    finally:
        process.allow_programs()


def test_a_program_kept_running_is_ended_when_done_with() -> None:
    kept = process.start_program(python("import sys; sys.stdin.readline()"), talk=True)
    assert kept.stdin is not None
    kept.stdin.write("\n")
    kept.stdin.flush()
    process.end_program(kept, grace=10)
    assert kept.returncode == 0
    stubborn = process.start_program(python("import time; time.sleep(60)"))
    started = time.monotonic()
    process.end_program(stubborn, grace=0.2)  # does not end by itself: killed
    assert stubborn.returncode is not None and time.monotonic() - started < 10


# Ways Python starts another program or process. Only process.py may use them (and the Word
# worker, which is run by it, docx2pdf): anywhere else a program would start without the timeout,
# the kill of its whole tree, and Ctrl-C's reach.
STARTING_MODULES = (
    "subprocess",
    "multiprocessing",
    "concurrent.futures.process",
    "asyncio.subprocess",
    "pty",
    "webbrowser",
    "docx2pdf",
)
STARTING_NAMES = re.compile(
    r"ProcessPoolExecutor|create_subprocess_(exec|shell)|subprocess_(exec|shell)"
)
STARTING_IN_OS = re.compile(r"system|popen|startfile|fork|forkpty|(posix_)?spawn\w*|exec\w*")
ALLOWED = {"pdf/word_worker.py": {"docx2pdf"}}


def program_starts(source: str, allowed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """What in `source` starts a program or a process, each as 'line: what'."""

    def starting_module(name: str) -> str | None:
        for module in STARTING_MODULES:
            if (name == module or name.startswith(f"{module}.")) and module not in allowed:
                return module
        return None

    found = []
    for node in ast.walk(ast.parse(source)):
        what = None
        if isinstance(node, ast.Import):
            what = next(filter(None, (starting_module(a.name) for a in node.names)), None)
        elif isinstance(node, ast.ImportFrom) and node.module:
            what = starting_module(node.module) or next(
                (
                    f"{node.module}.{a.name}"
                    for a in node.names
                    if starting_module(f"{node.module}.{a.name}")
                    or STARTING_NAMES.fullmatch(a.name)
                    or (node.module == "os" and STARTING_IN_OS.fullmatch(a.name))
                ),
                None,
            )
        elif isinstance(node, ast.Attribute):
            if STARTING_NAMES.fullmatch(node.attr) or (
                isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and STARTING_IN_OS.fullmatch(node.attr)
            ):
                what = ast.unparse(node)
        elif isinstance(node, ast.Name) and STARTING_NAMES.fullmatch(node.id):
            what = node.id
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("__import__", "importlib.import_module", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            what = starting_module(node.args[0].value)
        if what:
            found.append(f"{getattr(node, 'lineno', 0)}: {what}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import subprocess",
        "from subprocess import run",
        "import multiprocessing.pool",
        "from multiprocessing import get_context",
        "from concurrent.futures import ProcessPoolExecutor",
        "import concurrent.futures\nconcurrent.futures.ProcessPoolExecutor(2)",
        "from concurrent.futures.process import BrokenProcessPool",
        "from docx2pdf import convert",
        "import docx2pdf",
        "importlib.import_module('docx2pdf')",
        "__import__('subprocess')",
        "import os\nos.system('ls')",
        "os.popen('ls')",
        "os.spawnv(os.P_WAIT, 'ls', ['ls'])",
        "os.execvp('ls', ['ls'])",
        "os.startfile('letter.pdf')",
        "os.posix_spawn('ls', ['ls'], {})",
        "from os import system",
        "import asyncio\nasyncio.create_subprocess_exec('ls')",
        "from asyncio import create_subprocess_shell",
        "loop.subprocess_exec(Protocol, 'ls')",
        "import webbrowser",
    ],
)
def test_the_program_start_check_finds(source: str) -> None:
    assert program_starts(source) != [], source


def test_the_program_start_check_leaves_alone_what_starts_nothing() -> None:
    source = (
        "import os, asyncio, sqlite3\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "cursor.execute('SELECT 1')\n"
        "os.path.join('a', 'b')\n"
        "asyncio.to_thread(print)\n"
        "message = 'pip install docx2pdf; python -m subprocess'\n"
    )
    assert program_starts(source) == []


def test_only_process_py_starts_programs() -> None:
    package = Path(process.__file__).parent
    found = [
        f"{name}:{start}"
        for path in sorted(package.rglob("*.py"))
        for name in [path.relative_to(package).as_posix()]
        if name != "process.py"
        for start in program_starts(
            path.read_text(encoding="utf-8"), ALLOWED.get(name, frozenset())
        )
    ]
    assert found == []


def test_a_libreoffice_left_holding_a_profile_is_ended_and_said(tmp_path: Path) -> None:
    """A stand-in for a LibreOffice a killed run left behind: a sleeping Python whose command
    line names the profile, as soffice.bin's does (-env:UserInstallation=file:///...)."""
    from letter_merge.pdf.runs import Profiles

    folder = tmp_path / "profiles"
    folder.mkdir()
    marker = f"-env:UserInstallation={(folder / 'profile-0').resolve().as_uri()}"
    stray = process.start_program([sys.executable, "-c", "import time; time.sleep(120)", marker])
    other = process.start_program([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        claimed = Profiles(folder, 1)
        with claimed as profiles:
            assert profiles.get_nowait() == folder / "profile-0"
        assert stray.wait(timeout=10) is not None  # ended
        assert other.poll() is None  # a program not using the profile is left alone
        (said,) = claimed.recovered
        assert f"(process {stray.pid}) still held the profile profile-0; it was stopped" in said
    finally:
        process.end_program(stray, grace=0)  # sleeping: nothing to wait for
        process.end_program(other, grace=0)


_greeting = ""


def _set_greeting(word: str) -> None:
    global _greeting
    _greeting = word


def _greet(name: str) -> str:
    return f"{_greeting}, {name}"


def test_a_worker_pool_sets_up_each_worker_and_ignores_ctrl_c_there() -> None:
    with process.worker_pool(2, _set_greeting, ("Hello",)) as pool:
        assert list(pool.map(_greet, ["Derby", "Leeds"])) == ["Hello, Derby", "Hello, Leeds"]
        assert pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN


def test_a_worker_pool_left_by_ctrl_c_does_not_wait_for_its_work() -> None:
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), process.worker_pool(1) as pool:
        running = pool.submit(time.sleep, 6)
        waiting = [pool.submit(time.sleep, 6) for _ in range(3)]
        wait_until(running.running)
        raise KeyboardInterrupt
    assert time.monotonic() - started < 5
    # what no worker has begun is cancelled (the pool hands one more to a worker ahead of time)
    assert wait_until(waiting[-1].cancelled)
