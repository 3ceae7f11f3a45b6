"""Every field a template can use, one row per council, as a workbook Word can merge from: staff
pick it in Word (Mailings › Select Recipients › Use an Existing List) to insert any field from
Word's own list and preview real letters before letter-merge builds them.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from letter_merge.batch import Batch
from letter_merge.files import write_atomic
from letter_merge.template.switches import plain
from letter_merge.workbook import field_name

SHEET = "Recipients"
LEFT_OUT = {"received", "decisions", "chart"}  # tables and the chart: for {{ }} templates


def header(field: str, written: Mapping[str, str]) -> str:
    """A field's column header: as in the workbook where it is a column, else from its name
    (upheld_rate_average -> 'Upheld rate average'). Word shows either with underscores
    (Authority_type), which letter-merge matches to the field."""
    if field in written:
        return written[field]
    text = field.replace("_", " ")
    return text[:1].upper() + text[1:]


def write_recipients(batch: Batch, target: Path) -> tuple[int, int]:
    """Write the workbook to `target`; (councils, fields) written."""
    letters = batch.letters()
    columns: list[str] = list(batch.workbook.headers)  # the workbook's own columns first
    for letter in letters:
        for name, value in _row_fields(letter.fields).items():
            if name not in columns and not isinstance(value, list | tuple | dict):
                columns.append(name)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    sheet.append([header(name, batch.workbook.headers) for name in columns])
    for number, letter in enumerate(letters, start=1):
        values = _row_fields({**letter.fields, "record_number": number})
        sheet.append([_cell(values.get(name)) for name in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    write_atomic(target, buffer.getvalue())
    return len(letters), len(columns)


def _row_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The letter's fields as columns: each field, and each Received: and Decided: count."""
    row = {name: value for name, value in fields.items() if name not in LEFT_OUT}
    for kind, prefix in (("received", "Received"), ("decisions", "Decided")):
        for item in fields.get(kind) or []:
            row[field_name(f"{prefix}: {item['label']}")] = item["count"]
    row.setdefault("record_number", None)
    return row


def _cell(value: Any) -> Any:
    """Numbers as numbers, dates as the text the letters print (Word reads a date from text
    for a date picture, and shows it otherwise as written), nothing for an empty value."""
    if isinstance(value, dt.date | dt.datetime):
        return plain(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value
    return str(value)
