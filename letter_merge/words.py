"""Counted words that read right: "1 letter", "343 letters", "2 authorities". One helper for every
message, page and summary, instead of "letter(s)" or "1 letters"."""

from __future__ import annotations

import base64
import difflib
import zlib

# Nouns whose plural is not the singular with an "s".
IRREGULAR = {
    "authority": "authorities",
    "this": "these",
    "is": "are",
    "was": "were",
    "has": "have",
    "states": "state",
    "reads": "read",
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


def packed(paragraphs: list[str]) -> str:
    """Paragraphs, a line each, packed small (zlib, then base64) to keep on the record."""
    if not paragraphs:
        return ""
    text = "\n".join(paragraphs).encode("utf-8")
    return base64.b64encode(zlib.compress(text, 9)).decode("ascii")


def unpacked(packing: str) -> list[str]:
    """The paragraphs `packed` kept ([] for none, or for a packing that cannot be read)."""
    if not packing:
        return []
    try:
        return zlib.decompress(base64.b64decode(packing)).decode("utf-8").splitlines()
    except (ValueError, zlib.error):
        return []


def reworded(before: list[str], after: list[str]) -> list[tuple[str, str]]:
    """The paragraphs that differ, each as (as it was, as it is now); "" for a paragraph added
    or taken out."""
    found: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old, new = before[a0:a1], after[b0:b1]
        for number in range(max(len(old), len(new))):
            found.append(
                (old[number] if number < len(old) else "", new[number] if number < len(new) else "")
            )
    return found
