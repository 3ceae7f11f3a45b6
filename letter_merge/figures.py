"""The figures a letter quotes: three rates per council and their averages over similar councils.

A rate is a whole percent rounded half-up; an average pools the counts of every council of the
same authority type (sum of numerators / sum of denominators) before rounding. A zero
denominator makes the figure undefined (None), never 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from letter_merge.workbook import Council, Statistics

# name -> (numerator, denominator) of a council's Statistics
RATES: dict[str, tuple[str, str]] = {
    "upheld_rate": ("upheld", "detailed_investigations"),
    "compliance_rate": ("complied", "compliance_outcomes"),
    "remedy_rate": ("satisfactory_remedies", "upheld"),
}

FIGURE_FIELDS = (*RATES, *(f"{rate}_average" for rate in RATES))

# Each rate as the letter names it; the chart, its alternative text and the proof use these words.
RATE_LABELS: dict[str, str] = {
    "upheld_rate": "Complaints upheld",
    "compliance_rate": "Compliance with recommendations",
    "remedy_rate": "Satisfactory remedies provided by the authority",
}


def percent(numerator: int, denominator: int) -> int | None:
    """numerator/denominator as a whole percent, half-up, in exact integer arithmetic."""
    if denominator == 0:
        return None
    return (200 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class Figures:
    """The rates for one council and the averages for its authority type."""

    upheld_rate: int | None
    compliance_rate: int | None
    remedy_rate: int | None
    upheld_rate_average: int | None
    compliance_rate_average: int | None
    remedy_rate_average: int | None

    def as_fields(self) -> dict[str, int | None]:
        return dict(self.__dict__)


def compute_figures(
    councils: Iterable[Council], kept: Mapping[tuple[str, str], int | None] | None = None
) -> dict[str, Figures]:
    """Figures for every council, keyed by authority name. `kept`: averages the office decided
    to keep as the letters already sent state them, by (authority type, field)."""
    kept = kept or {}
    councils = list(councils)
    totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for council in councils:
        for rate, (top, bottom) in RATES.items():
            pooled = totals[council.authority_type][rate]
            pooled[0] += getattr(council.statistics, top)
            pooled[1] += getattr(council.statistics, bottom)
    result = {}
    for council in councils:
        own = _rates(council.statistics)
        group = totals[council.authority_type]
        averages = {f"{rate}_average": percent(*group[rate]) for rate in RATES}
        for name in averages:
            if (council.authority_type, name) in kept:
                averages[name] = kept[(council.authority_type, name)]
        result[council.authority] = Figures(**own, **averages)
    return result


def _rates(statistics: Statistics) -> dict[str, int | None]:
    return {
        rate: percent(getattr(statistics, top), getattr(statistics, bottom))
        for rate, (top, bottom) in RATES.items()
    }
