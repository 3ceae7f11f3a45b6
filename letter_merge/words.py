"""Counted words that read right: "1 letter", "343 letters", "2 authorities". One helper for every
message, page and summary, instead of "letter(s)" or "1 letters"."""

from __future__ import annotations

# Nouns whose plural is not the singular with an "s".
IRREGULAR = {
    "authority": "authorities",
    "this": "these",
    "is": "are",
    "was": "were",
    "has": "have",
    "states": "state",
    "differs": "differ",
}


def plural(noun: str, number: int) -> str:
    """`noun` as it reads after `number`: "letter" or "letters"."""
    if number == 1:
        return noun
    if noun in IRREGULAR:
        return IRREGULAR[noun]
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def counted(number: int, noun: str) -> str:
    """`number` and `noun`, agreed: counted(1, "letter") is "1 letter", counted(2, "authority")
    is "2 authorities"; thousands are grouped ("1,204 letters")."""
    return f"{number:,} {plural(noun, number)}"


def percent(value: object) -> str:
    """A rate as a letter states it: "61%", or "not applicable" when it is undefined (None)."""
    return "not applicable" if value is None else f"{value}%"
