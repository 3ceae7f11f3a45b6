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
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| run | letters | wall time")
    runs = [line.split(" | ")[0].lstrip("| ") for line in table[2:]]
    assert runs == [
        "sample: merge only, charts drawn",
        "sample: merge only, charts cached",
        "sample: merge + PDF, charts drawn",
        "sample: merge + PDF, charts cached",
        "sample: rebuild, nothing changed",
        "sample: rebuild, one contact changed",
        "baseline: one LibreOffice start per letter (2 measured)",
        "60 rows: merge only, charts drawn",
        "60 rows: merge + PDF, charts cached",
    ]
    assert any(line.startswith("60 rows took ") for line in lines)
