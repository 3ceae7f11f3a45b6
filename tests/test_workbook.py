"""Reading and checking the workbook: the rules of product.md, each problem with its sheet!cell."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from letter_merge.errors import InputError
from letter_merge.workbook import read_workbook
from tests.helpers import (
    CONTACT_HEADERS,
    STATISTIC_HEADERS,
    contact,
    statistics,
    write_workbook,
)


def problems_of(path: Path) -> list[str]:
    return [str(p) for p in read_workbook(path).problems]


def test_reads_the_small_workbook(workbook_path: Path) -> None:
    book = read_workbook(workbook_path)
    assert book.problems == ()
    names = [c.authority for c in book.councils]
    assert names == [
        "Leicestershire County Council",
        "Derby City Council",
        "Brighton & Hove City Council",
        "Adur District Council",
    ]
    leicestershire = book.councils[0]
    assert leicestershire.salutation == "Mr Sinnott"
    assert leicestershire.job_title == "Chief Executive"  # the default when the cell is empty
    assert leicestershire.statistics.detailed_investigations == 16
    assert book.councils[3].salutation == "Alex Fairbairn"  # no title: first name and surname


def test_headers_match_ignoring_case_spacing_and_order(tmp_path: Path) -> None:
    contact_headers = ["  EMAIL ", "surname", "authority   TYPE", "Authority", "Link officer  name"]
    statistic_headers = list(reversed(STATISTIC_HEADERS))
    path = write_workbook(
        tmp_path / "w.xlsx",
        [["ce@derby.example.org", "Lee", "Unitary Council", "Derby City Council", "Pat Jones"]],
        [list(reversed(statistics("derby   city council")))],
        contact_headers=contact_headers,
        statistic_headers=statistic_headers,
    )
    book = read_workbook(path)
    assert book.problems == ()
    (derby,) = book.councils
    assert derby.surname == "Lee"
    assert derby.fields["link_officer_name"] == "Pat Jones"
    assert "link_officer_name" in book.fields
    assert [(c.label, c.count) for c in derby.statistics.received] == [("Housing", 7)]
    assert [(c.label, c.count) for c in derby.statistics.decisions] == [("Upheld", 5)]


def test_blank_rows_are_skipped_and_numbers_typed_as_text_are_read(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [contact("Derby City Council"), [None] * 9, contact("Adur District Council")],
        [
            statistics("Derby City Council", "12", " 6 ", 6.0),
            [],
            statistics("Adur District Council"),
        ],
    )
    book = read_workbook(path)
    assert book.problems == ()
    assert book.councils[0].statistics.detailed_investigations == 12
    assert book.councils[0].statistics.upheld == 6
    assert book.councils[0].statistics.compliance_outcomes == 6


def test_a_word_where_a_whole_number_belongs_names_sheet_cell_and_value(tmp_path: Path) -> None:
    stats = [statistics(f"Council {n}") for n in range(2, 14)]
    stats.append(statistics("Council 14", investigated=20, upheld="twelve"))
    path = write_workbook(
        tmp_path / "w.xlsx",
        [contact(f"Council {n}", email=f"c{n}@x.example.org") for n in range(2, 15)],
        stats,
    )
    assert problems_of(path) == [
        "Statistics!C14 (Upheld, Council 14): 'twelve' is not a whole number; type digits only (e.g. 12)."
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            2.5,
            "Statistics!B2 (Detailed investigations, Derby City Council): '2.5' is not a whole number; type digits only (e.g. 12).",
        ),
        (
            -1,
            "Statistics!B2 (Detailed investigations, Derby City Council): -1 is negative; counts must be 0 or more.",
        ),
        (
            None,
            "Statistics!B2 (Detailed investigations, Derby City Council): is empty; enter a whole number (0 if none).",
        ),
        (
            True,
            "Statistics!B2 (Detailed investigations, Derby City Council): 'True' is not a whole number; type digits only (e.g. 12).",
        ),
    ],
)
def test_other_bad_counts(tmp_path: Path, value: object, expected: str) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [contact("Derby City Council")],
        [
            statistics(
                "Derby City Council",
                investigated=value,
                upheld=0,
                outcomes=0,
                complied=0,
                remedies=0,
            )
        ],
    )
    assert problems_of(path) == [expected]


def test_a_missing_required_column(tmp_path: Path) -> None:
    headers = [h for h in CONTACT_HEADERS if h != "Surname"]
    path = write_workbook(
        tmp_path / "w.xlsx",
        [
            [
                v
                for h, v in zip(CONTACT_HEADERS, contact("Derby City Council"), strict=True)
                if h != "Surname"
            ]
        ],
        [statistics("Derby City Council")],
        contact_headers=headers,
    )
    assert problems_of(path) == [
        "Contacts row 1: the required column 'Surname' is missing from the header row; add it."
    ]


def test_a_missing_sheet(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "w.xlsx", [contact("Derby City Council")], [])
    from openpyxl import load_workbook

    book = load_workbook(path)
    book["Statistics"].title = "Stats"
    book.save(path)
    assert problems_of(path) == [
        "Statistics: the workbook has no sheet named 'Statistics' (it has: Contacts, Stats); "
        "rename the sheet or add it."
    ]


def test_a_duplicate_authority_ignoring_case_and_spacing(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [
            contact("Derby City Council", email="a@derby.example.org"),
            contact("derby  city council", email="b@derby.example.org"),
        ],
        [statistics("Derby City Council")],
    )
    assert problems_of(path) == [
        "Contacts!A3 (Authority, derby city council): 'derby city council' is on two rows "
        "(also row 2, Derby City Council); each Authority must be on one row only."
    ]


def test_a_bad_email_and_a_bad_cc(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [
            contact(
                "Derby City Council",
                email="chief.executive-at-derby",
                cc="ok@derby.example.org; nope@",
            )
        ],
        [statistics("Derby City Council")],
    )
    assert problems_of(path) == [
        "Contacts!H2 (Email, Derby City Council): 'chief.executive-at-derby' is not a valid email address "
        "(An email address must have an @-sign.)",
        "Contacts!I2 (Cc, Derby City Council): 'nope@' is not a valid email address "
        "(There must be something after the @-sign.)",
    ]


def test_cc_lists_are_split_and_checked(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [contact("Derby City Council", cc=" link@derby.example.org ;leader@derby.example.org; ")],
        [statistics("Derby City Council")],
    )
    (derby,) = read_workbook(path).councils
    assert derby.cc == ("link@derby.example.org", "leader@derby.example.org")


def test_a_council_on_one_sheet_only_is_named(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [contact("Derby City Council"), contact("Adur District Council")],
        [statistics("Derby City Council"), statistics("Adurr District Council")],
    )
    assert problems_of(path) == [
        "Statistics!A3: 'Adurr District Council' is not on the Contacts sheet; check its spelling "
        "or add a Contacts row for it.",
        "Contacts!A3: 'Adur District Council' has no row on the Statistics sheet; add its figures there.",
    ]


def test_counts_that_contradict_each_other(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [contact("Derby City Council")],
        [
            statistics(
                "Derby City Council", investigated=4, upheld=5, outcomes=2, complied=3, remedies=1
            )
        ],
    )
    assert problems_of(path) == [
        "Statistics!C2 (Upheld, Derby City Council): Upheld (5) is more than Detailed investigations (4); it can be at most that.",
        "Statistics!E2 (Complied, Derby City Council): Complied (3) is more than Compliance outcomes (2); it can be at most that.",
    ]


def test_unknown_authority_type_and_empty_required_cells(tmp_path: Path) -> None:
    row = contact("Derby City Council", kind="City Council", surname="")
    path = write_workbook(tmp_path / "w.xlsx", [row], [statistics("Derby City Council")])
    assert problems_of(path) == [
        "Contacts!F2 (Surname, Derby City Council): Surname is empty; every council needs one.",
        "Contacts!B2 (Authority type, Derby City Council): 'City Council' is not an authority type; use one of County Council, "
        "District Council, Metropolitan Borough, Unitary Council, London Borough.",
    ]


def test_a_line_break_in_a_name_is_refused(tmp_path: Path) -> None:
    row = contact("Derby City Council", surname="Lee\r\nBcc: someone@example.org")
    path = write_workbook(tmp_path / "w.xlsx", [row], [statistics("Derby City Council")])
    assert problems_of(path) == [
        "Contacts!F2 (Surname, Derby City Council): 'Lee\\r\\nBcc: someone@example.org' contains a line break; it must be on one line."
    ]


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [
            contact("Derby City Council", email="bad"),
            contact("Adur District Council", kind="Parish"),
        ],
        [
            statistics("Derby City Council", upheld="x"),
            statistics("Adur District Council", complied=9),
        ],
    )
    assert problems_of(path) == [
        "Contacts!H2 (Email, Derby City Council): 'bad' is not a valid email address (An email address must have an @-sign.)",
        "Contacts!B3 (Authority type, Adur District Council): 'Parish' is not an authority type; use one of County Council, "
        "District Council, Metropolitan Borough, Unitary Council, London Borough.",
        "Statistics!C2 (Upheld, Derby City Council): 'x' is not a whole number; type digits only (e.g. 12).",
        "Statistics!E3 (Complied, Adur District Council): Complied (9) is more than Compliance outcomes (4); it can be at most that.",
    ]
    assert read_workbook(path).councils == ()


def test_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "councils.xlsx"
    path.write_text("Authority,Email\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"cannot be read as an Excel workbook"):
        read_workbook(path)
    with pytest.raises(InputError, match=r"no such workbook"):
        read_workbook(tmp_path / "missing.xlsx")


def with_saved_result(path: Path, cell: str, value: int) -> None:
    """Give the formula in `cell` of the Statistics sheet a saved result, as Excel does on save
    (openpyxl writes formulas without one, as many programs do)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as package:
        parts = {info.filename: package.read(info) for info in package.infolist()}
    sheet = "xl/worksheets/sheet2.xml"
    xml = parts[sheet].decode("utf-8")
    xml, count = re.subn(
        rf'(<c r="{cell}"[^>]*><f>[^<]*</f>)<v\s*/?>(?:</v>)?', rf"\g<1><v>{value}</v>", xml
    )
    assert count == 1
    parts[sheet] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)


