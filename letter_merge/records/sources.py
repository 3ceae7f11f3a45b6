"""What each letter is made from, and, for a letter built from older inputs, exactly what changed:
a cell of its own row, an average of its authority type, the template, the settings.

The same template, fields and subject make the same letter, so a letter is current while what it
would be made from now hashes as it did when it was built (its source).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from letter_merge import __version__
from letter_merge.batch import Batch, PlannedLetter
from letter_merge.chart.model import STYLE_VERSION
from letter_merge.figures import RATE_LABELS
from letter_merge.records.manifest import LetterRecord
from letter_merge.words import percent

# Fields that come from the settings rather than the council's row, by what a person calls them.
SETTINGS_FIELDS = {
    "letter_date": "the letter date",
    "publication_date": "the publication date",
    "year": "the year",
    "period_start": "the reporting year's start",
    "period_end": "the reporting year's end",
}
# Fields worked out from the row: a change to them is said through the row's cells.
DERIVED_FIELDS = {"salutation", "received", "decisions", "record_number", *RATE_LABELS}


def template_identity(batch: Batch) -> str:
    """What every letter of the batch is made from besides its own fields: the template, the kind
    of PDF ([pdf] settings), and the chart's look where the template has one."""
    identity = hashlib.sha256(batch.template.source).hexdigest()
    identity += f" pdf {batch.settings.pdf.describe()}"
    if batch.template.uses_chart:
        identity += f" chart {STYLE_VERSION} at {batch.settings.chart_dpi} dpi"
    return identity


def source_sha256(template_hash: str, letter: PlannedLetter, *, every_field: bool = False) -> str:
    """What a letter is made from: the same template, fields and subject make the same letter
    (its addresses, where it does not show them, are the email's, not the letter's).
    `every_field`: as letters built before that distinction were recorded."""
    shown = {k: v for k, v in letter.fields.items() if every_field or k not in letter.addressing}
    fields = json.dumps(shown, sort_keys=True, default=str, ensure_ascii=False)
    text = f"{__version__}\n{template_hash}\n{letter.subject}\n{letter.stem}\n{fields}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def made_from(recorded: str, template_hash: str, letter: PlannedLetter) -> bool:
    """Whether a letter recorded as made from `recorded` is made from what makes it now (a
    letter recorded with its addresses counted is current while they have not changed)."""
    return recorded in (
        source_sha256(template_hash, letter),
        source_sha256(template_hash, letter, every_field=True),
    )


def snapshot(letter: PlannedLetter) -> dict[str, Any]:
    """The letter's fields as the manifest keeps them, to say later what changed."""
    shown = {k: v for k, v in letter.fields.items() if k not in letter.addressing}
    kept: dict[str, Any] = json.loads(
        json.dumps(shown, sort_keys=True, default=str, ensure_ascii=False)
    )
    return kept


@dataclass(frozen=True)
class Change:
    """One thing a letter was built from that is different now."""

    kind: str  # "row", "average", "settings", "template", "letter-merge", "subject", "unknown"
    text: str  # in words: "its row: Upheld 9 → 3"
    field: str = ""
    before: Any = None
    after: Any = None
    authority_type: str = ""


def changes(
    record: LetterRecord,
    letter: PlannedLetter,
    template_hash: str,
    headers: Mapping[str, str],
) -> list[Change]:
    """Why a letter built as `record` is not the letter its inputs make now ([] when it is)."""
    if made_from(record.source_sha256, template_hash, letter):
        return []
    found: list[Change] = []
    if record.tool_version and record.tool_version != __version__:
        found.append(Change("letter-merge", f"letter-merge was updated ({record.tool_version})"))
    if record.template and record.template != template_hash:
        found.append(Change("template", _template_change(record.template, template_hash)))
    if record.subject != letter.subject:
        found.append(
            Change("subject", f"its subject: {record.subject!r} → {letter.subject!r}", "subject")
        )
    if not record.fields:
        if not found:
            found.append(
                Change("unknown", "it was built by an earlier letter-merge from other inputs")
            )
        return found
    now = snapshot(letter)
    council = letter.council
    row: list[str] = []
    for name in sorted((set(record.fields) | set(now)) - letter.addressing, key=_order(headers)):
        before, after = record.fields.get(name), now.get(name)
        if before == after:
            continue
        if name.endswith("_rate_average"):
            label = RATE_LABELS.get(name.removesuffix("_average"), name).lower()
            found.append(
                Change(
                    "average",
                    f"the {council.authority_type} average for {label} moves from "
                    f"{percent(before)} to {percent(after)}",
                    name,
                    before,
                    after,
                    council.authority_type,
                )
            )
        elif name in SETTINGS_FIELDS:
            found.append(
                Change(
                    "settings", f"{SETTINGS_FIELDS[name]}: {before} → {after}", name, before, after
                )
            )
        elif name in headers:
            row.append(f"{headers[name]} {_shown(before)} → {_shown(after)}")
        elif name not in DERIVED_FIELDS:
            row.append(f"{name} {_shown(before)} → {_shown(after)}")
    if row:
        found.insert(0, Change("row", f"its row: {'; '.join(row)}"))
    if not found:
        found.append(Change("unknown", "its file name or the way it is made changed"))
    return found


def _order(headers: Mapping[str, str]) -> Any:
    position = {name: number for number, name in enumerate(headers)}
    return lambda name: (position.get(name, len(position)), name)


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    return repr(value) if isinstance(value, str) else str(value)


def _template_change(before: str, after: str) -> str:
    old, new = before.split(" ", 1)[0], after.split(" ", 1)[0]
    if old != new:
        return "the template changed"
    return "the [pdf] or [chart] settings changed"
