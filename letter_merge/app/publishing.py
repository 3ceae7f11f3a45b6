"""`publish`: publication day. Into `output/<year>/publish/` go each council's letter as it last
received it (the PDF attached to its last message sent, byte for byte, under a name fit for the
web), the data for the map as the letters state it (CSV and JSON, a row a council), a page the
web team checks at a glance (index.html) and every file's SHA-256 (SHA256SUMS). Nothing is
uploaded: the office's web team does that, on the publication date."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from letter_merge.app.inputs import Inputs
from letter_merge.errors import LetterMergeError
from letter_merge.fields import british_date
from letter_merge.figures import FIGURE_FIELDS, RATE_LABELS
from letter_merge.files import sha256_file, write_atomic
from letter_merge.pdf.reading import pdf_text
from letter_merge.records.publication import (
    Received,
    publication,
    published_dates,
    record_published,
)
from letter_merge.steps import Blocker

DATA_NAME, JSON_NAME, INDEX_NAME, SUMS_NAME = (
    "councils.csv",
    "councils.json",
    "index.html",
    "SHA256SUMS",
)
# The map's data, a column each, in this order; the figures as the letter states them.
COLUMNS = (
    "gss_code",
    "authority",
    "authority_type",
    *(name for rate in RATE_LABELS for name in (rate, f"{rate}_average")),
    "letter",
    "sha256",
    "sent_on",
    "corrected",
)


@dataclass(frozen=True)
class PublishedLetter:
    """One council in the publish folder: its letter's file and the row of the map's data."""

    authority: str
    authority_type: str
    file: str
    sha256: str
    sent_on: str
    corrected: bool
    row: dict[str, str | int | bool | None]


@dataclass(frozen=True)
class PublishReport:
    folder: Path
    publication_date: dt.date
    embargoed: bool  # run before the publication date: prepared, not to go out yet
    letters: tuple[PublishedLetter, ...]
    left_out: tuple[tuple[str, Blocker], ...]  # not published: why, and what to do
    files: tuple[str, ...]  # every file in the folder, the manifest last
    recorded: int  # councils whose publication was recorded now (none before the date)


def web_name(authority: str, year: int) -> str:
    """'leicestershire-county-council-annual-review-2020.pdf': lower case ASCII letters, digits
    and hyphens, the same for the same council every year it is run."""
    text = unicodedata.normalize("NFKD", authority.replace("&", " and "))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return f"{re.sub(r'[^a-z0-9]+', '-', text).strip('-')}-annual-review-{year}.pdf"


def publish(inputs: Inputs, today: dt.date | None = None) -> PublishReport:
    """Write the publish folder from the records, check it against them, and record (from the
    publication date on) that each council's letter was published."""
    settings = inputs.settings
    inputs.batch()  # the inputs must be readable: whether a letter would now differ is asked
    records = inputs.records()
    records.require_built()
    found = publication(records)
    day = settings.publication_date
    embargoed = (today or dt.date.today()) < day
    letters = [_published(item, settings.year) for item in found.received]
    names = [letter.file for letter in letters]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise LetterMergeError(f"Two councils' letters would be published as {twice[0]}.")
    folder = settings.paths.publish
    files: dict[str, bytes] = {
        item.file: received.pdf for item, received in zip(letters, found.received, strict=True)
    }
    files[DATA_NAME] = _csv(letters)
    files[JSON_NAME] = _json(letters)
    files[INDEX_NAME] = _index(letters, settings.year, day, embargoed)
    files[SUMS_NAME] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    ).encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.pdf"):  # a council no longer published (see left_out)
        if stale.name not in files:
            stale.unlink()
    for name, data in files.items():
        target = folder / name
        if not target.is_file() or target.read_bytes() != data:
            write_atomic(target, data)
    _check_folder(folder, letters)
    recorded = 0
    if not embargoed:
        recorded = record_published(
            records,
            [(item, letter.file) for item, letter in zip(found.received, letters, strict=True)],
        )
    return PublishReport(
        folder,
        day,
        embargoed,
        tuple(letters),
        found.left_out,
        tuple([*sorted(n for n in files if n != SUMS_NAME), SUMS_NAME]),
        recorded,
    )


def when_published(inputs: Inputs) -> dict[str, str]:
    """When the letter each council last received was published, by authority (a council
    whose letter has not been is not in it)."""
    return published_dates(inputs.records())


