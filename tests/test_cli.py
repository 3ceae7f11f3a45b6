"""The command line: exit codes, messages and help, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from letter_merge.cli import cli
from tests.helpers import contact, statistics, write_workbook


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_check_on_good_inputs(folder: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    # the 23 fields the default template uses (authority, salutation, the rates, chart, the
    # publication date, ...); paths as the user types them, with this system's separator
    assert result.output == (
        f"Workbook {Path('input', 'councils.xlsx')}: 4 councils.\n"
        f"Template {Path('templates', 'letter.docx')}: 23 {{{{ }}}} fields, all known.\n"
        "No problems found.\n"
    )


def test_check_lists_every_problem_and_exits_1(folder: Path, runner: CliRunner) -> None:
    write_workbook(
        folder / "input" / "councils.xlsx",
        [contact("Derby City Council", email="nope")],
        [statistics("Derby City Council", upheld="twelve")],
    )
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: 2 problems must be fixed first:\n"
        "  - Contacts!H2 (Email, Derby City Council): 'nope' is not a valid email address (An email address must have an @-sign.)\n"
        "  - Statistics!C2 (Upheld, Derby City Council): 'twelve' is not a whole number; type digits only (e.g. 12).\n"
    )


def test_build_refuses_to_start_while_problems_remain(folder: Path, runner: CliRunner) -> None:
    write_workbook(
        folder / "input" / "councils.xlsx",
        [contact("Derby City Council"), contact("Derby City Council", email="x@y.example.org")],
        [statistics("Derby City Council")],
    )
    result = runner.invoke(cli, ["build", "--no-pdf"])
    assert result.exit_code == 1
    assert "Contacts!A3 (Authority, Derby City Council): 'Derby City Council' is on two rows " in (
        result.output
    )
    assert not (folder / "output" / "2020" / "letters").exists()


def test_build_without_pdf_writes_letters_and_manifest(folder: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["build", "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert f"Built 4 letters (docx only) in {Path('output', '2020', 'letters')}" in result.output
    letters = folder / "output" / "2020" / "letters"
    assert sorted(p.name for p in letters.iterdir()) == [
        "Adur District Council - Annual Review 2020.docx",
        "Brighton & Hove City Council - Annual Review 2020.docx",
        "Derby City Council - Annual Review 2020.docx",
        "Leicestershire County Council - Annual Review 2020.docx",
    ]
    manifest = json.loads((folder / "output" / "2020" / "manifest.json").read_text("utf-8"))
    assert set(manifest["inputs"]) == {"workbook", "template", "settings"}
    assert [e["authority"] for e in manifest["letters"]][:2] == [
        "Leicestershire County Council",
        "Derby City Council",
    ]
    derby = manifest["letters"][1]
    assert derby["recipient"]["name"] == "Ms O'Brien"
    assert derby["files"]["docx"]["path"] == "letters/Derby City Council - Annual Review 2020.docx"
    assert len(derby["files"]["docx"]["sha256"]) == 64 and "pdf" not in derby["files"]


def test_only_builds_the_named_councils_and_keeps_the_rest_of_the_manifest(
    folder: Path, runner: CliRunner
) -> None:
    assert runner.invoke(cli, ["build", "--no-pdf"]).exit_code == 0
    result = runner.invoke(cli, ["build", "--no-pdf", "--only", "derby", "--only", "ADUR"])
    assert result.exit_code == 0, result.output
    assert "Built 0 letters; 2 already up to date in" in result.output
    result = runner.invoke(
        cli, ["build", "--no-pdf", "--force", "--only", "derby", "--only", "ADUR"]
    )
    assert "Built 2 letters (docx only) in" in result.output
    manifest = json.loads((folder / "output" / "2020" / "manifest.json").read_text("utf-8"))
    assert len(manifest["letters"]) == 4  # the other two are still recorded


def test_an_ambiguous_or_unknown_name_is_a_usage_error(folder: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["build", "--no-pdf", "--only", "city council"])
    assert result.exit_code == 2
    assert result.output == (
        "Error: 'city council' matches 2 authorities; give more of the name:\n"
        "  - Derby City Council\n"
        "  - Brighton & Hove City Council\n"
    )
    result = runner.invoke(cli, ["build", "--no-pdf", "--only", "Hove"])  # a whole word wins
    assert result.exit_code == 0 and "Built 1 letter " in result.output
    result = runner.invoke(cli, ["build", "--no-pdf", "--only", "Narnia"])
    assert result.exit_code == 2
    assert (
        result.output
        == "Error: 'Narnia' matches no authority in the workbook; check the spelling.\n"
    )


def test_unreadable_inputs_exit_2(folder: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--config", "missing.toml", "check"])
    assert result.exit_code == 2
    assert result.output == "Error: missing.toml: no such settings file; check the --config path.\n"
    (folder / "letter-merge.toml").write_text("[batch]\nyear = 'twenty'\n", encoding="utf-8")
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "[batch] year = 'twenty' is not a year" in result.output
    (folder / "letter-merge.toml").write_text(
        "[paths]\nworkbook = 'nowhere.xlsx'\n", encoding="utf-8"
    )
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "nowhere.xlsx: no such workbook" in result.output


def test_a_password_in_the_settings_file_is_refused(folder: Path, runner: CliRunner) -> None:
    (folder / "letter-merge.toml").write_text("[smtp]\npassword = 'hunter2'\n", encoding="utf-8")
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "password must not be in the settings file" in result.output
    assert "hunter2" not in result.output


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_with_an_example(runner: CliRunner, command: str) -> None:
    result = runner.invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


def test_the_readme_documents_every_command() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for command in cli.commands:
        assert f"letter-merge {command}" in readme, command


def test_a_line_break_reaching_the_subject_is_refused_by_check(
    folder: Path, runner: CliRunner
) -> None:
    from tests.helpers import CONTACT_HEADERS

    write_workbook(
        folder / "input" / "councils.xlsx",
        [[*contact("Derby City Council"), "Derby\r\nBcc: someone@example.org"]],
        [statistics("Derby City Council")],
        contact_headers=[*CONTACT_HEADERS, "Short name"],
    )
    with (folder / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write('[email]\nsubject = "Annual Review {{ year }} – {{ short_name }}"\n')
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: 1 problem must be fixed first:\n"
        "  - letter-merge.toml, [email] subject for Derby City Council: "
        "'Annual Review 2020 – Derby\\r\\nBcc: someone@example.org' contains a line break; "
        "remove it from the cells it uses.\n"
    )


def test_check_reads_the_email_template_too(folder: Path, runner: CliRunner) -> None:
    (folder / "templates" / "email.txt").write_text("Dear {{ salutaton }},\n", encoding="utf-8")
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "  - email.txt: {{ salutaton }} is not a field; check its spelling." in result.output
