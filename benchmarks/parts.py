"""Where a letter's build time goes: LibreOffice's CPU for a combined document of letters (as
built, without the chart, without the tables, without both, and only loading it), and
letter-merge's own steps (render, combine, split plain and tagged). Prints milliseconds a letter.

    python benchmarks/parts.py             # 100 letters of the sample
    python benchmarks/parts.py --letters 20
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from letter_merge.batch import load_batch
from letter_merge.config import DEFAULT_PDF, PdfSettings, load_settings
from letter_merge.pdf.combine import combine_letters
from letter_merge.pdf.conformance import export_filter
from letter_merge.pdf.soffice import find_libreoffice
from letter_merge.pdf.split import letter_pdfs
from letter_merge.template.wordxml import BODY_PART, parse, serialise, w

# LibreOffice's CPU time from getrusage, which Windows lacks: this runs on Linux (and macOS).
assert sys.platform != "win32", "benchmarks/parts.py measures with getrusage: not on Windows"

ROOT = Path(__file__).resolve().parent.parent
PLAIN = PdfSettings(False, "none")


def without(template: Path, target: Path, *, chart: bool, tables: bool) -> Path:
    """A copy of the template without its {{ chart }} paragraph and/or its tables."""
    with zipfile.ZipFile(template) as source:
        parts = {info: source.read(info) for info in source.infolist()}
    for info, data in parts.items():
        if info.filename != BODY_PART:
            continue
        root = parse(data)
        for paragraph in list(root.iter(w("p"))):
            text = "".join(t.text or "" for t in paragraph.iter(w("t")))
            if chart and "{{ chart }}" in text:
                paragraph.getparent().remove(paragraph)  # type: ignore[union-attr]
        if tables:
            for table in list(root.iter(w("tbl"))):
                table.getparent().remove(table)  # type: ignore[union-attr]
        parts[info] = serialise(root)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info, data in parts.items():
            copy.writestr(info, data)
    return target


def libreoffice_cpu(document: Path, target: str, profile: Path) -> float:
    """CPU seconds LibreOffice spends converting `document` to `target`, start-up included."""
    program = find_libreoffice()
    assert program is not None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            str(program),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            target,
            "--outdir",
            str(document.parent / target.split(":")[0]),
            str(document),
        ],
        capture_output=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def cpu(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=100)
    count = parser.parse_args(argv).letters
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="letter-merge-parts-") as scratch:
        base = Path(scratch)
        profile = base / "profile"
        settings = load_settings(ROOT / "letter-merge.toml")
        batch = load_batch(settings)
        letters = batch.letters()[:count]
        subprocess.run(  # the profile first, so that no row pays for making it
            [
                str(find_libreoffice()),
                f"-env:UserInstallation={profile.as_uri()}",
                "--headless",
                "--terminate_after_init",
            ],
            capture_output=True,
            check=False,
        )
        variants = {
            "as built": settings.template,
            "without the chart": without(
                settings.template, base / "a.docx", chart=True, tables=False
            ),
            "without the three tables": without(
                settings.template, base / "b.docx", chart=False, tables=True
            ),
            "without both": without(settings.template, base / "c.docx", chart=True, tables=True),
        }
        combined: dict[str, Path] = {}
        charts_of: dict[str, list[bytes | None]] = {}
        for name, template in variants.items():
            folder = base / name.replace(" ", "-")
            folder.mkdir()
            variant = load_batch(dataclasses.replace(settings, template=template))
            docs = []
            for letter in letters:
                docx = folder / f"{letter.stem}.docx"
                docx.write_bytes(variant.template.render(letter.fields, title=letter.subject))
                docs.append(docx)
            combined[name] = folder / "letters.docx"
            together = combine_letters(docs)
            combined[name].write_bytes(together.data)
            charts_of[name] = together.charts
        if letters:
            docs = sorted((base / "as-built").glob("*.docx"))
            docs = [d for d in docs if d.name != "letters.docx"]
            rows.append(
                (
                    "render (letter-merge)",
                    cpu(
                        lambda: [
                            batch.template.render(letter.fields, title=letter.subject)
                            for letter in letters
                        ]
                    ),
                )
            )
            rows.append(("combine (letter-merge)", cpu(lambda: combine_letters(docs))))
        load = libreoffice_cpu(combined["as built"], "txt:Text", profile)
        rows.append(("LibreOffice: start and load only (to text)", load))
        for name, document in combined.items():
            rows.append(
                (
                    f"LibreOffice: PDF, {name}, plain",
                    libreoffice_cpu(document, export_filter(PLAIN, destinations=True), profile),
                )
            )
        tagged = libreoffice_cpu(
            combined["as built"], export_filter(DEFAULT_PDF, destinations=True), profile
        )
        rows.append(("LibreOffice: PDF, as built, PDF/UA-1 + PDF/A-2b", tagged))
        pdf_folder = combined["as built"].parent
        titles = [letter.subject for letter in letters]
        charts = charts_of["as built"]
        shutil.copy(pdf_folder / "pdf" / "letters.pdf", base / "tagged.pdf")
        rows.append(
            (
                "split (letter-merge), PDF/UA-1 + PDF/A-2b",
                cpu(lambda: letter_pdfs(base / "tagged.pdf", titles, DEFAULT_PDF, charts)),
            )
        )
        libreoffice_cpu(combined["as built"], export_filter(PLAIN, destinations=True), profile)
        rows.append(
            (
                "split (letter-merge), plain",
                cpu(lambda: letter_pdfs(pdf_folder / "pdf" / "letters.pdf", titles, PLAIN, charts)),
            )
        )
    print(f"\n{count} letters converted together, CPU time a letter:\n")
    print("| step | ms a letter |")
    print("| --- | ---: |")
    for name, seconds in rows:
        print(f"| {name} | {1000 * seconds / count:.0f} |")


if __name__ == "__main__":
    main()
