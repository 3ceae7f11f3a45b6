"""Building a batch: one .docx and one PDF per council in `output/<year>/letters/`, and the manifest.

Each file is written atomically, and a letter's old PDF is removed before its new .docx replaces
the old one, so a PDF on disk always matches the .docx beside it: a run stopped half-way can simply
be run again. A letter whose template, fields and files are as the manifest recorded them is not
made again: a rebuild after correcting one row redoes one letter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from letter_merge import __version__, chart
from letter_merge.batch import Batch, PlannedLetter
from letter_merge.convert import ConversionJob, ConversionResult, Converter
from letter_merge.errors import InputError
from letter_merge.figures import FIGURE_FIELDS
from letter_merge.files import sha256_file, write_atomic

MANIFEST_NAME = "manifest.json"

# (stage, done, total): the CLI turns these into progress bars.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class LetterOutcome:
    letter: PlannedLetter
    docx: Path
    pdf: Path | None
    error: str | None = None
    source_sha256: str = ""
    remade: bool = True  # False: already up to date, left as it was

    @property
    def authority(self) -> str:
        return self.letter.council.authority


@dataclass
class BuildReport:
    letters: list[LetterOutcome]
    manifest: Path
    seconds: float
    converter: str | None
    by_type: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> list[LetterOutcome]:
        return [o for o in self.letters if o.error]

    @property
    def unchanged(self) -> list[LetterOutcome]:
        return [o for o in self.letters if not o.remade and not o.error]


def build_letters(
    batch: Batch,
    *,
    only: Sequence[str] = (),
    converter: Converter | None = None,
    force: bool = False,
    on_progress: ProgressCallback | None = None,
) -> BuildReport:
    """Make every chosen letter that is not already up to date (all of them with `force`), and
    its PDF with `converter` (None: .docx only)."""
    started = time.perf_counter()
    progress = on_progress or (lambda stage, done, total: None)
    settings = batch.settings
    letters_dir = settings.letters_dir
    letters_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(letters_dir)
    manifest_path = settings.year_dir / MANIFEST_NAME
    previous_manifest = read_manifest(manifest_path)
    previous = _entries_of(previous_manifest, settings.year)
    template_hash = template_identity(batch)
    planned = batch.letters(only)

    outcomes: dict[str, LetterOutcome] = {}
    to_convert: list[LetterOutcome] = []
    # authority -> (what the letter is made from, its .docx is up to date, its PDF is)
    state: dict[str, tuple[str, bool, bool]] = {}
    for letter in planned:
        source = source_sha256(template_hash, letter)
        entry = {} if force else previous.get(letter.council.authority, {})
        docx = letters_dir / f"{letter.stem}.docx"
        docx_current = entry.get("source_sha256") == source and _unchanged(entry, "docx", docx)
        pdf_current = docx_current and _unchanged(entry, "pdf", docx.with_suffix(".pdf"))
        state[letter.council.authority] = (source, docx_current, pdf_current)
    if batch.template.uses_chart:
        batch.template.charts.prepare(
            (letter.fields for letter in planned if not state[letter.council.authority][1]),
            lambda done, total: progress("Drawing charts", done, total),
        )
    for number, letter in enumerate(planned, start=1):
        docx = letters_dir / f"{letter.stem}.docx"
        pdf = letters_dir / f"{letter.stem}.pdf"
        source, docx_current, pdf_current = state[letter.council.authority]
        if not docx_current:
            data = batch.template.render(letter.fields, title=letter.subject)
            pdf.unlink(missing_ok=True)  # it would no longer match the new .docx
            write_atomic(docx, data, durable=False)
        outcome = LetterOutcome(
            letter, docx, pdf if pdf_current else None, None, source, remade=not docx_current
        )
        outcomes[letter.council.authority] = outcome
        if converter is not None and not pdf_current:
            to_convert.append(outcome)
        progress("Writing letters", number, len(planned))

    if converter is not None and to_convert:
        by_docx = {o.docx: o for o in to_convert}
        for result in _convert(converter, to_convert, progress):
            outcome = by_docx[result.job.docx]
            outcomes[outcome.authority] = LetterOutcome(
                outcome.letter,
                outcome.docx,
                None if result.error else result.job.pdf,
                result.error,
                outcome.source_sha256,
            )

    report = BuildReport(
        letters=list(outcomes.values()),
        manifest=manifest_path,
        seconds=0.0,
        converter=converter.version() if converter and to_convert else None,
        by_type=Counter(o.letter.council.authority_type for o in outcomes.values() if not o.error),
    )
    write_manifest(batch, report, previous_manifest, previous)
    report.seconds = time.perf_counter() - started
    return report


def _convert(
    converter: Converter, outcomes: Sequence[LetterOutcome], progress: ProgressCallback
) -> list[ConversionResult]:
    jobs = [ConversionJob(o.docx, o.docx.with_suffix(".pdf")) for o in outcomes]
    done = 0

    def converted(result: ConversionResult) -> None:
        nonlocal done
        done += 1
        progress("Making PDFs", done, len(jobs))

    return converter.convert(jobs, converted)


def template_identity(batch: Batch) -> str:
    """What every letter of the batch is made from besides its own fields: the template, and the
    chart's look where the template has one."""
    identity = hashlib.sha256(batch.template.source).hexdigest()
    if batch.template.uses_chart:
        identity += f" chart {chart.STYLE_VERSION} at {batch.settings.chart_dpi} dpi"
    return identity