def test_a_formula_without_a_saved_result_is_an_error_in_any_column(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [contact("Derby City Council")],
        [statistics("Derby City Council", upheld="=B2-5", housing="=SUM(H2:I2)")],
    )
    assert problems_of(path) == [
        "Statistics!C2 (Upheld, Derby City Council): holds a formula with no saved result "
        "(=B2-5); open the workbook in Excel or LibreOffice and save it",
        "Statistics!G2 (Received: Housing, Derby City Council): holds a formula with no saved "
        "result (=SUM(H2:I2)); open the workbook in Excel or LibreOffice and save it",
    ]
    assert read_workbook(path).councils == ()


def test_an_error_value_names_its_cell(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [contact("Derby City Council", surname="#N/A")],
        [statistics("Derby City Council", remedies="#DIV/0!")],
    )
    assert problems_of(path) == [
        "Contacts!F2 (Surname, Derby City Council): holds the error value #N/A; correct the "
        "formula, or the cells it uses, and save the workbook",
        "Statistics!F2 (Satisfactory remedies, Derby City Council): holds the error value "
        "#DIV/0!; correct the formula, or the cells it uses, and save the workbook",
    ]


def test_a_formula_with_a_saved_result_uses_that_result(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [contact("Derby City Council")],
        [statistics("Derby City Council", housing="=SUM(H2:I2)")],
    )
    with_saved_result(path, "G2", 12)
    book = read_workbook(path)
    assert book.problems == ()
    assert [(c.label, c.count) for c in book.councils[0].statistics.received] == [("Housing", 12)]


