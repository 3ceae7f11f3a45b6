"""Reading the workbook: the Contacts and Statistics sheets, checked and joined into one `Council` each.

Every problem is collected with its sheet!cell, so staff can fix them all in one pass.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from email_validator import EmailNotValidError, validate_email
from openpyxl.utils import get_column_letter

from letter_merge.errors import InputError, Problem
from letter_merge.untrusted import WORKBOOK, check_package

AUTHORITY_TYPES = (
    "County Council",
    "District Council",
    "Metropolitan Borough",
    "Unitary Council",
    "London Borough",
)
DEFAULT_JOB_TITLE = "Chief Executive"
RECEIVED_PREFIX = "received:"
DECIDED_PREFIX = "decided:"

CONTACT_COLUMNS = {  # normalised header -> required
    "authority": True,
    "authority type": True,
    "gss code": False,
    "title": False,
    "first name": False,
    "surname": True,
    "job title": False,
    "email": True,
    "cc": False,
}
STATISTIC_COLUMNS = {
    "authority": True,
    "detailed investigations": True,
    "upheld": True,
    "compliance outcomes": True,
    "complied": True,
    "satisfactory remedies": True,
}
# Columns that end up in email headers: a line break there could smuggle in another header.
SINGLE_LINE_COLUMNS = ("authority", "title", "first name", "surname", "job title", "email", "cc")


@dataclass(frozen=True)
class Count:
    """One row of an appendix table: a category (or outcome) and its count."""

    label: str
    count: int


@dataclass(frozen=True)
class Statistics:
    detailed_investigations: int
    upheld: int
    compliance_outcomes: int
    complied: int
    satisfactory_remedies: int
    received: tuple[Count, ...] = ()
    decisions: tuple[Count, ...] = ()


@dataclass(frozen=True)
class Council:
    """One recipient: a Contacts row joined with its Statistics row."""

    authority: str
    authority_type: str
    surname: str
    email: str
    statistics: Statistics
    title: str = ""
    first_name: str = ""
    job_title: str = DEFAULT_JOB_TITLE
    gss_code: str = ""
    cc: tuple[str, ...] = ()
    # Every column of both sheets under its snake_case field name, as the template sees it.
    fields: Mapping[str, Any] = field(default_factory=dict)
    contacts_row: int = 0
    statistics_row: int = 0

    @property
    def full_name(self) -> str:
        """'Nick Sinnott', as an email's To shows a person; 'Mr Sinnott' without a first name."""
        lead = self.first_name or self.title
        return f"{lead} {self.surname}" if lead else self.surname

    @property
    def salutation(self) -> str:
        """'Mr Sinnott'; without a title, first name and surname ('Jo Sinnott')."""
        lead = self.title or self.first_name
        return f"{lead} {self.surname}" if lead else self.surname


@dataclass(frozen=True)
class Workbook:
    path: Path
    councils: tuple[Council, ...]
    # Field names the sheets provide (snake_case), for checking a template against them.
    fields: frozenset[str]
    problems: tuple[Problem, ...]
    # Both sheets were found with their required columns: only then do `fields` say which
    # fields exist (a missing sheet is one problem, not one per field the template uses).
    complete: bool = True
    # Each field's column header as written (`gss_code` -> 'GSS code').
    headers: Mapping[str, str] = field(default_factory=dict)
    # What was read other than as it stands, and said so: a title row above the headers, a hidden
    # sheet, "1,204" typed as text. Warnings: they stop nothing.
    notes: tuple[Problem, ...] = ()

    @property
    def extra_fields(self) -> frozenset[str]:
        """Fields from columns beyond those product.md defines (`Link officer name`, ...)."""
        standard = {field_name(c) for c in (*CONTACT_COLUMNS, *STATISTIC_COLUMNS)}
        prefixes = tuple(field_name(p) for p in (RECEIVED_PREFIX, DECIDED_PREFIX))
        return frozenset(f for f in self.fields if f not in standard and not f.startswith(prefixes))


def normalise_header(text: object) -> str:
    """Headers match ignoring case, surrounding spaces and repeated spaces."""
    return " ".join(str(text).split()).casefold() if text is not None else ""


def field_name(header: str) -> str:
    """`Link officer name` -> `link_officer_name`; `Received: Adult care` -> `received_adult_care`."""
    name = re.sub(r"\W+", "_", normalise_header(header)).strip("_")
    return f"column_{name}" if name[:1].isdigit() else name


