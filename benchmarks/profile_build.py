"""Where a build's time goes: one `build --force` of the 343-council sample, profiled in this
process (letter-merge's own steps, by CPU time) with LibreOffice's CPU time beside it, and the
floor those figures set on this machine.

    python benchmarks/profile_build.py            # the sample, as `make run` builds it
    python benchmarks/profile_build.py --folder F # another working folder (a copy is used)

letter-merge's steps are read from a cProfile of the build (which slows Python a little, not
LibreOffice): each row is the CPU time spent inside the named functions, wherever called from.
LibreOffice's is the CPU time of its processes (getrusage of the children), so Linux or macOS.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.config import load_settings
from letter_merge.pdf.converters import make_converter

assert sys.platform != "win32", "benchmarks/profile_build.py measures with getrusage"
ROOT = Path(__file__).resolve().parent.parent

# letter-merge's steps: (row, the functions whose cumulative time is the step's), by module
# path and function name. A function inside another step's is counted in both: the rows are
# what each step costs, not a partition.
STEPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("reading the workbook and template", [("letter_merge/batch.py", "load_batch")]),
    ("merging: rendering each letter", [("letter_merge/template/render.py", "render")]),
    (
        "merging: each letter's paragraphs for the record",
        [("template/statement.py", "statement_of")],
    ),
    ("merging: writing each .docx", [("letter_merge/build.py", "_write_letter")]),
    ("combining letters into documents", [("letter_merge/pdf/combine.py", "combine_letters")]),
    ("copies with only the styles used", [("letter_merge/pdf/lean.py", "lean_copy")]),
    ("splitting the PDFs into letters", [("letter_merge/pdf/split.py", "letter_pdfs")]),
    ("  of which tagging kept per letter", [("letter_merge/pdf/split.py", "copy_into")]),
    ("  of which mending and saving", [("letter_merge/pdf/conformance.py", "save")]),
    ("finishing letters converted alone", [("letter_merge/pdf/conformance.py", "finish_pdf")]),
    ("writing PDFs in place", [("letter_merge/pdf/convert.py", "put_pdf")]),
    ("hashing files", [("letter_merge/files.py", "sha256_file")]),
    ("recording the build (manifest, ledger)", [("letter_merge/build.py", "_record")]),
]


def step_seconds(stats: pstats.Stats, functions: list[tuple[str, str]]) -> float:
    total = 0.0
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if any(filename.endswith(path) and name == wanted for path, wanted in functions):
            total += row[3]  # cumulative time
    return total


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
        settings = load_settings(folder / "letter-merge.toml")
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = children.ru_utime + children.ru_stime
        own_before = time.process_time()
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        batch = load_batch(settings)
        converter = make_converter(
            "libreoffice",
            settings.paths.libreoffice_profiles,
            settings.pdf,
            settings.paths.combining_checks,
        )
        report = build_letters(batch, converter=converter, force=True)
        profile.disable()
        wall = time.perf_counter() - started
        own = time.process_time() - own_before
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        libreoffice = children.ru_utime + children.ru_stime - before
    letters = len(report.made)
    stats = pstats.Stats(profile)
    cores = os.cpu_count() or 1
    print(f"\n`build --force`, {letters} letters, {cores} cores: {wall:.1f} s wall\n")
    print("| where | CPU s | ms a letter |")
    print("| --- | ---: | ---: |")
    print(
        f"| LibreOffice (its processes) | {libreoffice:.1f} | {1000 * libreoffice / letters:.0f} |"
    )
    print(f"| letter-merge (this process, profiled) | {own:.1f} | {1000 * own / letters:.0f} |")
    for name, functions in STEPS:
        seconds = step_seconds(stats, functions)
        print(f"| {name} | {seconds:.2f} | {1000 * seconds / letters:.1f} |")
    floor = libreoffice / cores
    print(
        f"\nLibreOffice alone needs {libreoffice:.1f} s of CPU: on {cores} cores the build can "
        f"take no less than {floor:.1f} s; it took {wall:.1f} s ({wall / floor:.2f}× the floor). "
        f"Both together need {(libreoffice + own) / cores:.1f} s on {cores} cores."
    )


if __name__ == "__main__":
    main()
