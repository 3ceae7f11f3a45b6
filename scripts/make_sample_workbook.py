"""Generate input/councils.xlsx: all 343 councils of 2019/20 with fictional contacts and statistics.

Deterministic (seeded), so the committed workbook can be remade exactly (`make sample-data`).
Councils, codes and types come from data/english-councils-2019-20.csv (mySociety, MIT). Contacts are
invented, on example.org addresses, except Leicestershire's chief executive, Mr Sinnott, as in the
letter the default template reproduces. The statistics are synthetic but consistent (upheld never
exceeds investigated, and so on), with a few honest edge cases:

- Council of the Isles of Scilly: no detailed investigations, so every rate is undefined;
- Brighton & Hove City Council: an ampersand in the name;
- several councils with a Cc list (one with two addresses), one chief executive with no title,
  names with apostrophes and accents, and one count typed as text ("12").
"""

from __future__ import annotations

import csv
import random
import re
import sys
import unicodedata
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data" / "english-councils-2019-20.csv"
TARGET = ROOT / "input" / "councils.xlsx"
SEED = 2020

FEMALE_NAMES = (
    "Alison Angela Anne Caroline Catherine Claire Deborah Eleanor Emma Fiona Gillian Hannah Helen "
    "Jane Judith Karen Kate Laura Lisa Nadia Nicola Priya Rachel Ruth Sarah Susan Tracey Yvonne Zoe"
).split()
MALE_NAMES = (
    "Andrew Carl Chris David Gareth Ian James John Kevin Mark Martin Matthew Michael Neil Paul "
    "Richard Robert Simon Stephen Tom Vikram"
).split()
FIRST_NAMES = FEMALE_NAMES + MALE_NAMES
SURNAMES = (
    "Abbott Adeyemi Ahmed Ainsworth Allen Ashworth Bailey Baker Banerjee Barker Barnes Bell "
    "Bennett Bishop Booth Bowen Bradley Brennan Brooks Burton Byrne Campbell Carter Chadwick "
    "Chapman Clarke Coleman Collins Cooper Cox Crawford Dale Davies Dawson Dixon Doyle Duncan "
    "Edwards Ellis Evans Farrell Fisher Fleming Fletcher Ford Foster Fox Gibson Gill Goodwin "
    "Graham Grant Gray Green Griffiths Hall Hamilton Harding Harris Hart Hayes Henderson Hill "
    "Holmes Hughes Hunt Hussain Jackson James Jenkins Johnson Jones Kaur Kelly Kennedy Khan King "
    "Knight Lawrence Lewis Lloyd Lowe Marsh Marshall Mason Matthews Mills Mitchell Moore Morgan "
    "Morris Murphy Murray Nash Newman Nolan Osborne Owen Parker Patel Payne Pearson Phillips "
    "Porter Powell Price Quinn Reid Reynolds Richards Roberts Robinson Rose Russell Saunders Scott "
    "Shah Sharma Shaw Simpson Singh Smith Spencer Stevens Stewart Sullivan Taylor Thomas Thompson "
    "Turner Wallace Walker Walsh Ward Watson Webb Wells West White Wilkinson Williams Wilson "
    "Wood Wright Young"
).split()
TITLES = ("Mr", "Mrs", "Ms", "Dr", "Ms", "Mr")

RECEIVED = {  # category -> which authority types deliver that service
    "Adult care services": {
        "County Council",
        "Unitary Council",
        "Metropolitan Borough",
        "London Borough",
    },
    "Benefits and tax": {
        "District Council",
        "Unitary Council",
        "Metropolitan Borough",
        "London Borough",
    },
    "Corporate and other services": None,
    "Education and children's services": {
        "County Council",
        "Unitary Council",
        "Metropolitan Borough",
        "London Borough",
    },
    "Environment services": None,
    "Highways and transport": None,
    "Housing": {"District Council", "Unitary Council", "Metropolitan Borough", "London Borough"},
    "Planning and development": None,
    "Other": None,
}
DECIDED = (
    "Upheld",
    "Not upheld",
    "Advice given",
    "Closed after initial enquiries",
    "Incomplete or invalid",
    "Referred back for local resolution",
)


def main() -> None:
    rng = random.Random(SEED)
    councils = list(csv.DictReader(SOURCE.open(encoding="utf-8")))
    contacts = _contacts(councils, rng)
    statistics = [_statistics(council, rng) for council in councils]
    _write(contacts, statistics)
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(contacts)} councils", file=sys.stderr)


