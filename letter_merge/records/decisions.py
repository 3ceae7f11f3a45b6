"""The record of the office's decisions about averages: `output/<year>/decisions.json`, read and
added to here only. Read before the batch is made (a decision to keep an average fixes what its
letters state), so it stands apart from the rest of records/ and imports none of it."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from letter_merge.decisions import (
    AverageDecision,
    WordingDecision,
    decisions_file,
    wording_file,
)
from letter_merge.errors import InputError
from letter_merge.files import write_atomic
from letter_merge.paths import OutputPaths


def read_decisions(paths: OutputPaths) -> list[AverageDecision]:
    """Every decision, oldest first; none when there is no file."""
    path = decisions_file(paths)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return [
            AverageDecision(**{**entry, "letters": tuple(entry.get("letters", ()))})
            for entry in data
        ]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError) as error:
        raise InputError(f"{path}: cannot be read ({error}); restore it from a backup.") from None


def add_decisions(paths: OutputPaths, decisions: list[AverageDecision]) -> None:
    every = [*read_decisions(paths), *decisions]
    text = json.dumps([asdict(d) for d in every], indent=2, ensure_ascii=False) + "\n"
    write_atomic(decisions_file(paths), text.encode("utf-8"))


def read_wording_decisions(paths: OutputPaths) -> list[WordingDecision]:
    """Every decision about a letter's wording changed since it was sent, oldest first."""
    path = wording_file(paths)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return [WordingDecision(**entry) for entry in data]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError) as error:
        raise InputError(f"{path}: cannot be read ({error}); restore it from a backup.") from None


def add_wording_decisions(paths: OutputPaths, decisions: list[WordingDecision]) -> None:
    every = [*read_wording_decisions(paths), *decisions]
    text = json.dumps([asdict(d) for d in every], indent=2, ensure_ascii=False) + "\n"
    write_atomic(wording_file(paths), text.encode("utf-8"))
