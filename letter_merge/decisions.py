"""The office's decisions about an average that a correction moves, kept in
`output/<year>/decisions.json` (read and written in records/decisions.py), never changed or
removed (the latest for an average holds).

Correcting one council's figures moves the average for its authority type, which every other
letter of that type states, some of them already sent. The office chooses, on the record: keep
the averages as sent (the corrected letter states the average the others received), or correct
every letter the change reaches (each goes again as a correction).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from letter_merge.paths import OutputPaths
from letter_merge.words import counted, percent

KEEP, CORRECT = "keep", "correct"


@dataclass(frozen=True)
class AverageDecision:
    authority_type: str  # "Unitary Council"
    field: str  # "upheld_rate_average"
    sent: int | None  # what the letters already sent state
    now: int | None  # what the workbook gives now
    choice: str  # KEEP: the letters state `sent`; CORRECT: every letter is made with `now`
    by: str
    at: str  # ISO date and time
    because: str  # the correction that moved it, in words
    letters: tuple[str, ...] = ()  # the letters already sent that state `sent`

    def in_words(self) -> str:
        """What the decision means for the letters, in one sentence."""
        what = (
            f"kept at {percent(self.sent)} in every letter"
            if self.choice == KEEP
            else f"corrected to {percent(self.now)} in every letter: build, proof and approve, "
            f"then queue (the {counted(len(self.letters), 'letter')} sent go as corrections)"
        )
        label = self.field.removesuffix("_rate_average").replace("_", " ")
        return f"The {self.authority_type} average ({label}): {what}."

    def covers(self, authority_type: str, field: str) -> bool:
        return (self.authority_type, self.field) == (authority_type, field)


def decisions_file(paths: OutputPaths) -> Path:
    return paths.year_dir / "decisions.json"


def latest(decisions: list[AverageDecision]) -> dict[tuple[str, str], AverageDecision]:
    """The decision that holds for each (authority type, average): the latest."""
    holding: dict[tuple[str, str], AverageDecision] = {}
    for decision in decisions:
        holding[(decision.authority_type, decision.field)] = decision
    return holding


def kept_averages(decisions: list[AverageDecision]) -> dict[tuple[str, str], int | None]:
    """The averages every letter states as they were sent: (authority type, field) -> value."""
    return {
        key: decision.sent for key, decision in latest(decisions).items() if decision.choice == KEEP
    }


@dataclass(frozen=True)
class WordingDecision:
    """The office's choice about one letter sent whose wording reads otherwise now (a template
    edited after sending), held while the letter sent and the letter built state what they
    stated when it was made: KEEP, the letter stays as sent; CORRECT, it goes as a correction."""

    authority: str
    sent: str  # what the letter sent states (its statement, template/statement.py)
    now: str  # what the letter built since states
    choice: str
    by: str
    at: str  # ISO date and time
    reason: str  # why, in the office's words
    changed: str = ""  # what reads otherwise, in words

    def covers(self, authority: str, sent: str, now: str) -> bool:
        return (self.authority, self.sent, self.now) == (authority, sent, now)


def wording_file(paths: OutputPaths) -> Path:
    return paths.year_dir / "wording-decisions.json"