def test_a_missing_sheet_leaves_the_workbook_incomplete(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "w.xlsx", [contact("Derby City Council")], [])
    assert read_workbook(path).complete
    from openpyxl import load_workbook

    book = load_workbook(path)
    del book["Statistics"]
    book.save(path)
    workbook = read_workbook(path)
    assert not workbook.complete
    assert [str(p) for p in workbook.problems] == [
        "Statistics: the workbook has no sheet named 'Statistics' (it has: Contacts); rename the "
        "sheet or add it."
    ]


def notes_of(path: Path) -> list[str]:
    return [str(n) for n in read_workbook(path).notes]


def test_a_duplicate_email_names_both_councils(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "councils.xlsx",
        [
            contact("Derby City Council", email="ce@shared.example.org"),
            contact("Adur District Council", email="CE@shared.example.org"),
        ],
        [statistics("Derby City Council"), statistics("Adur District Council")],
    )
    assert problems_of(path) == [
        "Contacts!H3 (Email, Adur District Council): 'CE@shared.example.org' is on two rows "
        "(also row 2, Derby City Council); each Email must be on one row only."
    ]


def test_a_title_row_above_the_headers_is_passed_over_and_said_so(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "councils.xlsx",
        [contact("Derby City Council")],
        [statistics("Derby City Council")],
    )
    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        sheet.insert_rows(1)
        sheet["A1"] = "Annual review letters 2020 - do not share"
    book.save(path)
    workbook = read_workbook(path)
    assert workbook.problems == ()
    assert [c.authority for c in workbook.councils] == ["Derby City Council"]
    assert notes_of(path) == [
        f"{name} row 2: the headers are on row 2; what is above them (row 1) was taken as a title "
        "and not read."
        for name in ("Contacts", "Statistics")
    ]