def _published(item: Received, year: int) -> PublishedLetter:
    """One council's entry, its figures checked against its letter's own text."""
    _check_figures(item)
    name = web_name(item.authority, year)
    row: dict[str, str | int | bool | None] = {
        "gss_code": item.gss_code,
        "authority": item.authority,
        "authority_type": item.authority_type,
        **{field: item.figures.get(field) for field in FIGURE_FIELDS},
        "letter": name,
        "sha256": item.message.pdf_sha256,
        "sent_on": item.sent_on,
        "corrected": item.corrected,
    }
    return PublishedLetter(
        item.authority,
        item.authority_type,
        name,
        item.message.pdf_sha256,
        item.sent_on,
        item.corrected,
        row,
    )


def _check_figures(item: Received) -> None:
    """Each figure of the map's row is printed in the letter the council received ("53%"), read
    back from its PDF as the proof reads it: the map says what the letter says."""
    text = " ".join(pdf_text(item.pdf).split())
    missing = [
        f"{field} {value}%"
        for field, value in item.figures.items()
        if value is not None and f"{value}%" not in text
    ]
    if missing:
        raise LetterMergeError(
            f"{item.authority}: the letter it received does not state {', '.join(missing)}, "
            "as the record of what it states says; nothing was published. Check the letter "
            "and the template, and tell the office's developer."
        )


def _check_folder(folder: Path, letters: list[PublishedLetter]) -> None:
    """The folder as the records say it should be: each letter's file the very PDF sent."""
    for letter in letters:
        if sha256_file(folder / letter.file) != letter.sha256:
            raise LetterMergeError(
                f"{letter.authority}: {folder / letter.file} is not the letter it was sent; "
                "run letter-merge publish again."
            )


def _csv(letters: list[PublishedLetter]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for letter in letters:
        writer.writerow([_cell(letter.row[column]) for column in COLUMNS])
    return buffer.getvalue().encode("utf-8")


def _cell(value: str | int | bool | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _json(letters: list[PublishedLetter]) -> bytes:
    rows = [{column: letter.row[column] for column in COLUMNS} for letter in letters]
    return (json.dumps(rows, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _index(letters: list[PublishedLetter], year: int, day: dt.date, embargoed: bool) -> bytes:
    """The page the web team checks: a table a type of authority, each council linked to its
    letter, with the figures the map will show."""
    e = html.escape
    title = f"Annual Review letters {year}: for publication on {british_date(day)}"
    kinds: dict[str, list[PublishedLetter]] = {}
    for letter in letters:
        kinds.setdefault(letter.authority_type, []).append(letter)
    head = "".join(
        f'<th scope="col">{e(label)}</th><th scope="col">{e(label)}: average of similar '
        "authorities</th>"
        for label in RATE_LABELS.values()
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en-GB">',
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1rem 2rem;color:#1a1a1a;background:#fff}"
        "table{border-collapse:collapse;margin-bottom:2rem}th,td{border:1px solid #767676;"
        "padding:.25rem .5rem;text-align:left}a{color:#0b4f9c}</style></head>",
        "<body><main>",
        f"<h1>{e(title)}</h1>",
    ]
    if embargoed:
        parts.append(
            f"<p><strong>Embargoed until {e(british_date(day))}</strong>: not to be put on the "
            "website before then.</p>"
        )
    parts.append(
        f"<p>{len(letters)} letters, each the PDF its council received. The map's data: "
        f'<a href="{DATA_NAME}">{DATA_NAME}</a> and <a href="{JSON_NAME}">{JSON_NAME}</a>; '
        f'every file\'s SHA-256: <a href="{SUMS_NAME}">{SUMS_NAME}</a>.</p>'
    )
    for kind in sorted(kinds):
        rows = kinds[kind]
        parts.append(f"<h2>{e(kind)}</h2>")
        parts.append(
            f"<table><caption>{e(kind)}: {len(rows)} councils</caption><thead><tr>"
            f'<th scope="col">Council</th><th scope="col">GSS code</th>{head}'
            '<th scope="col">Sent</th></tr></thead><tbody>'
        )
        for letter in rows:
            figures = "".join(
                f"<td>{_percent(letter.row[field])}</td><td>{_percent(letter.row[f'{field}_average'])}</td>"
                for field in RATE_LABELS
            )
            sent = letter.sent_on + (" (corrected)" if letter.corrected else "")
            parts.append(
                f'<tr><th scope="row"><a href="{e(letter.file)}">{e(letter.authority)}</a></th>'
                f"<td>{e(str(letter.row['gss_code'] or ''))}</td>{figures}<td>{e(sent)}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</main></body></html>")
    return ("\n".join(parts) + "\n").encode("utf-8")


def _percent(value: str | int | bool | None) -> str:
    return "not applicable" if value is None else f"{value}%"
