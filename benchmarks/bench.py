"""Benchmark the build: the 343-council sample, templates using Word's features (page X of Y,
lists, captions and cross-references, the title as a field, a header naming the council), a
generated large workbook, and two other ways of converting side by side in the same run: one
LibreOffice start per letter (docx2pdf's way with Word), and one document at a time through
persistent LibreOffices (UNO, unoserver's way). Every way makes the same tagged PDF/UA-1 +
PDF/A-2b letters. Prints a table and the bars of the issues; `make bench` runs it.

    python benchmarks/bench.py                 # 343 sample + 10,000 generated rows
    python benchmarks/bench.py --rows 2000 --baseline 5
    python benchmarks/bench.py --against ../before   # also the default build of another checkout
    python benchmarks/bench.py --quick         # a small run, as the test suite does
    python benchmarks/bench.py --speed         # the speed bars only, in one run: the default
                                               # template, footnotes, endnotes, every feature at
                                               # once, and one LibreOffice start per letter

Each build runs in its own process (benchmarks/measure.py) so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from openpyxl import Workbook, load_workbook

# The feature templates are made as the tests make them (tests/word_features.py: Word's own way
# of storing each feature); the benchmark runs from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from letter_merge.config import PdfSettings
from letter_merge.paths import OutputPaths
from letter_merge.pdf.combine import docx_title
from letter_merge.pdf.conformance import export_filter, export_options, finish_pdf
from tests import word_features

ROOT = Path(__file__).resolve().parent.parent
MEASURE = Path(__file__).with_name("measure.py")
PLAIN_PDF = '\n[pdf]\naccessible = false\narchive = "none"\n'


def working_folder(base: Path, workbook: Path) -> Path:
    base.mkdir(parents=True)
    shutil.copytree(ROOT / "templates", base / "templates")
    (base / "input").mkdir()
    shutil.copy(workbook, base / "input" / "councils.xlsx")
    shutil.copy(ROOT / "letter-merge.toml", base / "letter-merge.toml")
    return base


# Templates with Word's features, each as a person adds it in Word, and all of them at once.
FEATURES: dict[str, tuple[Callable[[Path], None], ...]] = {
    "page X of Y in the footer": (word_features.page_x_of_y_footer,),
    "numbered lists, one restarted": (word_features.numbered_list,),
    "captions and cross-references": (word_features.caption_and_cross_reference,),
    "the title as a field and a bound control": (word_features.title_in_footer,),
    "a header naming the council": (word_features.header_naming_the_council,),
    "footnotes": (word_features.plain_footnotes,),
    "endnotes": (word_features.plain_endnotes,),
    # Every feature the fidelity tests convert together (tests/test_combined.py), at once.
    "all of these": (
        word_features.title_in_footer,
        functools.partial(word_features.page_x_of_y_footer, at_end=True),
        word_features.numbered_list,
        word_features.caption_and_cross_reference,
        word_features.header_naming_the_council,
        word_features.line_numbers,
    ),
    # Footnotes with all of these but line numbers (LibreOffice numbers the footnotes' lines over
    # the whole document, so footnotes under line numbers go one at a time).
    "footnotes and all of these but line numbers": (
        word_features.title_in_footer,
        functools.partial(word_features.page_x_of_y_footer, at_end=True),
        word_features.numbered_list,
        word_features.caption_and_cross_reference,
        word_features.header_naming_the_council,
        word_features.plain_footnotes,
    ),
}


def build(folder: Path, *args: str, code: Path | None = None) -> dict[str, float]:
    """Run `letter-merge build ARGS` in its own process; wall time and peak memory. With
    `code`, letter-merge is imported from that checkout instead of this one."""
    environment = dict(os.environ)
    # This checkout's letter-merge (or `code`'s), whichever one the environment has installed.
    environment["PYTHONPATH"] = str((code or ROOT).resolve())
    done = subprocess.run(
        [sys.executable, str(MEASURE), "build", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"build {' '.join(args)} in {folder} failed ({done.returncode}):\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    output = done.stdout
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def large_workbook(path: Path, rows: int) -> Path:
    """`rows` councils: the sample's rows repeated under new names and addresses."""
    sample = load_workbook(ROOT / "input" / "councils.xlsx", read_only=True)
    sheets = {
        name: list(sample[name].iter_rows(values_only=True)) for name in ("Contacts", "Statistics")
    }
    sample.close()
    book = Workbook(write_only=True)
    for name, table in sheets.items():
        sheet = book.create_sheet(name)
        sheet.append(table[0])
        body = table[1:]
        for number in range(rows):
            row = list(body[number % len(body)])
            copy = number // len(body)
            if copy:
                row[0] = f"{row[0]} {copy + 1}"
                if name == "Contacts":
                    row[2] = None  # GSS codes stay unique
                    row[7] = f"copy{copy}.{row[7]}"
                    row[8] = None
            sheet.append(row)
    book.save(path)
    return path


