"""Counted words read right everywhere: one helper."""

from __future__ import annotations

import re
from pathlib import Path

from letter_merge.words import counted, plural


def test_counted_words_agree_with_their_number() -> None:
    assert counted(1, "letter") == "1 letter"
    assert counted(343, "letter") == "343 letters"
    assert counted(0, "message") == "0 messages"
    assert counted(2, "authority") == "2 authorities"
    assert counted(1, "authority") == "1 authority"
    assert counted(1204, "letter") == "1,204 letters"
    assert counted(2, "fix") == "2 fixes" and counted(3, "day") == "3 days"
    assert plural("states", 1) == "states" and plural("states", 2) == "state"


def test_no_message_counts_with_a_bracketed_s() -> None:
    package = Path(__file__).resolve().parents[1] / "letter_merge"
    found = [
        f"{path.relative_to(package)}: {match.group(0)}"
        for path in package.rglob("*")
        if path.suffix in (".py", ".js", ".html") and path.name != "words.py"
        for match in re.finditer(r"\w+\((s|es)\)|'s' if \w+ != 1", path.read_text(encoding="utf-8"))
    ]
    assert found == []