def source_sha256(template_hash: str, letter: PlannedLetter) -> str:
    """What a letter is made from: the same template, fields and subject make the same letter."""
    fields = json.dumps(letter.fields, sort_keys=True, default=str, ensure_ascii=False)
    text = f"{__version__}\n{template_hash}\n{letter.subject}\n{letter.stem}\n{fields}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _unchanged(entry: Mapping[str, Any], kind: str, path: Path) -> bool:
    """The file is there and is the one the manifest recorded (nobody replaced or edited it)."""
    recorded = entry.get("files", {}).get(kind)
    return bool(recorded) and path.is_file() and sha256_file(path) == recorded.get("sha256")


def remove_leftovers(folder: Path) -> None:
    """Temporary files of a run that was killed: never letters, so safe to delete."""
    for leftover in folder.glob(".*.part"):
        leftover.unlink(missing_ok=True)
    for leftover in folder.glob(".converting-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def write_manifest(
    batch: Batch,
    report: BuildReport,
    previous: Mapping[str, Any],
    previous_entries: Mapping[str, dict[str, Any]],
) -> None:
    """Record inputs, tools and every letter's files with their SHA-256, keeping entries for letters
    this run did not touch (`--only`) as long as they are still in the workbook."""
    settings = batch.settings
    current = {c.authority for c in batch.workbook.councils}
    entries = {name: e for name, e in previous_entries.items() if name in current}
    for outcome in report.letters:
        kept = entries.get(outcome.authority)
        unchanged = (
            not outcome.remade and outcome.pdf is not None and kept and "pdf" in kept["files"]
        )
        if not unchanged:
            entries[outcome.authority] = _letter_entry(outcome, settings.year_dir)
    order = {c.authority: i for i, c in enumerate(batch.workbook.councils)}
    inputs = {"workbook": settings.workbook, "template": settings.template}
    if settings.config_file:
        inputs["settings"] = settings.config_file
    manifest = {
        "tool": {"name": "letter-merge", "version": __version__},
        "converter": report.converter or previous.get("converter"),
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "year": settings.year,
        "letter_date": settings.letter_date.isoformat(),
        "inputs": {
            name: {"path": str(file), "sha256": sha256_file(file)} for name, file in inputs.items()
        },
        "letters": sorted(entries.values(), key=lambda e: order[e["authority"]]),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    write_atomic(report.manifest, text.encode("utf-8"))


def read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot be read ({error}); delete it and build again.") from None
    return data if isinstance(data, dict) else {}


def _entries_of(previous: Mapping[str, Any], year: int) -> dict[str, dict[str, Any]]:
    if previous.get("year") != year:
        return {}
    return {e["authority"]: e for e in previous.get("letters", []) if "authority" in e}


def _letter_entry(outcome: LetterOutcome, year_dir: Path) -> dict[str, Any]:
    council = outcome.letter.council
    files: dict[str, Any] = {}
    for kind, file in (("docx", outcome.docx), ("pdf", outcome.pdf)):
        if file is not None and file.exists():
            files[kind] = {
                "path": file.relative_to(year_dir).as_posix(),
                "sha256": sha256_file(file),
            }
    if "pdf" in files:
        files["pdf"]["pages"] = len(PdfReader(year_dir / files["pdf"]["path"]).pages)
    return {
        "authority": council.authority,
        "authority_type": council.authority_type,
        "recipient": {
            "name": council.salutation,
            "job_title": council.job_title,
            "email": council.email,
            "cc": list(council.cc),
        },
        "subject": outcome.letter.subject,
        "files": files,
        # What the letter was made from: unchanged template and fields give the same letter.
        "source_sha256": outcome.source_sha256,
        # The figures it states, so that next year's proof can show what moved.
        "figures": {name: outcome.letter.fields.get(name) for name in FIGURE_FIELDS},
        "error": outcome.error,
    }