def baseline(folder: Path, letters: int, *, quiet: bool = False) -> float:
    """Seconds per letter with one LibreOffice start per letter (docx2pdf's way with Word), in a
    profile as any script gives LibreOffice, which tests its drawing at every start; `quiet`:
    in one that records the version seen, as letter-merge's do (pdf/startup.py)."""
    from letter_merge.pdf import startup
    from letter_merge.pdf.libreoffice import LibreOfficeConverter
    from letter_merge.pdf.soffice import find_libreoffice

    program = find_libreoffice()
    if program is None:
        raise SystemExit("LibreOffice is needed for the benchmark")
    documents = sorted((folder / "output" / "2020" / "letters").glob("*.docx"))[:letters]
    profile = folder / ("baseline-profile-quiet" if quiet else "baseline-profile")
    outdir = folder / "baseline-pdf"
    if quiet:
        startup.record_seen(profile, LibreOfficeConverter(program).release())
    arguments = [str(program), f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless"]
    subprocess.run([*arguments, "--terminate_after_init"], capture_output=True, check=False)
    target = export_filter(PdfSettings())
    started = time.perf_counter()
    for document in documents:
        subprocess.run(
            [*arguments, "--convert-to", target, "--outdir", str(outdir), str(document)],
            capture_output=True,
            check=True,
        )
        finish(document, outdir / f"{document.stem}.pdf")
    return (time.perf_counter() - started) / len(documents)


def baseline_row(folder: Path, letters: int, count: int, *, quiet: bool = False) -> Row:
    per_letter = baseline(folder, letters, quiet=quiet)
    profile = ", its graphics test skipped as in letter-merge's profiles" if quiet else ""
    return (
        f"baseline: one LibreOffice start per letter ({letters} measured{profile})",
        count,
        {"seconds": per_letter * count, "rss_mb": 0.0, "converter_rss_mb": 0.0},
    )


def finish(document: Path, pdf: Path) -> None:
    """Mend a letter's PDF as the build does, so that every way makes the same letters."""
    pdf.write_bytes(finish_pdf(pdf, PdfSettings(), docx_title(document)))


def per_letter_uno(folder: Path, letters: int, workers: int = 2) -> float | None:
    """Seconds per letter converting each letter as its own document through `workers`
    LibreOffices kept running (UNO, letter-merge's own worker), started before the clock
    starts; None where no Python has LibreOffice's uno module."""
    from letter_merge.pdf.soffice import find_libreoffice
    from letter_merge.pdf.warm import UnoWorker, find_uno_python

    python, program = find_uno_python(), find_libreoffice()
    if python is None or program is None:
        return None
    documents = sorted((folder / "output" / "2020" / "letters").glob("*.docx"))[:letters]
    options = export_options(PdfSettings())
    outdir = folder / "uno-pdf"
    outdir.mkdir(exist_ok=True)
    started_workers = [
        UnoWorker(python, program, folder / f"uno-profile-{number}") for number in range(workers)
    ]
    failures: list[str] = []

    def convert(worker: UnoWorker, share: list[Path]) -> None:
        for document in share:
            pdf = outdir / f"{document.stem}.pdf"
            error = worker.convert(document, pdf, options)
            if error:
                failures.append(f"{document.name}: {error}")
            else:
                finish(document, pdf)

    started = time.perf_counter()
    threads = [
        threading.Thread(target=convert, args=(worker, documents[number::workers]))
        for number, worker in enumerate(started_workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    for worker in started_workers:
        worker.close()
    if failures:
        raise SystemExit(f"the UNO per-letter conversion failed: {failures[0]}")
    return seconds / len(documents)


def feature_builds(
    scratch: Path, workbook: Path, count: int, repeat: int, names: Sequence[str]
) -> list[Row]:
    """Each feature template's build: the first (which checks, once, that letters converted
    together are the letters alone) and then `repeat` more, interleaved with the default
    template's, so that a change in the machine's load falls on all alike."""
    folders = {}
    for number, name in enumerate(names):
        folder = working_folder(scratch / f"features-{number}", workbook)
        for feature in FEATURES[name]:
            feature(folder / "templates" / "letter.docx")
        build(folder, "--no-pdf")  # the charts, and the file cache
        folders[name] = folder
    default = working_folder(scratch / "features-default", workbook)
    build(default)  # the LibreOffice profiles, and the default template's check
    rows: list[Row] = []
    for name, folder in folders.items():
        rows.append(
            (f"Word features, first build (checks once): {name}", count, build(folder, "--force"))
        )
    for _ in range(repeat):
        rows.append(
            (
                "Word features: none (the default template)",
                count,
                build(default, "--force") | {"pages": pages_per_letter(default)},
            )
        )
        for name, folder in folders.items():
            measured = build(folder, "--force") | {"pages": pages_per_letter(folder)}
            rows.append((f"Word features: {name}", count, measured))
    return rows


def pages_per_letter(folder: Path) -> float:
    """The pages of a build's letters, on average, as its manifest records them."""
    manifest = json.loads(OutputPaths(folder / "output", 2020).manifest.read_text("utf-8"))
    pdfs = [letter["files"].get("pdf") for letter in manifest["letters"]]
    pages = [pdf["pages"] for pdf in pdfs if pdf and "pages" in pdf]
    return float(sum(pages)) / len(pages)


def set_plain_pdf(folder: Path, plain: bool) -> None:
    """Accessibility and archiving off (plain) or as by default: any [pdf] table replaced."""
    settings = folder / "letter-merge.toml"
    text = re.sub(r"(?ms)^\[pdf\].*?(?=^\[|\Z)", "", settings.read_text(encoding="utf-8"))
    settings.write_text(text.rstrip("\n") + "\n" + (PLAIN_PDF if plain else ""), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the generated workbook")
    parser.add_argument("--baseline", type=int, default=10, help="letters for the baseline")
    parser.add_argument("--uno", type=int, default=343, help="letters for the UNO comparison")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved builds, on and off")
    parser.add_argument("--quick", action="store_true", help="a small run (sample subset, 60 rows)")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="CHECKOUT",
        help="another checkout of letter-merge (e.g. a git worktree of an earlier commit): its "
        "default build is timed beside this one's",
    )
    parser.add_argument(
        "--speed",
        "--features-only",
        dest="speed",
        action="store_true",
        help="only the speed bars, in one run: the default template's build (and --against's), "
        "the feature templates' (footnotes, endnotes, all at once) and the per-letter baseline",
    )
    options = parser.parse_args(argv)
    features = list(FEATURES)
    if options.speed:
        features = [
            "footnotes",
            "endnotes",
            "all of these",
            "footnotes and all of these but line numbers",
        ]
    if options.quick:
        options.rows, options.baseline, options.uno, options.repeat = 60, 2, 4, 1
        features = ["all of these"]

    rows: list[tuple[str, int, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="letter-merge-bench-") as scratch:
        sample_workbook = ROOT / "input" / "councils.xlsx"
        if options.quick:
            sample_workbook = large_workbook(Path(scratch) / "quick.xlsx", 30)
        sample = working_folder(Path(scratch) / "sample", sample_workbook)
        count = 30 if options.quick else 343
        charts = OutputPaths(sample / "output", 2020).charts
        build(sample, "--no-pdf")  # warm-up: file cache
        shutil.rmtree(charts)
        rows.append(
            ("sample: merge only, charts drawn", count, build(sample, "--no-pdf", "--force"))
        )
        rows.append(
            ("sample: merge only, charts cached", count, build(sample, "--no-pdf", "--force"))
        )
        build(sample)  # first PDF build makes the LibreOffice profiles
        if options.against is not None:  # its own folder: its own LibreOffice profiles
            other = working_folder(Path(scratch) / "against", sample_workbook)
            build(other, code=options.against)
        shutil.rmtree(charts)
        rows.append(("sample: merge + PDF, charts drawn", count, build(sample, "--force")))
        # Accessible (the default) and plain PDFs, interleaved, so that a change in the
        # machine's load falls on both alike.
        for _ in range(options.repeat):
            set_plain_pdf(sample, True)
            rows.append(("sample: merge + PDF, plain PDF", count, build(sample, "--force")))
            set_plain_pdf(sample, False)
            rows.append(("sample: merge + PDF, charts cached", count, build(sample, "--force")))
            if options.against is not None:
                against = build(other, "--force", code=options.against)
                rows.append((f"sample: merge + PDF, by {options.against}", count, against))
        if options.speed:
            rows += feature_builds(Path(scratch), sample_workbook, count, options.repeat, features)
            rows.append(baseline_row(sample, options.baseline, count))
            base = rows[-1]
            rows.append(baseline_row(sample, options.baseline, count, quiet=True))
            print_rows(rows, base)
            accessible = [r for r in rows if r[0] == "sample: merge + PDF, charts cached"]
            print_speed_bars(accessible, base, rows[-1])
            print_feature_bars(rows, [r for r in rows if ", by " in r[0]], accessible)
            return
        rows.append(("sample: rebuild, nothing changed", count, build(sample)))
        uno = per_letter_uno(sample, options.uno)
        if uno is not None:
            rows.append(
                (
                    f"per letter through persistent LibreOffice, UNO ({min(options.uno, count)} measured)",
                    count,
                    {"seconds": uno * count, "rss_mb": 0.0, "converter_rss_mb": 0.0},
                )
            )
        book = load_workbook(sample / "input" / "councils.xlsx")
        book["Contacts"]["F2"] = "Changed"
        book.save(sample / "input" / "councils.xlsx")
        rows.append(("sample: rebuild, one contact changed", 1, build(sample)))
        rows.append(baseline_row(sample, options.baseline, count))
        rows += feature_builds(Path(scratch), sample_workbook, count, options.repeat, features)
        large = working_folder(
            Path(scratch) / "large", large_workbook(Path(scratch) / "large.xlsx", options.rows)
        )
        rows.append(
            (
                f"{options.rows} rows: merge only, charts drawn",
                options.rows,
                build(large, "--no-pdf"),
            )
        )
        rows.append(
            (
                f"{options.rows} rows: merge + PDF, charts cached",
                options.rows,
                build(large, "--force"),
            )
        )

    print_table(rows, cpu=os.cpu_count() or 1)


def print_table(rows: list[tuple[str, int, dict[str, float]]], cpu: int) -> None:
    accessible = [r for r in rows if r[0] == "sample: merge + PDF, charts cached"]
    plain = [r for r in rows if r[0] == "sample: merge + PDF, plain PDF"]
    full = min(accessible, key=lambda r: r[2]["seconds"])
    base = next(r for r in rows if r[0].startswith("baseline"))
    print(f"\nletter-merge benchmark: {cpu} cores, Python {sys.version.split()[0]}\n")
    print_rows(rows, base)
    print_bars(accessible, plain, base, next((r for r in rows if "UNO" in r[0]), None))
    print_feature_bars(rows, [r for r in rows if ", by " in r[0]], accessible)
    large = [r for r in rows if r[0].endswith("rows: merge + PDF, charts cached")]
    if large:
        growth = large[0][2]["seconds"] / full[2]["seconds"]
        print(
            f"\n{large[0][1]} rows took {growth:.1f}× the sample's time for {large[0][1] / full[1]:.1f}× the letters."
        )


Row = tuple[str, int, dict[str, float]]


def print_rows(rows: list[Row], base: Row | None = None) -> None:
    print("| run | letters | wall time | letters/s | peak RSS | helpers peak RSS | vs baseline |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, letters, m in rows:
        ratio = (
            base[2]["seconds"] / m["seconds"] * letters / base[1]
            if base is not None and ("PDF" in name or "UNO" in name)
            else None
        )
        print(
            f"| {name} | {letters} | {m['seconds']:.1f} s | {letters / m['seconds']:.0f} | "
            f"{m['rss_mb']:.0f} MB | {m['converter_rss_mb']:.0f} MB | "
            f"{f'{ratio:.0f}×' if ratio else ''} |"
        )


def print_bars(accessible: list[Row], plain: list[Row], base: Row, uno: Row | None) -> None:
    """The accessible build against plain PDFs and the other ways of converting (best of each)."""
    on = min(r[2]["seconds"] for r in accessible)
    off = min(r[2]["seconds"] for r in plain)
    print("\n| bar | measured | |")
    print("| --- | ---: | --- |")
    ratio = on / off
    print(f"| accessible / plain PDF: at most 1.15× | {ratio:.2f}× | {met(ratio <= 1.15)} |")
    speed_bars(accessible, base)
    if uno is not None:
        times = uno[2]["seconds"] / on
        print(
            f"| per letter through UNO / accessible: at least 2.5× | {times:.2f}× | "
            f"{met(times >= 2.5)} |"
        )
    else:
        print("| per letter through UNO | not measured: no Python with LibreOffice's uno | |")


def print_speed_bars(accessible: list[Row], base: Row, quiet: Row | None = None) -> None:
    print("\n| bar | measured | |")
    print("| --- | ---: | --- |")
    speed_bars(accessible, base)
    if quiet is not None:
        best = min(r[2]["seconds"] * 343 / r[1] for r in accessible)
        times = quiet[2]["seconds"] * 343 / quiet[1] / best
        print(
            f"| (one start per letter, its graphics test skipped / accessible) | {times:.1f}× | |"
        )


def speed_bars(accessible: list[Row], base: Row) -> None:
    """The default build (best of the run) against one LibreOffice start per letter, measured
    in the same run, and against 8 seconds for 343 letters."""
    best = min(accessible, key=lambda r: r[2]["seconds"])
    times = base[2]["seconds"] / best[2]["seconds"] * best[1] / base[1]
    seconds = best[2]["seconds"] * 343 / best[1]
    print(
        f"| one LibreOffice start per letter / accessible: at least 30× | {times:.1f}× | "
        f"{met(times >= 30)} |"
    )
    print(f"| 343 letters in at most 8 s | {seconds:.1f} s | {met(seconds <= 8)} |")


def met(good: bool) -> str:
    return "met" if good else "missed"


def print_feature_bars(rows: list[Row], against: list[Row], accessible: list[Row]) -> None:
    """Templates with Word's features against the default template (best of each, interleaved
    in the same run), the check's one-time cost, and this build against another checkout's."""
    best: dict[str, float] = {}
    pages: dict[str, float] = {}
    for name, _, m in rows:
        if name.startswith("Word features: "):
            key = name.removeprefix("Word features: ")
            best[key] = min(best.get(key, float("inf")), m["seconds"])
            pages[key] = m.get("pages", 0.0)
    default = best.pop("none (the default template)", None)
    if default is None:
        return
    default_pages = pages["none (the default template)"]
    print("\n| bar | measured | |")
    print("| --- | ---: | --- |")
    for name, seconds in best.items():
        ratio = seconds / default
        # A template whose letters run longer costs LibreOffice more for that alone: its ratio
        # per page is beside it.
        length = ""
        if pages[name] and pages[name] != default_pages:
            per_page = ratio * default_pages / pages[name]
            length = (
                f" ({pages[name]:.1f} pages a letter to {default_pages:.1f}: "
                f"{per_page:.2f}× a page)"
            )
        print(
            f"| {name} / default template: at most 1.2× | {ratio:.2f}×{length} | {met(ratio <= 1.2)} |"
        )
    for name, _, m in rows:
        if name.startswith("Word features, first build (checks once): "):
            key = name.removeprefix("Word features, first build (checks once): ")
            extra = m["seconds"] - best[key]
            print(
                f"| the check's one-time cost, {key}: under 3 s | {extra:.1f} s | {'met' if extra < 3 else 'missed'} |"
            )
    if against:
        ours = min(r[2]["seconds"] for r in accessible)
        theirs = min(r[2]["seconds"] for r in against)
        ratio = ours / theirs
        print(
            f"| default build / the other checkout's: at most 1.1× | {ratio:.2f}× | {'met' if ratio <= 1.1 else 'missed'} |"
        )


if __name__ == "__main__":
    main()
