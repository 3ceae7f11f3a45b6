"""Run one letter-merge command in this process and print its wall time and peak memory as JSON.

Used by bench.py so that each measured build has a process (and a peak RSS) of its own.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from letter_merge.cli import cli

# Peak memory from getrusage, which Windows lacks: the benchmark runs on Linux (and macOS).
assert sys.platform != "win32", "the benchmark measures memory with getrusage: not on Windows"


def main() -> None:
    started = time.perf_counter()
    try:
        cli.main(sys.argv[1:], prog_name="letter-merge", standalone_mode=False)
    finally:
        seconds = time.perf_counter() - started
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(json.dumps({"seconds": seconds, "rss_mb": own, "converter_rss_mb": children}))


if __name__ == "__main__":
    main()
