"""A small-scale run of the benchmark script, so that `make bench` keeps working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.libreoffice, pytest.mark.bench]

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_runs_and_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| run | letters"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("| "))
    table = lines[start:end]
    assert table[0].startswith("| run | letters | wall time")
    runs = [line.split(" | ")[0].lstrip("| ") for line in table[2:]]
    assert runs == [
        "sample: merge only, charts drawn",
        "sample: merge only, charts cached",
        "sample: merge + PDF, charts drawn",
        "sample: merge + PDF, plain PDF",
        "sample: merge + PDF, charts cached",
        "sample: rebuild, nothing changed",
        "per letter through persistent LibreOffice, UNO (4 measured)",
        "sample: rebuild, one contact changed",
        "baseline: one LibreOffice start per letter (2 measured)",
        "Word features, first build (checks once): all of these",
        "Word features: none (the default template)",
        "Word features: all of these",
        "60 rows: merge only, charts drawn",
        "60 rows: merge + PDF, charts cached",
    ]
    assert any(line.startswith("60 rows took ") for line in lines)
    # The bars, each measured in this same run and judged.
    bars = [
        line
        for line in lines
        if line.startswith("| ") and line.rstrip(" |").endswith(("met", "missed"))
    ]
    assert [bar.split(" | ")[0].lstrip("| ") for bar in bars] == [
        "accessible / plain PDF: at most 1.15×",
        "one LibreOffice start per letter / accessible: at least 30×",
        "343 letters in at most 8 s",
        "per letter through UNO / accessible: at least 2.5×",
        "all of these / default template: at most 1.2×",
        "the check's one-time cost, all of these: under 3 s",
    ]
    assert all(bar.rstrip(" |").endswith(("met", "missed")) for bar in bars)