def authority_key(name: str) -> str:
    """Authorities match ignoring case and spacing."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class CellError:
    """A cell whose value cannot be used: a formula with no saved result, or an error value.
    Reported once where it is found; the checks after that pass over it in silence."""

    message: str


def read_workbook(path: Path) -> Workbook:
    """Read and check both sheets. Problems are returned, not raised, so `check` can list them all."""
    if not path.is_file():
        raise InputError(f"{path}: no such workbook; check [paths] workbook in letter-merge.toml.")
    check_package(path, WORKBOOK)
    # Values as last saved, and the formulas: a formula cell a program wrote without working it
    # out has no saved value, and must not be read as empty (or as 0).
    values, formulas = _open(path, data_only=True), _open(path, data_only=False)
    try:
        problems: list[Problem] = []
        notes: list[Problem] = []
        contacts = _read_sheet(values, formulas, "Contacts", CONTACT_COLUMNS, problems, notes)
        statistics = _read_sheet(values, formulas, "Statistics", STATISTIC_COLUMNS, problems, notes)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise InputError(
            f"{path}: cannot be read as an Excel workbook ({error}); save it from Excel as .xlsx."
        ) from None
    finally:
        values.close()
        formulas.close()
    headers: dict[str, str] = {}  # Contacts first, then Statistics
    for sheet in (contacts, statistics):
        for written in sheet.headers.values() if sheet else ():
            headers.setdefault(field_name(written), written)
    fields = frozenset(headers)
    councils: list[Council] = []
    if contacts and statistics:
        councils = _join(contacts, statistics, problems)
    complete = contacts is not None and statistics is not None
    return Workbook(path, tuple(councils), fields, tuple(problems), complete, headers, tuple(notes))


def _open(path: Path, *, data_only: bool) -> Any:
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise InputError(
            f"{path}: cannot be read as an Excel workbook ({type(error).__name__}: {error}); "
            "save it from Excel as .xlsx."
        ) from None


@dataclass
class _Sheet:
    name: str
    headers: dict[int, str]  # column index (0-based) -> header as written
    columns: dict[str, int]  # normalised header -> column index
    rows: list[tuple[int, tuple[Any, ...]]]  # (row number, values)
    notes: list[Problem] = field(default_factory=list)  # the workbook's, shared

    def header(self, column: str) -> str:
        """A column as the workbook spells it ('GSS code')."""
        index = self.columns.get(column)
        return self.headers[index] if index is not None else _display(column)

    def cell(self, column: str, row: int) -> str:
        return f"{self.name}!{get_column_letter(self.columns[column] + 1)}{row}"

    def place(self, column: str | int, row: int, authority: str) -> str:
        """A data cell as messages name it: 'Statistics!C14 (Upheld, Derby City Council)'."""
        index = self.columns[column] if isinstance(column, str) else column
        header = self.headers.get(index, "")
        about = ", ".join(part for part in (header, authority) if part)
        cell = f"{self.name}!{get_column_letter(index + 1)}{row}"
        return f"{cell} ({about})" if about else cell

    def value(self, values: tuple[Any, ...], column: str) -> Any:
        """The cell under a column (normalised header) in a row; None where there is none."""
        index = self.columns.get(column)
        return None if index is None else self.at(values, index)

    @staticmethod
    def at(values: tuple[Any, ...], index: int) -> Any:
        """Rows end at their last filled cell, so a short row has None for the rest."""
        return values[index] if index < len(values) else None


def _read_sheet(
    book: Any,
    formulas: Any,
    name: str,
    expected: Mapping[str, bool],
    problems: list[Problem],
    notes: list[Problem],
) -> _Sheet | None:
    sheet_names = {normalise_header(n): n for n in book.sheetnames}
    actual = sheet_names.get(normalise_header(name))
    if actual is None:
        listed = ", ".join(
            n if book[n].sheet_state == "visible" else f"{n} (hidden)" for n in book.sheetnames
        )
        problems.append(
            Problem(
                name,
                f"the workbook has no sheet named '{name}' (it has: {listed}); rename the sheet "
                "or add it.",
            )
        )
        return None
    worksheet, formula_sheet = book[actual], formulas[actual]
    if worksheet.sheet_state != "visible":
        notes.append(
            Problem(
                actual,
                "is a hidden sheet; it was read all the same. Unhide it in Excel (right-click a "
                "sheet tab › Unhide) to see what the letters are made from.",
            )
        )
    for sheet in (worksheet, formula_sheet):
        sheet.reset_dimensions()  # some writers record a wrong used range; read what is there
    rows = list(_non_blank_rows(_cell_values(worksheet.iter_rows(), formula_sheet.iter_rows())))
    if not rows:
        problems.append(Problem(name, "the sheet is empty; it needs a header row and data rows."))
        return None
    start = _header_row(rows, expected, actual, notes)
    header_number, header_values = rows[start]
    rows = rows[start + 1 :]
    headers: dict[int, str] = {}
    columns: dict[str, int] = {}
    for index, value in enumerate(header_values):
        key = normalise_header(value)
        if not key:
            continue
        where = f"{name}!{get_column_letter(index + 1)}{header_number}"
        if key in columns:
            problems.append(
                Problem(where, f"the column '{value}' appears twice; delete or rename one of them.")
            )
            continue
        headers[index] = str(value).strip()
        columns[key] = index
    missing = [c for c, required in expected.items() if required and c not in columns]
    for column in missing:
        problems.append(
            Problem(
                f"{name} row {header_number}",
                f"the required column '{_display(column)}' is missing from the header row; add it.",
            )
        )
    if missing:
        return None
    return _Sheet(actual, headers, columns, rows, notes)


TITLE_ROWS = 5  # rows above the headers that may be a title, a date, a note


def _header_row(
    rows: Sequence[tuple[int, tuple[Any, ...]]],
    expected: Mapping[str, bool],
    sheet: str,
    notes: list[Problem],
) -> int:
    """Where the header row is among `rows`: the first, or, where that lacks the required columns
    and a row a little below has them all (a title row above the headers, as many offices keep
    one), that row, said so."""
    required = {c for c, needed in expected.items() if needed}
    for index, (number, values) in enumerate(rows[: TITLE_ROWS + 1]):
        if required <= {normalise_header(v) for v in values}:
            if index:
                above = ", ".join(str(n) for n, _ in rows[:index])
                notes.append(
                    Problem(
                        f"{sheet} row {number}",
                        f"the headers are on row {number}; what is above them (row {above}) was "
                        "taken as a title and not read.",
                    )
                )
            return index
    return 0  # no row has them all: the first is the header row, and says what it lacks


def _cell_values(
    rows: Iterator[tuple[Any, ...]], formula_rows: Iterator[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    """Each row's values, with a CellError where the value cannot be used."""
    for cells, formula_cells in zip(rows, formula_rows, strict=False):
        values: list[Any] = []
        for index, cell in enumerate(cells):
            value = cell.value
            if getattr(cell, "data_type", None) == "e":
                value = CellError(
                    f"holds the error value {value}; correct the formula, or the cells it uses, "
                    "and save the workbook"
                )
            elif value is None and index < len(formula_cells):
                formula = formula_cells[index]
                if getattr(formula, "data_type", None) == "f":
                    text = getattr(formula.value, "text", formula.value)
                    value = CellError(
                        f"holds a formula with no saved result ({_shorter(str(text))}); open "
                        "the workbook in Excel or LibreOffice and save it"
                    )
            values.append(value)
        yield tuple(values)


