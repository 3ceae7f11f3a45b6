"""The README is executable: every `letter-merge …` example in it runs as written (no usage error,
no traceback), every council it names is one council of the sample workbook, and every command
and option has help. The commands run in the four-council folder with the stand-in converter
(tests/standin.py); the names are checked against the 343 councils of input/councils.xlsx."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from openpyxl import load_workbook

from letter_merge.batch import select_names
from letter_merge.cli import cli
from letter_merge.errors import InputError
from tests.helpers import run

ROOT = Path(__file__).resolve().parents[1]
# Examples that start something that does not end by itself, or reach outside this machine:
# the desk's server, a browser or PDF viewer, Microsoft's or Google's sign-in, Microsoft Word.
NOT_RUN = ("desk", "login", "logout", "--open", "--converter word")
# Options whose value names councils, and commands whose words do.
NAME_OPTIONS = ("--only", "--correction", "--resend")
NAME_ARGUMENTS = ("preview", "status")


def examples() -> list[list[str]]:
    """Each `letter-merge …` line of the README's code blocks, as its words (comments dropped)."""
    found, fenced = [], False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and line.startswith("letter-merge "):
            found.append(shlex.split(line, comments=True)[1:])
    return found


def names_in(words: list[str]) -> list[str]:
    """The council names an example gives: --only/--correction values, or preview's and
    status's words."""
    names = [words[i + 1] for i, word in enumerate(words[:-1]) if word in NAME_OPTIONS]
    if words and words[0] in NAME_ARGUMENTS:
        plain = [w for w in words[1:] if not w.startswith("-")]
        if plain and "--csv" not in words:
            names.append(" ".join(plain))
    return names


def sample_councils() -> list[str]:
    book = load_workbook(ROOT / "input" / "councils.xlsx", read_only=True)
    rows = book["Contacts"].iter_rows(min_row=2, max_col=1, values_only=True)
    return [str(name) for (name,) in rows if name]


def test_the_readme_has_examples_of_every_command() -> None:
    used = {words[0] for words in examples() if words and not words[0].startswith("-")}
    assert set(cli.commands) - used == set(), "a command the README shows no example of"


def test_every_council_named_in_the_readme_is_one_council() -> None:
    councils = sample_councils()
    assert len(councils) == 343
    named = [(words, name) for words in examples() for name in names_in(words)]
    assert len(named) >= 8
    for words, name in named:
        try:
            (one,) = select_names(councils, [name])
        except InputError as error:
            pytest.fail(f"letter-merge {shlex.join(words)}: {error}")
        assert one in councils


def test_every_example_runs_as_written(work: Path) -> None:
    ran = 0
    for words in examples():
        line = shlex.join(words)
        if any(part in f" {line} " for part in (f" {n} " for n in NOT_RUN)) or words[0] in NOT_RUN:
            continue
        result = run(*words)
        ran += 1
        assert "Usage:" not in result.output and "No such option" not in result.output, (
            f"letter-merge {line}\n{result.output}"
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"letter-merge {line}: {result.exception!r}\n{result.output}"
        )
        assert "Traceback" not in result.output, line
    assert ran >= 25


def test_every_command_and_option_has_help() -> None:
    def walk(command: click.Command, path: str) -> list[str]:
        missing = [] if (command.help or "").strip() else [f"{path}: no help"]
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}: no help")
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(cli, "letter-merge") == []


def test_an_ambiguous_name_lists_the_councils_it_matches() -> None:
    with pytest.raises(InputError) as refused:
        select_names(sample_councils(), ["Leicestershire"])
    text = str(refused.value)
    assert re.search(r"'Leicestershire' matches 2 authorities", text)
    assert "  - Leicestershire County Council" in text
    assert "  - North West Leicestershire District Council" in text
