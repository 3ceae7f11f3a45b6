"""The automatic checks on each letter, run on its PDF's own text (not on the template), and the
card the proof page shows for it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from letter_merge.batch import PlannedLetter
from letter_merge.config import PdfSettings
from letter_merge.pdf.conformance import Conformance
from letter_merge.pdf.reading import names

LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}")
ERROR_VALUES = re.compile(r"\bNone\b|\bnan\b|#N/A|#DIV/0!|#REF!|#VALUE!")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Card:
    """One letter as the proof page shows it."""

    authority: str
    authority_type: str
    recipient: str
    email: str
    cc: tuple[str, ...]
    pdf: str  # relative to the proof folder
    pages: int
    figures: list[tuple[str, int | None, int | None]]  # (label, rate, average)
    checks: list[Check] = field(default_factory=list)
    thumbnail: str = ""  # a data: URI
    pdf_sha256: str = ""  # the PDF the checks ran on

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def authority_pattern(authorities: Iterable[str]) -> re.Pattern[str]:
    """Any authority's name as whole words; longest first so that a longer name wins."""
    ordered = sorted({" ".join(n.split()) for n in authorities}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in ordered) + r")(?!\w)")


def check_letter(
    text: str,
    letter: PlannedLetter,
    pages: int,
    page_range: tuple[int, int],
    others: re.Pattern[str],
    conformance: Conformance,
    promised: PdfSettings,
) -> list[Check]:
    """The automatic checks, on the PDF's own text and structure. Each says what it found."""
    flat = " ".join(text.split())
    authority = " ".join(letter.council.authority.split())
    checks = []
    leftovers = sorted(set(LEFTOVERS.findall(flat)))
    checks.append(Check("No template tags left", not leftovers, " ".join(leftovers)))
    errors = sorted(set(ERROR_VALUES.findall(flat)))
    checks.append(Check("No empty or error values", not errors, ", ".join(errors)))
    named = names(flat, authority)
    checks.append(Check("Names its council", named, "" if named else f"'{authority}' not found"))
    salutation = f"Dear {letter.council.salutation}"
    checks.append(
        Check(
            "Greets its recipient",
            salutation in flat,
            "" if salutation in flat else f"'{salutation}' not found",
        )
    )
    strangers = sorted({m for m in others.findall(flat) if m not in authority})
    checks.append(Check("Names no other council", not strangers, ", ".join(strangers)))
    fewest, most = page_range
    checks.append(Check(f"{fewest}–{most} pages", fewest <= pages <= most, f"{pages} pages"))
    bare = conformance.unembedded_fonts
    checks.append(Check("Fonts embedded", not bare, ", ".join(bare)))
    if promised.accessible or promised.pdfa:
        missing = conformance.problems(promised)
        checks.append(Check(promised.describe(), not missing, "; ".join(missing)))
    return checks
