"""What a chart shows and how large it is: shared by drawing it and by putting it in a letter."""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docx.shared import Emu

from letter_merge.figures import RATE_LABELS, RATES
from letter_merge.words import percent

STYLE_VERSION = "1"  # change when the chart's look changes, so cached charts are redrawn
ASPECT = 0.28  # height / width
# Pixels per inch. Print resolution is 300, but LibreOffice's PDF export takes 50-80 ms a letter
# for a chart that size, against 20-40 ms at 200, where bars and 7.5 pt labels still print sharp.
DPI = 200
MAX_WIDTH = Emu(13 * 360_000)  # 13 cm: small beside the text, large enough to read


def axis_label(rate: str) -> str:
    """A rate's label as the chart's axis shows it, on at most two lines."""
    return textwrap.fill(RATE_LABELS[rate], 25)


@dataclass(frozen=True)
class ChartData:
    """What one chart shows: an authority's three rates and their averages (None: undefined)."""

    authority: str
    rates: tuple[int | None, ...]
    averages: tuple[int | None, ...]

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> ChartData:
        return cls(
            str(fields["authority"]),
            tuple(fields[rate] for rate in RATES),
            tuple(fields[f"{rate}_average"] for rate in RATES),
        )

    def key(self, width: int, dpi: int) -> str:
        text = json.dumps([STYLE_VERSION, width, dpi, self.authority, self.rates, self.averages])
        return hashlib.sha256(text.encode()).hexdigest()

    def description(self) -> str:
        """The picture's alternative text, read out by screen readers."""
        parts = [
            f"{RATE_LABELS[rate]}: {percent(own)} (average {percent(average)})"
            for rate, own, average in zip(RATES, self.rates, self.averages, strict=True)
        ]
        return f"Bar chart for {self.authority}. {'; '.join(parts)}."


def chart_size(text_width: int) -> tuple[Emu, Emu]:
    """A chart's width and height on the page, for a page whose text is `text_width` wide."""
    width = Emu(min(text_width, MAX_WIDTH))
    return width, Emu(int(width * ASPECT))
