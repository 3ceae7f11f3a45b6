"""What the last proof found for each letter: its results, kept in
`output/<year>/proof/results.json` so that approving can ask "was this exact PDF proofed, and did
it pass?", and its cards, kept in `output/<year>/proof/cards.json` so that a later proof of some
letters shows every letter on its page."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letter_merge.errors import InputError
from letter_merge.files import write_atomic
from letter_merge.steps import Next


@dataclass(frozen=True)
class ProofResult:
    authority: str
    pdf_sha256: str  # the PDF the checks ran on
    problems: tuple[str, ...]  # the failed checks, in words; none when it passed
    proofed_at: str

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""

    def in_words(self) -> str:
        """'Names its council', or 'Names its council ('Ashford' not found)' with its detail."""
        return f"{self.name} ({self.detail})" if self.detail else self.name


@dataclass(frozen=True)
class Figure:
    label: str
    rate: int | None
    average: int | None
    rate_now: int | None = None  # set only where the workbook now gives another figure
    average_now: int | None = None
    rate_moved: bool = False
    average_moved: bool = False


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
    # What the letter states, as the build recorded it: (label, rate, average, and what the
    # workbook gives now where it differs, else None for each)
    figures: list[Figure]
    checks: list[Check] = field(default_factory=list)
    thumbnail: str = ""  # a data: URI
    pdf_sha256: str = ""  # the PDF the checks ran on

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def problems_in_words(self) -> str:
        """Every check the letter failed, in words, one after another."""
        return "; ".join(check.in_words() for check in self.problems)

    def result(self, proofed_at: str) -> ProofResult:
        """What this card found, as the result approving asks about."""
        return ProofResult(
            self.authority,
            self.pdf_sha256,
            tuple(check.in_words() for check in self.problems),
            proofed_at,
        )


def write_results(path: Path, results: list[ProofResult]) -> None:
    data = [
        {
            "authority": r.authority,
            "pdf_sha256": r.pdf_sha256,
            "problems": list(r.problems),
            "proofed_at": r.proofed_at,
        }
        for r in results
    ]
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def read_results(path: Path) -> dict[str, ProofResult]:
    """The last proof's results by authority; empty when there has been no proof."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            str(entry["authority"]): ProofResult(
                str(entry["authority"]),
                str(entry["pdf_sha256"]),
                tuple(str(p) for p in entry["problems"]),
                str(entry["proofed_at"]),
            )
            for entry in data
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(
            f"{path}: cannot be read ({error}); make the proof again.",
            next_step=Next.PROOF,
        ) from None


def write_cards(path: Path, cards: list[Card]) -> None:
    """The cards the proof page shows, to show them again on a later proof's page."""
    data = [dataclasses.asdict(card) for card in cards]
    write_atomic(path, json.dumps(data, ensure_ascii=False).encode("utf-8"))


def read_cards(path: Path) -> dict[str, Card]:
    """The last proof page's cards by authority; empty when there are none that can be read
    (no proof yet, or one by an older letter-merge: the page then shows the letters just
    proofed only)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cards = [_card(entry) for entry in data]
    except (OSError, ValueError, TypeError, KeyError):
        return {}
    return {card.authority: card for card in cards}


def _card(data: dict[str, Any]) -> Card:
    return Card(
        **{
            **data,
            "cc": tuple(data["cc"]),
            "figures": [Figure(**figure) for figure in data["figures"]],
            "checks": [Check(**check) for check in data["checks"]],
        }
    )
