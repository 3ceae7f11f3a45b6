"""Running other programs: a timeout that stops them, and following a long run as it speaks."""

from __future__ import annotations

import sys
import time

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
