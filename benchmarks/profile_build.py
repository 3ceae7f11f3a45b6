"""Where a build's time goes: one `build --force` of the 343-council sample, each of
letter-merge's steps timed by the CPU time of the thread doing it (render, combine, split, tag,
write, hash, record), with LibreOffice's CPU time beside it, and the floor those figures set on
this machine.

    python benchmarks/profile_build.py            # the sample, as `make run` builds it
    python benchmarks/profile_build.py --folder F # another working folder (a copy is used)

Each step is timed by wrapping the functions named below where the build looks them up, adding
up `time.thread_time()` over every call on every thread (a step inside another is counted in
both: the rows are what each step costs, not a partition). LibreOffice's is the CPU time of its
processes (getrusage of the children), so Linux or macOS.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from letter_merge import build as build_module
from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.config import load_settings
from letter_merge.pdf import lean, libreoffice, runs, split
from letter_merge.pdf.soffice import find_libreoffice
from letter_merge.template.render import LetterTemplate

assert sys.platform != "win32", "benchmarks/profile_build.py measures with getrusage"
ROOT = Path(__file__).resolve().parent.parent

# (row, where the build looks the function up, its name there)
STEPS: list[tuple[str, object, str]] = [
    ("merging: rendering each letter", LetterTemplate, "render"),
    ("merging: what each letter states, for the record", build_module, "read_letter"),
    (
        "merging: each letter in all (render, what it states, writing the .docx)",
        build_module,
        "_write_letter",
    ),
    ("combining letters into documents", libreoffice, "combine_letters"),
    # (the same row: letters combined while they are being merged, pdf/runs.py)
    ("combining letters into documents", runs, "combine_letters"),
    ("copies with only the styles used (letters one at a time)", lean, "lean_copy"),
    ("splitting the PDFs into letters, charts put in", libreoffice, "letter_pdfs"),
    ("  of which each letter's part of the structure tree", split._Blocks, "copy_into"),
    ("  of which mending and saving each letter", split, "save"),
    ("finishing letters converted one at a time", libreoffice, "finish_pdf"),
    ("writing PDFs in place", libreoffice, "put_pdf"),
    ("hashing files", build_module, "sha256_file"),
    ("recording the build (manifest, ledger)", build_module, "_record"),
]
SPENT: dict[str, float] = defaultdict(float)
LOCK = threading.Lock()


def timed(row: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            with LOCK:
                SPENT[row] += time.thread_time() - started

    return wrapper


def instrument() -> None:
    for row, owner, name in STEPS:
        setattr(owner, name, timed(row, getattr(owner, name)))
    # The converter's default split was bound when the class was defined.
    defaults = libreoffice.LibreOfficeConverter.__init__.__kwdefaults__ or {}
    defaults["split"] = libreoffice.letter_pdfs  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=ROOT, help="a working folder to copy")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="letter-merge-profile-") as scratch:
        folder = Path(scratch) / "work"
        folder.mkdir()
        for name in ("templates", "input"):
            shutil.copytree(options.folder / name, folder / name)
        shutil.copy(options.folder / "letter-merge.toml", folder / "letter-merge.toml")
        os.chdir(folder)
        # a first build: the charts, LibreOffice's profiles, the check of converting together
        subprocess.run(
            [sys.executable, "-m", "letter_merge", "build"], check=True, capture_output=True
        )
        instrument()
        settings = load_settings(folder / "letter-merge.toml")
        program = find_libreoffice(settings.pdf.soffice)
        assert program is not None, "LibreOffice is needed"
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = children.ru_utime + children.ru_stime
        own_before = time.process_time()
        started = time.perf_counter()
        loading = time.thread_time()
        batch = load_batch(settings)
        SPENT["reading the workbook and template"] = time.thread_time() - loading
        converter = libreoffice.LibreOfficeConverter(
            program,
            profile_dir=settings.paths.libreoffice_profiles,
            pdf=settings.pdf,
            verdicts=settings.paths.combining_checks,
        )
        report = build_letters(batch, converter=converter, force=True)
        wall = time.perf_counter() - started
        own = time.process_time() - own_before
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        libreoffice_cpu = children.ru_utime + children.ru_stime - before
    letters = len(report.made)
    cores = os.cpu_count() or 1
    print(f"\n`build --force`, {letters} letters, {cores} cores: {wall:.1f} s wall\n")
    print("| where | CPU s | ms a letter |")
    print("| --- | ---: | ---: |")
    rows = [
        ("LibreOffice (its processes)", libreoffice_cpu),
        ("letter-merge (this process, every thread)", own),
        ("reading the workbook and template", SPENT["reading the workbook and template"]),
        *((row, SPENT[row]) for row in dict.fromkeys(row for row, _, _ in STEPS)),
    ]
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {1000 * seconds / letters:.1f} |")
    floor = libreoffice_cpu / cores
    both = (libreoffice_cpu + own) / cores
    print(
        f"\nLibreOffice alone needs {libreoffice_cpu:.1f} s of CPU: on {cores} cores no build "
        f"can take less than {floor:.1f} s. LibreOffice and letter-merge together need "
        f"{libreoffice_cpu + own:.1f} s, {both:.1f} s on {cores} cores kept busy from start to "
        f"end; the build took {wall:.1f} s, {wall / both:.2f}× that."
    )


if __name__ == "__main__":
    main()