def _name_of(council: dict[str, str]) -> str:
    if council["official_name"] == "Brighton and Hove City Council":
        return "Brighton & Hove City Council"  # how the council writes its own name
    return " ".join(council["official_name"].split())  # the source has a stray double space


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _contacts(councils: list[dict[str, str]], rng: random.Random) -> list[list[object]]:
    rows: list[list[object]] = []
    used: set[str] = set()
    special = {
        "Leicestershire County Council": ("Mr", "John", "Sinnott"),
        "Derby City Council": ("Ms", "Siân", "O'Brien"),
        "Adur District Council": (
            "",
            "Alex",
            "Fairbairn-Lowe",
        ),  # no title: "Dear Alex Fairbairn-Lowe"
    }
    for number, council in enumerate(councils):
        name = _name_of(council)
        if council["official_name"] in special:
            title, first, surname = special[council["official_name"]]
        else:
            while True:
                title = rng.choice(TITLES)
                names = {"Mr": MALE_NAMES, "Mrs": FEMALE_NAMES, "Ms": FEMALE_NAMES}
                first = rng.choice(names.get(title, FIRST_NAMES))
                surname = rng.choice(SURNAMES)
                if f"{title} {surname}" not in used and surname != "Sinnott":
                    break
        used.add(f"{title} {surname}" if title else f"{first} {surname}")
        domain = f"{_slug(council['short_name'])}.example.org"
        email = f"{_slug(first)}.{_slug(surname).replace('-', '')}@{domain}"
        link_officer = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        cc = ""
        if number % 3 == 0:
            cc = f"complaints@{domain}"
        if name == "Leicestershire County Council":
            cc = f"complaints@{domain}; leader@{domain}"
        rows.append(
            [
                name,
                council["comparison_group"],
                council["gss_code"],
                title,
                first,
                surname,
                "Chief Executive" if number % 17 else "Managing Director",
                email,
                cc,
                link_officer,
            ]
        )
    return rows


def _statistics(council: dict[str, str], rng: random.Random) -> list[object]:
    name = _name_of(council)
    kind = council["comparison_group"]
    # Councils abolished soon after 2020 have no 2020 estimate: assume a typical one for the type.
    typical = {"County Council": 700_000, "District Council": 100_000}.get(kind, 250_000)
    population = float(council["population_2020"] or typical)
    scale = {"County Council": 1.6, "District Council": 0.7}.get(kind, 1.2)
    investigated = max(0, round(population / 60_000 * scale * rng.uniform(0.6, 1.5)))
    if council["official_name"] == "Council of the Isles of Scilly":
        investigated = 0
    upheld = round(investigated * rng.uniform(0.45, 0.8))
    outcomes = max(0, upheld - rng.randint(0, 2)) if upheld else 0
    complied = outcomes if rng.random() < 0.85 or outcomes == 0 else outcomes - 1
    remedies = min(upheld, round(upheld * rng.uniform(0.0, 0.25)))
    received = []
    total_received = round(investigated * rng.uniform(3.0, 4.5)) + rng.randint(0, 6)
    weights = {
        category: (0 if allowed is not None and kind not in allowed else rng.uniform(0.3, 1.0))
        for category, allowed in RECEIVED.items()
    }
    weight_sum = sum(weights.values())
    for category in RECEIVED:
        received.append(round(total_received * weights[category] / weight_sum))
    decided_other = [rng.randint(0, max(1, investigated)) for _ in DECIDED[2:]]
    row: list[object] = [
        name,
        investigated,
        upheld,
        outcomes,
        complied,
        remedies,
        *received,
        upheld,
        investigated - upheld,
        *decided_other,
    ]
    if name == "Leicestershire County Council":
        row[1] = str(investigated)  # typed as text in Excel: still read as a number
    return row


def _write(contacts: list[list[object]], statistics: list[list[object]]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = "Contacts"
    headers = [
        "Authority",
        "Authority type",
        "GSS code",
        "Title",
        "First name",
        "Surname",
        "Job title",
        "Email",
        "Cc",
        "Link officer name",
    ]
    _sheet(sheet, headers, contacts, widths=[44, 20, 12, 7, 12, 16, 20, 44, 60, 24])
    statistics_sheet = book.create_sheet("Statistics")
    headers = [
        "Authority",
        "Detailed investigations",
        "Upheld",
        "Compliance outcomes",
        "Complied",
        "Satisfactory remedies",
        *(f"Received: {c}" for c in RECEIVED),
        *(f"Decided: {d}" for d in DECIDED),
    ]
    _sheet(statistics_sheet, headers, statistics, widths=[44, *([14] * (len(headers) - 1))])
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    book.properties.creator = "letter-merge sample generator"
    book.save(TARGET)


def _sheet(sheet: object, headers: list[str], rows: list[list[object]], widths: list[int]) -> None:
    sheet.append(headers)  # type: ignore[attr-defined]
    for row in rows:
        sheet.append(row)  # type: ignore[attr-defined]
    fill = PatternFill("solid", fgColor="DCE6F0")
    for cell in sheet[1]:  # type: ignore[index]
        cell.font = Font(bold=True)
        cell.fill = fill
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width  # type: ignore[attr-defined]
    sheet.freeze_panes = "B2"  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