def _shorter(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


# Columns whose name is not a capital and then small letters, as the manual spells them.
SPELLED = {"gss code": "GSS code"}


def _display(column: str) -> str:
    """A required column as the manual names it, for one the workbook does not have."""
    return SPELLED.get(column, column[:1].upper() + column[1:])


def _non_blank_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    for number, values in enumerate(rows, start=1):
        if any(not _is_blank(v) for v in values):
            yield number, values


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if value is None or isinstance(value, CellError):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _whole_number(value: Any) -> int | None:
    """A whole number, also when typed as text ("12") or stored as 12.0; otherwise None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


@dataclass
class _Row:
    """The checked values of one sheet row, by normalised header."""

    number: int
    values: dict[str, Any]
    fields: dict[str, Any]


def _cell_errors(
    sheet: _Sheet, number: int, values: tuple[Any, ...], authority: str, problems: list[Problem]
) -> bool:
    """Report every unusable cell of a row (formulas without results, error values); False if any."""
    ok = True
    for index in sheet.headers:
        value = sheet.at(values, index)
        if isinstance(value, CellError):
            problems.append(Problem(sheet.place(index, number, authority), value.message))
            ok = False
    return ok


def _contacts_rows(sheet: _Sheet, problems: list[Problem]) -> list[_Row]:
    result = []
    for number, values in sheet.rows:
        authority = " ".join(_text(sheet.value(values, "authority")).split())
        row = _Row(number, {}, {})
        ok = _cell_errors(sheet, number, values, authority, problems)
        for index, header in sheet.headers.items():
            raw = sheet.at(values, index)
            row.fields[field_name(header)] = _text(raw) if isinstance(raw, str | float) else raw
        for column in CONTACT_COLUMNS:
            row.values[column] = _text(sheet.value(values, column))
        for column in SINGLE_LINE_COLUMNS:
            text = row.values.get(column, "")
            if "\r" in text or "\n" in text:
                problems.append(
                    Problem(
                        sheet.place(column, number, authority),
                        f"{_short(text)} contains a line break; it must be on one line.",
                    )
                )
                ok = False
            elif column != "cc":
                row.values[column] = " ".join(text.split())  # pasted text often has double spaces
        for column, required in CONTACT_COLUMNS.items():
            unusable = isinstance(sheet.value(values, column), CellError)  # reported above
            if required and not row.values[column] and not unusable:
                problems.append(
                    Problem(
                        sheet.place(column, number, authority),
                        f"{sheet.header(column)} is empty; every council needs one.",
                    )
                )
                ok = False
        kind = row.values["authority type"]
        if kind:
            matched = next((t for t in AUTHORITY_TYPES if t.casefold() == kind.casefold()), None)
            if matched is None:
                problems.append(
                    Problem(
                        sheet.place("authority type", number, authority),
                        f"'{kind}' is not an authority type; use one of "
                        f"{', '.join(AUTHORITY_TYPES)}.",
                    )
                )
                ok = False
            row.values["authority type"] = matched or kind
        if row.values["email"] and "\n" not in row.values["email"]:
            where = sheet.place("email", number, authority)
            address = _email(row.values["email"], where, problems)
            ok = ok and address is not None
            row.values["email"] = address or row.values["email"]
        cc_list: list[str] = []
        for part in re.split(r"[;,]", row.values.get("cc", "")):
            if part.strip() and "\n" not in part:
                address = _email(part.strip(), sheet.place("cc", number, authority), problems)
                ok = ok and address is not None
                cc_list.append(address or part.strip())
        row.values["cc"] = tuple(cc_list)
        row.values["job title"] = row.values["job title"] or DEFAULT_JOB_TITLE
        if not ok:
            row.values["_invalid"] = True
        result.append(row)
    return result


def _email(text: str, where: str, problems: list[Problem]) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as error:
        problems.append(Problem(where, f"'{text}' is not a valid email address ({error})"))
        return None


def _statistics_rows(sheet: _Sheet, problems: list[Problem]) -> list[_Row]:
    count_columns = [
        (index, header)
        for index, header in sheet.headers.items()
        if normalise_header(header).startswith((RECEIVED_PREFIX, DECIDED_PREFIX))
    ]
    result = []
    for number, values in sheet.rows:
        authority = " ".join(_text(sheet.value(values, "authority")).split())
        row = _Row(number, {"authority": authority}, {})
        ok = _cell_errors(sheet, number, values, authority, problems)
        if not authority:
            ok = False
            if not isinstance(sheet.value(values, "authority"), CellError):
                problems.append(
                    Problem(
                        sheet.cell("authority", number), "Authority is empty; name the council."
                    )
                )
        for column in STATISTIC_COLUMNS:
            if column == "authority":
                continue
            number_value = _checked_count(
                sheet.value(values, column),
                sheet.place(column, number, authority),
                problems,
                required=True,
                notes=sheet.notes,
            )
            ok = ok and number_value is not None
            row.values[column] = number_value
        received: list[Count] = []
        decisions: list[Count] = []
        for index, header in count_columns:
            raw = sheet.at(values, index)
            where = sheet.place(index, number, authority)
            number_value = _checked_count(raw, where, problems, required=False, notes=sheet.notes)
            ok = ok and number_value is not None
            prefix_length = header.index(":") + 1
            label = " ".join(header[prefix_length:].split())
            target = received if normalise_header(header).startswith(RECEIVED_PREFIX) else decisions
            target.append(Count(label, number_value or 0))
        for index, header in sheet.headers.items():
            raw = sheet.at(values, index)
            numeric = _whole_number(raw)
            row.fields[field_name(header)] = numeric if numeric is not None else _text(raw)
        if ok:
            ok = _check_relations(sheet, number, authority, row.values, problems)
        row.values["received"] = tuple(received)
        row.values["decisions"] = tuple(decisions)
        if not ok:
            row.values["_invalid"] = True
        result.append(row)
    return result


THOUSANDS = re.compile(r"\s*\d{1,3}(,\d{3})+\s*")  # "1,204": a count typed with its separator


def _checked_count(
    value: Any, where: str, problems: list[Problem], *, required: bool, notes: list[Problem]
) -> int | None:
    if isinstance(value, CellError):
        return None  # reported with the row's other unusable cells
    if _is_blank(value):
        if not required:
            return 0  # an empty Received:/Decided: cell means none
        problems.append(Problem(where, "is empty; enter a whole number (0 if none)."))
        return None
    number = _whole_number(value)
    if number is None and isinstance(value, str) and THOUSANDS.fullmatch(value):
        number = int(value.replace(",", ""))
        notes.append(
            Problem(
                where,
                f"{_short(value)} is text with a thousands separator; it was read as {number}. "
                "Type it as a number to be sure (Excel shows the separator by itself).",
            )
        )
    if number is None:
        problems.append(
            Problem(where, f"{_short(value)} is not a whole number; type digits only (e.g. 12).")
        )
        return None
    if number < 0:
        problems.append(Problem(where, f"{number} is negative; counts must be 0 or more."))
        return None
    return number


RELATIONS = (  # (smaller, larger): the smaller can never exceed the larger
    ("upheld", "detailed investigations"),
    ("complied", "compliance outcomes"),
    ("satisfactory remedies", "upheld"),
)


def _check_relations(
    sheet: _Sheet, number: int, authority: str, values: Mapping[str, Any], problems: list[Problem]
) -> bool:
    ok = True
    for smaller, larger in RELATIONS:
        if values[smaller] > values[larger]:
            problems.append(
                Problem(
                    sheet.place(smaller, number, authority),
                    f"{sheet.header(smaller)} ({values[smaller]}) is more than "
                    f"{sheet.header(larger)} ({values[larger]}); it can be at most that.",
                )
            )
            ok = False
    return ok


def _short(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _join(contacts: _Sheet, statistics: _Sheet, problems: list[Problem]) -> list[Council]:
    contact_rows = _contacts_rows(contacts, problems)
    statistic_rows = _statistics_rows(statistics, problems)

    _check_unique(contacts, contact_rows, "authority", authority_key, problems)
    _check_unique(contacts, contact_rows, "gss code", str.casefold, problems)
    _check_unique(contacts, contact_rows, "email", str.casefold, problems)
    _check_unique(statistics, statistic_rows, "authority", authority_key, problems)

    by_key = {
        authority_key(r.values["authority"]): r for r in statistic_rows if r.values["authority"]
    }
    contact_keys = {authority_key(r.values["authority"]) for r in contact_rows}
    for row in statistic_rows:
        name = row.values["authority"]
        if name and authority_key(name) not in contact_keys:
            problems.append(
                Problem(
                    statistics.cell("authority", row.number),
                    f"'{name}' is not on the Contacts sheet; check its spelling or add a "
                    "Contacts row for it.",
                )
            )
    councils = []
    for row in contact_rows:
        name = row.values["authority"]
        stats = by_key.get(authority_key(name)) if name else None
        if name and stats is None:
            problems.append(
                Problem(
                    contacts.cell("authority", row.number),
                    f"'{name}' has no row on the Statistics sheet; add its figures there.",
                )
            )
            continue
        if stats is None or row.values.get("_invalid") or stats.values.get("_invalid"):
            continue
        councils.append(_council(row, stats))
    return councils


def _check_unique(
    sheet: _Sheet,
    rows: Sequence[_Row],
    column: str,
    key: Any,
    problems: list[Problem],
) -> None:
    if column not in sheet.columns:
        return
    first_row: dict[str, _Row] = {}
    for row in rows:
        value = row.values.get(column) or ""
        if not value:
            continue
        k = key(value)
        if k in first_row:
            first = first_row[k]
            council = row.values.get("authority") or ""
            other = first.values.get("authority") or ""
            also = (
                f"row {first.number}, {other}"
                if other and other != council
                else f"row {first.number}"
            )
            problems.append(
                Problem(
                    sheet.place(column, row.number, council),
                    f"'{value}' is on two rows (also {also}); "
                    f"each {sheet.header(column)} must be on one row only.",
                )
            )
            row.values["_invalid"] = True
        else:
            first_row[k] = row


def _council(contact: _Row, stats: _Row) -> Council:
    values = contact.values
    s = stats.values
    statistics = Statistics(
        detailed_investigations=s["detailed investigations"],
        upheld=s["upheld"],
        compliance_outcomes=s["compliance outcomes"],
        complied=s["complied"],
        satisfactory_remedies=s["satisfactory remedies"],
        received=s["received"],
        decisions=s["decisions"],
    )
    return Council(
        authority=values["authority"],
        authority_type=values["authority type"],
        surname=values["surname"],
        email=values["email"],
        statistics=statistics,
        title=values["title"],
        first_name=values["first name"],
        job_title=values["job title"],
        gss_code=values["gss code"],
        cc=values["cc"],
        fields={**stats.fields, **contact.fields},  # cleaned values are set by letter_fields
        contacts_row=contact.number,
        statistics_row=stats.number,
    )
