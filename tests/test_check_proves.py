"""`check` proves the template: it renders every council's letter and email in memory, so what
`build` would refuse is reported first, with the template's place and the first council; and its
other messages are right about their cause."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from letter_merge.cli import cli
from letter_merge.files import try_lock
from tests.helpers import contact, make_template, statistics, write_workbook


def check_with(folder: Path, *paragraphs: str) -> str:
    make_template(folder / "templates" / "letter.docx", "Dear {{ salutation }}", *paragraphs)
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["check"])
    assert time.perf_counter() - started < 5
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not (folder / "output").exists()  # check writes nothing
    return result.output


@pytest.mark.parametrize(
    ("tag", "what"),
    [
        (
            "{{ ''.__class__ }}",
            "the template tried something the sandbox forbids (access to attribute '__class__' "
            "of 'str' object is unsafe.); templates may use fields, filters and tests, not "
            "Python's internals",
        ),
        (
            "{{ cycler.__init__.__globals__ }}",
            "the template tried something the sandbox forbids (access to attribute '__init__' "
            "of 'type' object is unsafe.); templates may use fields, filters and tests, not "
            "Python's internals",
        ),
        (
            "{{ range(10**9)|list }}",
            "the template's expression failed (OverflowError: Range too big. The sandbox blocks "
            "ranges larger than MAX_RANGE (100000).); check the expression.",
        ),
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            "the template went beyond what a letter can need: its loops ran more than 100,000 "
            "times for one letter; a letter's tables need far fewer: check the {% for %} loops "
            "(one nested in another?)",
        ),
        (
            "{{ 'x' * 10**9 }}",
            "the template went beyond what a letter can need: '*' would make a str of "
            "1,000,000,000 items, too long for a letter",
        ),
    ],
)
def test_check_reports_what_build_would_refuse_for_every_council(
    folder: Path, tag: str, what: str
) -> None:
    output = check_with(folder, tag)
    assert output.splitlines() == [
        "Error: 1 problem must be fixed first (letters cannot be made):",
        f"  - letter.docx, paragraph 2 '{' '.join(tag.split())[:67] + '...' if len(tag) > 70 else tag}': "
        f"for Leicestershire County Council (and 3 other councils): {what}",
    ]


def test_a_filter_given_an_undefined_rate_names_the_first_council_it_fails_for(
    folder: Path,
) -> None:
    output = check_with(folder, "Upheld: {{ upheld_rate|round }}%")
    assert output.splitlines()[1] == (
        "  - letter.docx, paragraph 2 'Upheld: {{ upheld_rate|round }}%': for Brighton & Hove "
        "City Council: the template's expression failed (TypeError: type NoneType doesn't "
        "define __round__ method); check that it allows for a missing value, e.g. "
        "{% if upheld_rate is none %}."
    )


def test_the_email_body_is_proved_too(folder: Path) -> None:
    (folder / "templates" / "email.txt").write_text(
        "Dear {{ salutation }}, {{ '%d' | format(remedy_rate) }}", encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert result.output.splitlines()[1].startswith(
        "  - email.txt: for Brighton & Hove City Council: the template's expression failed "
        "(TypeError: %d format: a real number is required, not NoneType)"
    )


def test_a_syntax_error_names_the_paragraph_not_a_character_offset(folder: Path) -> None:
    output = check_with(folder, "Total: {{ received ! count }}")
    assert output.splitlines()[1] == (
        "  - letter.docx, paragraph 2 'Total: {{ received ! count }}': {{ received ! count }}: "
        "unexpected char '!'; check the tag is written as in the manual's template fields."
    )


def test_a_missing_sheet_is_reported_once_without_follow_on_field_errors(folder: Path) -> None:
    write_workbook(folder / "input" / "councils.xlsx", [contact("Derby City Council")], [])
    from openpyxl import load_workbook

    book = load_workbook(folder / "input" / "councils.xlsx")
    del book["Statistics"]
    book.save(folder / "input" / "councils.xlsx")
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: 1 problem must be fixed first:\n"
        "  - Statistics: the workbook has no sheet named 'Statistics' (it has: Contacts); "
        "rename the sheet or add it.\n"
    )


def test_outside_a_working_folder_says_where_it_looked(tmp_path: Path) -> None:
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(cli, ["check"])
    finally:
        os.chdir(Path(__file__).parent)
    assert result.exit_code == 2
    assert result.output == (
        f"Error: There is no letter-merge.toml in {tmp_path}, so this is not a working folder. "
        "Run letter-merge in the folder that has letter-merge.toml (cd there first), or name "
        "the settings file: letter-merge --config PATH/letter-merge.toml ...\n"
    )


def test_a_settings_file_given_with_config_is_named_as_it_is(folder: Path) -> None:
    other = folder / "july.toml"
    other.write_text("[batch]\nyear = 'next'\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(other), "check"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: july.toml: [batch] year = 'next' is not a year")


def test_a_second_build_while_one_runs_says_so_and_stops(folder: Path) -> None:
    lock = try_lock(folder / "output" / "2020" / "build.lock")
    assert lock is not None
    try:
        result = CliRunner().invoke(cli, ["build", "--no-pdf"])
    finally:
        lock.release()
    assert result.exit_code == 1
    assert result.output == (
        "Error: Another 'letter-merge build' is already running for 2020 "
        f"({folder / 'output' / '2020' / 'build.lock'}); wait for it to finish.\n"
    )
    assert not (folder / "output" / "2020" / "letters").exists()
    assert CliRunner().invoke(cli, ["build", "--no-pdf"]).exit_code == 0  # and once it is free


def test_a_statistics_row_with_both_problems_names_column_and_council(folder: Path) -> None:
    write_workbook(
        folder / "input" / "councils.xlsx",
        [contact("Derby City Council")],
        [statistics("Derby City Council", upheld="twelve")],
    )
    result = CliRunner().invoke(cli, ["check"])
    assert (
        "  - Statistics!C2 (Upheld, Derby City Council): 'twelve' is not a whole number; type digits only (e.g. 12)."
        in result.output.splitlines()
    )
