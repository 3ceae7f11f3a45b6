"""The table of environment variables (letter_merge/environment.py) is the whole truth: every
variable letter-merge reads is in it, by a name spelled only there, and every name in it is read."""

from __future__ import annotations

import ast
import dataclasses
import logging
import re

import pytest

from letter_merge import environment
from letter_merge.config import MailboxSettings, OAuth2Settings, SmtpSettings
from tests.helpers import ROOT

PACKAGE = ROOT / "letter_merge"
SPELLED = re.compile(r"LETTER_MERGE_[A-Z0-9_]+")
# The sections whose every key an environment variable overrides (config._overridden).
OVERRIDDEN = {"smtp": SmtpSettings, "mailbox": MailboxSettings, "oauth2": OAuth2Settings}


def modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "environment.py"
    }


def names_used() -> set[str]:
    """The environment module's constants that letter-merge's modules use, as variable names."""
    constants = {
        name
        for name, value in vars(environment).items()
        if name.isupper() and isinstance(value, str)
    }
    used: set[str] = set()
    for tree in modules().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "letter_merge.environment":
                used |= {alias.name for alias in node.names if alias.name in constants}
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "environment"
                and node.attr in constants
            ):
                used.add(node.attr)
    return {getattr(environment, name) for name in used}


def test_no_module_spells_a_variable_name_itself() -> None:
    spelled = [
        f"{path}:{node.lineno} {node.value}"
        for path, tree in modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SPELLED.fullmatch(node.value)
    ]
    assert spelled == []


def test_every_variable_read_is_in_the_table_and_every_one_in_it_is_read() -> None:
    overrides = {
        environment.override(section, field.name)
        for section, settings in OVERRIDDEN.items()
        for field in dataclasses.fields(settings)
    }
    earlier = {v.name for v in environment.VARIABLES if v.replaced_by}
    read = names_used() | overrides | earlier
    assert read - set(environment.BY_NAME) == set(), "add these to environment.VARIABLES"
    assert set(environment.BY_NAME) - read == set(), "nothing reads these"
    assert {v.replaced_by for v in environment.VARIABLES if v.replaced_by} <= names_used()


def test_an_earlier_name_is_read_and_said_once_to_be_deprecated(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "_said", set())
    earlier = {"LETTER_MERGE_SEND_GRAPH_URL": "https://graph.example/v1.0"}
    with caplog.at_level(logging.WARNING, logger="letter_merge.environment"):
        assert environment.read(earlier, environment.GRAPH_URL) == (
            "LETTER_MERGE_SEND_GRAPH_URL",
            "https://graph.example/v1.0",
        )
        assert environment.read(earlier, environment.GRAPH_URL)[1] == "https://graph.example/v1.0"
    assert [r.getMessage() for r in caplog.records] == [
        "LETTER_MERGE_SEND_GRAPH_URL is deprecated: it is read as LETTER_MERGE_GRAPH_URL, the one "
        "name for it now; rename it, as a later version will not read "
        "LETTER_MERGE_SEND_GRAPH_URL."
    ]
    both = {**earlier, environment.GRAPH_URL: "https://graph.microsoft.us/v1.0"}
    assert environment.read(both, environment.GRAPH_URL) == (
        environment.GRAPH_URL,
        "https://graph.microsoft.us/v1.0",
    )
    assert environment.read({}, environment.GRAPH_URL) == (environment.GRAPH_URL, "")
