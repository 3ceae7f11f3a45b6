"""`status`: where every letter stands and why, one council's history, and the audit CSV, as
the records layer answers them (nothing here decides a state)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from letter_merge.app.inputs import Inputs, file_stamp, input_files
from letter_merge.batch import select_names
from letter_merge.config import Settings
from letter_merge.errors import Problem
from letter_merge.records.audit import History as History
from letter_merge.records.audit import history, write_csv
from letter_merge.records.join import Records
from letter_merge.records.publication import published_dates
from letter_merge.records.standing import STATES as STATES
from letter_merge.records.standing import MovedAverage as MovedAverage
from letter_merge.records.standing import Standing as Standing
from letter_merge.sync import RECORDS, conflict_copies, local_copy_of, synced_by


@dataclass(frozen=True)
class StateCount:
    state: str
    count: int
    meaning: str


@dataclass(frozen=True)
class SyncNote:
    """The output folder is kept in sync by a client: where the live ledger is, and any
    conflict copies the client left beside it."""

    by: str  # "OneDrive", ...
    folder: Path
    live_ledger: Path
    folder_ledger: Path
    conflicts: tuple[Path, ...]


@dataclass(frozen=True)
class StatusReport:
    year: int
    letters: tuple[Standing, ...]  # the workbook's, in its order, then any built since removed
    counts: tuple[StateCount, ...]  # in the order a letter moves through the states
    came_back: str  # "341 delivered as far as we know, 2 bounced" ('' before any is sent)
    moved_averages: tuple[MovedAverage, ...]
    synced: SyncNote | None
    unknown_because: tuple[Problem, ...]  # why which letters are out of date is unknown
    built: bool  # anything was built for the year
    records: Records = field(repr=False, compare=False)
    # When the letter each council last received was published, by authority (publish)
    published: dict[str, str] = field(default_factory=dict)


def status(inputs: Inputs, records: Records | None = None) -> StatusReport:
    records = records or inputs.records()
    totals = records.counts()
    return StatusReport(
        year=inputs.settings.year,
        letters=tuple(records.standings()),
        counts=tuple(
            StateCount(state, totals[state], meaning)
            for state, (meaning, _) in STATES.items()
            if totals[state]
        ),
        came_back=records.delivery_summary(),
        moved_averages=tuple(records.moved_averages()),
        synced=sync_note(inputs),
        unknown_because=records.unknown_because,
        built=bool(records.built),
        records=records,
        published=published_dates(records),
    )


def proof_shown(standing: Standing) -> str:
    """A letter's proof result as status shows it: only beside a PDF ("" for a letter with
    none, whose last proof, if any, was of a PDF since removed)."""
    return standing.proof_result if standing.record and standing.record.pdf else ""


def sync_note(inputs: Inputs) -> SyncNote | None:
    paths = inputs.settings.paths
    by = synced_by(paths.year_dir)
    if not by:
        return None
    return SyncNote(
        by,
        paths.year_dir,
        local_copy_of(paths.ledger),
        paths.ledger,
        tuple(conflict_copies(paths.year_dir)),
    )


def council_history(inputs: Inputs, name: str) -> History:
    """One council's standing and everything recorded about it; `name` is a council's name or
    a unique part of one."""
    records = inputs.records()
    (authority,) = select_names([s.authority for s in records.standings()], [name])
    return history(records, authority)


def write_status_csv(report: StatusReport, target: Path) -> None:
    """The audit record: one row per message ever queued (re-sends and corrections too), with
    the approval behind it, from the records the report was made from."""
    write_csv(report.records, target)


def record_version(settings: Settings) -> str:
    """A word that changes whenever the record or the inputs do (the ledger, the manifest, the
    decisions, the proof's results, the files the batch is made from), wherever the change was
    made: cheap enough to ask every few seconds, and nothing is read but the files' stamps."""
    paths = settings.paths
    ledger = local_copy_of(paths.ledger)
    files = [
        ledger,
        ledger.with_name(f"{ledger.name}-wal"),
        ledger.with_name(f"{ledger.name}-journal"),
        *(paths.year_dir / name for name in RECORDS if name != paths.ledger.name),
        paths.proof_results,
        *(file.path for file in input_files(settings)),
    ]
    stamps = repr([file_stamp(path) for path in files]).encode()
    return hashlib.sha256(stamps).hexdigest()[:16]
