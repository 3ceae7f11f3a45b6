"""The proof pack in `output/<year>/proof/`: a page to look through every letter, all letters in one
PDF, and automatic checks run on each PDF's own text (not on the template).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letter_merge.batch import Batch, PlannedLetter, select_names
from letter_merge.config import Settings
from letter_merge.errors import LetterMergeError
from letter_merge.figures import RATE_LABELS, RATES
from letter_merge.files import write_atomic
from letter_merge.pdf.reading import LetterReading, read_letter
from letter_merge.pdf.split import join_letters
from letter_merge.pdf.verify import Margins
from letter_merge.process import worker_pool
from letter_merge.progress import Progress, no_progress
from letter_merge.proof.checks import (
    authority_pattern,
    check_letter,
    conversion_check,
    current_inputs,
    page_numbers,
)
from letter_merge.proof.page import render_index
from letter_merge.records.join import Records, last_years_letters
from letter_merge.records.proofs import Card, Check, Figure, write_cards, write_results
from letter_merge.records.standing import Standing

THUMBNAIL_WIDTH = 260  # pixels: twice the size the page shows it at, for sharp screens


@dataclass
class ProofReport:
    cards: list[Card]  # the letters this proof checked
    index: Path
    combined: Path
    changes: list[str]
    shown: int = 0  # the letters the page shows: every letter's latest proof

    @property
    def with_problems(self) -> list[Card]:
        return [c for c in self.cards if c.problems]


def make_proof(
    batch: Batch, only: Sequence[str] = (), on_progress: Progress = no_progress
) -> ProofReport:
    """Check every built letter (or those named in `only`, leaving the last proof's results
    for the others as they are) and write the proof pack."""
    settings = batch.settings
    paths = settings.paths
    records = Records.load(settings, batch)
    records.require_built()
    built = records.built
    letters = [letter for letter in batch.letters() if letter.council.authority in built]
    if only:
        chosen = set(select_names([letter.council.authority for letter in letters], only))
        letters = [letter for letter in letters if letter.council.authority in chosen]
    others = authority_pattern([c.authority for c in batch.workbook.councils])
    paths.proof.mkdir(parents=True, exist_ok=True)

    readings = _read_letters(settings, records, letters, on_progress)
    cards = [
        _card(
            settings, letter, records.standing(letter.council.authority), others, records, readings
        )
        for letter in letters
    ]

    combined = paths.proof_letters
    _combine(settings, records, combined)
    changes = compare_with_last_year(settings, letters)
    shown = _every_letter(records, cards) if only else cards
    write_cards(paths.proof_cards, shown)
    index = paths.proof_page
    write_atomic(index, render_index(settings.year, shown, changes).encode("utf-8"))
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results = {} if not only else dict(records.proofs)
    results.update((card.authority, card.result(stamp)) for card in cards)
    write_results(paths.proof_results, list(results.values()))
    return ProofReport(cards, index, combined, changes, len(shown))


STALE = "Proofed as it is now"  # the check a kept card gets when its letter was built again


def _every_letter(records: Records, cards: list[Card]) -> list[Card]:
    """The page of a proof of some letters shows every letter: those just checked, and each
    other letter's card from its last proof, said to be of an earlier PDF where it was built
    again since (no card vouches for a PDF it did not look at)."""
    fresh = {card.authority: card for card in cards}
    earlier = records.last_cards()
    shown = []
    for standing in records.standings():
        card = fresh.get(standing.authority) or earlier.get(standing.authority)
        if card is None:
            continue
        if standing.authority not in fresh:
            card.checks = [c for c in card.checks if c.name != STALE]
            if not standing.proofed(card.pdf_sha256):
                card.checks.append(
                    Check(STALE, False, "built again since this proof: proof it again")
                )
        shown.append(card)
    return shown


# Letters read in this process; more go to worker processes, one per core (pdfium reads one PDF
# at a time in a process), which cost about half a second each to start.
READ_HERE = 12


def _read_letters(
    settings: Settings, records: Records, letters: list[PlannedLetter], on_progress: Progress
) -> dict[Path, LetterReading | str]:
    """What each letter's PDF says, for those PDFs that are as built."""
    pdfs = []
    for letter in letters:
        standing = records.standing(letter.council.authority)
        if standing.pdf_intact and standing.record is not None and standing.record.pdf:
            pdfs.append(settings.paths.absolute(standing.record.pdf.path))
    readings: dict[Path, LetterReading | str] = {}
    if len(pdfs) <= READ_HERE:
        for number, pdf in enumerate(pdfs, start=1):
            readings[pdf] = _read(pdf)
            on_progress("Checking letters", number, len(pdfs))
        return readings
    # A worker per core, but no more than there are letters to keep them busy.
    workers = min(os.cpu_count() or 1, -(-len(pdfs) // (2 * READ_HERE)))
    # Ctrl-C, or a worker that died, stops the rest at once.
    with worker_pool(workers) as pool:
        results = pool.map(_read, pdfs, chunksize=4)
        for number, (pdf, reading) in enumerate(zip(pdfs, results, strict=True), start=1):
            readings[pdf] = reading
            on_progress("Checking letters", number, len(pdfs))
    return readings


def _read(pdf: Path) -> LetterReading | str:
    """What the letter's PDF says, or why it cannot be read (that letter's failed check)."""
    try:
        return read_letter(pdf, THUMBNAIL_WIDTH)
    except LetterMergeError as error:
        return str(error)


def _card(
    settings: Settings,
    letter: PlannedLetter,
    standing: Standing,
    others: re.Pattern[str],
    records: Records,
    readings: Mapping[Path, LetterReading | str],
) -> Card:
    council = letter.council
    record = standing.record
    assert record is not None
    card = Card(
        authority=council.authority,
        authority_type=council.authority_type,
        recipient=f"{council.salutation}, {council.job_title}",
        email=council.email,
        cc=council.cc,
        pdf=f"../{record.pdf.path}" if record.pdf else "",
        pages=0,
        figures=_figures(record.figures, letter.fields),
    )
    card.checks.append(current_inputs([c.text for c in standing.changes], records.knows_currency))
    pdf = settings.paths.absolute(record.pdf.path) if record.pdf else None
    if record.pdf is None or pdf is None or not pdf.is_file():
        card.checks.append(Check("PDF", False, "there is no PDF; build it"))
        return card
    if not standing.pdf_intact:
        card.checks.append(
            Check("PDF as built", False, "it was changed after the build; build it again")
        )
        return card
    card.pdf_sha256 = standing.pdf_sha256
    reading = readings[pdf]
    if isinstance(reading, str):
        card.checks.append(Check("PDF can be read", False, reading))
        return card
    card.pages = len(reading.pages)
    card.thumbnail = "data:image/jpeg;base64," + base64.b64encode(reading.thumbnail).decode()
    card.checks += check_letter(
        reading.text,
        letter,
        card.pages,
        settings.proof_pages,
        others,
        reading.conformance,
        settings.pdf,
    )
    docx = settings.paths.absolute(record.docx.path) if record.docx else None
    margins = Margins.of(docx) if docx is not None else Margins()
    card.checks.append(page_numbers(list(reading.pages), margins))
    card.checks.append(conversion_check(record.conversion, pdf.name))
    return card


def _figures(stated: Mapping[str, int | None], now: Mapping[str, Any]) -> list[Figure]:
    """The figures the letter states (as recorded when it was built), each with what the
    workbook gives now where that is different."""
    figures = []
    for rate in RATES:
        average = f"{rate}_average"
        rate_moved = rate in stated and stated.get(rate) != now.get(rate)
        average_moved = average in stated and stated.get(average) != now.get(average)
        figures.append(
            Figure(
                RATE_LABELS[rate],
                stated.get(rate, now.get(rate)),
                stated.get(average, now.get(average)),
                now.get(rate),
                now.get(average),
                rate_moved,
                average_moved,
            )
        )
    return figures


def _combine(settings: Settings, records: Records, target: Path) -> None:
    """Every letter in one PDF, a bookmark per authority, for flipping through or printing."""
    letters = [
        (standing.authority, settings.paths.absolute(standing.record.pdf.path))
        for standing in records.standings()
        if standing.record is not None and standing.record.pdf is not None and standing.pdf_intact
    ]
    write_atomic(target, join_letters(letters))


def compare_with_last_year(settings: Settings, letters: list[PlannedLetter]) -> list[str]:
    """Councils added or removed since last year's batch, and figures that moved by more than
    `[proof] change_points` points. Empty when there is no `output/<year-1>/`."""
    last = last_years_letters(settings)
    if not last:
        return []
    now = {letter.council.authority: letter for letter in letters}
    changes = [f"New since {settings.year - 1}: {name}" for name in now if name not in last]
    changes += [f"Not in this year's batch: {name}" for name in last if name not in now]
    limit = settings.proof_change_points
    for name, letter in now.items():
        before = last[name].figures if name in last else {}
        for rate, label in RATE_LABELS.items():
            old, new = before.get(rate), letter.fields.get(rate)
            if isinstance(old, int) and isinstance(new, int) and abs(new - old) > limit:
                changes.append(f"{name}: {label.lower()} {old}% → {new}% ({new - old:+d} points)")
    return changes