def test_a_count_typed_with_a_thousands_separator_is_read_with_a_note(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "councils.xlsx",
        [contact("Derby City Council")],
        [statistics("Derby City Council", investigated="1,204", upheld="1,2,3")],
    )
    workbook = read_workbook(path)
    assert problems_of(path) == [
        "Statistics!C2 (Upheld, Derby City Council): '1,2,3' is not a whole number; type digits "
        "only (e.g. 12)."
    ]
    assert notes_of(path) == [
        "Statistics!B2 (Detailed investigations, Derby City Council): '1,204' is text with a "
        "thousands separator; it was read as 1204. Type it as a number to be sure (Excel shows "
        "the separator by itself)."
    ]
    assert workbook.councils == ()


def test_hidden_sheets_are_named_as_hidden(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "councils.xlsx",
        [contact("Derby City Council")],
        [statistics("Derby City Council")],
    )
    book = openpyxl.load_workbook(path)
    book["Contacts"].sheet_state = "hidden"
    book.create_sheet("Old figures").sheet_state = "hidden"
    book.save(path)
    assert notes_of(path)[0].startswith("Contacts: is a hidden sheet; it was read all the same.")
    book = openpyxl.load_workbook(path)
    book["Statistics"].title = "Stats"
    book.save(path)
    assert problems_of(path) == [
        "Statistics: the workbook has no sheet named 'Statistics' (it has: Contacts (hidden), "
        "Stats, Old figures (hidden)); rename the sheet or add it."
    ]


def test_a_column_is_named_as_the_workbook_spells_it(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [
            contact("Derby City Council", code="E06000015"),
            contact("Adur District Council", code="E06000015"),
        ],
        [statistics("Derby City Council"), statistics("Adur District Council")],
    )
    (problem,) = problems_of(path)
    assert problem.endswith("each GSS code must be on one row only.")
