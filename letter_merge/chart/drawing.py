"""Drawing the letter's chart with matplotlib (see picture.py for how it reaches the letter).

A chart takes 100 ms drawn the usual way, so everything the charts share (axes, labels, grid, the
key) is drawn once and each chart only draws its bars, figures and name over it (matplotlib's
blitting), then maps its colours to one shared palette: a third of the bytes to compress. That
makes a chart about 20 ms.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from letter_merge.chart.model import DPI, ChartData, axis_label, chart_size
from letter_merge.figures import RATES

COUNCIL_COLOUR = "#1F3A5F"  # the letter's headings
AVERAGE_COLOUR = "#A7B9CC"
TEXT_COLOUR = "#262626"
MUTED_COLOUR = "#595959"
GRID_COLOUR = "#D9D9D9"
AXIS_COLOUR = "#8C8C8C"
FONTS = ("Arial", "Liberation Sans", "Helvetica", "DejaVu Sans")
FONT_SIZE = 7.5
# A chart with every kind of bar and label, for the palette
SAMPLE = ChartData("Sample Council", (75, None, 100), (59, 92, 0))


class ChartMaker:
    """Draws charts of one size: the shared parts once, then each chart's own parts over them."""

    def __init__(self, width: int, dpi: int = DPI) -> None:
        self.width, self.height = chart_size(width)
        inches = (self.width / 914_400, self.height / 914_400)
        self.dpi = dpi
        self._figure = Figure(figsize=inches, dpi=dpi, facecolor="white")
        self._canvas = FigureCanvasAgg(self._figure)
        self._layout()
        self._canvas.draw()  # everything but the animated artists, kept as the background
        self._background = self._canvas.copy_from_bbox(self._figure.bbox)
        # Every chart has the same colours, so one palette, taken from a chart with every kind of
        # bar and label, serves them all: a third of the bytes to compress (3 levels at most off).
        self._palette = _palette(self._draw(SAMPLE))

    def _layout(self) -> None:
        family = _font_family()
        text: dict[str, Any] = {"fontsize": FONT_SIZE, "family": family, "va": "center"}
        axes = self._axes = self._figure.add_axes((0.30, 0.12, 0.62, 0.68))
        rows = range(len(RATES))
        bar = 0.34
        mine = [r - bar / 2 for r in rows]
        theirs = [r + bar / 2 for r in rows]
        self._bars = [
            *axes.barh(mine, [0] * len(rows), bar, color=COUNCIL_COLOUR, animated=True),
            *axes.barh(theirs, [0] * len(rows), bar, color=AVERAGE_COLOUR, animated=True),
        ]
        self._values = [
            axes.text(0, y, "", color=TEXT_COLOUR, animated=True, **text) for y in mine
        ] + [axes.text(0, y, "", color=MUTED_COLOUR, animated=True, **text) for y in theirs]
        axes.set_xlim(0, 100)
        axes.set_ylim(len(rows) - 0.45, -0.55)  # the first rate at the top
        axes.set_yticks(list(rows), [axis_label(rate) for rate in RATES])
        axes.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
        axes.tick_params(labelsize=FONT_SIZE, colors=MUTED_COLOUR, length=0, pad=4)
        for label in axes.get_yticklabels():
            label.set_color(TEXT_COLOUR)
        for label in (*axes.get_xticklabels(), *axes.get_yticklabels()):
            label.set_fontfamily(family)
        axes.xaxis.grid(True, color=GRID_COLOUR, linewidth=0.6)
        axes.set_axisbelow(True)
        for side in ("top", "right", "bottom"):
            axes.spines[side].set_visible(False)
        axes.spines["left"].set(color=AXIS_COLOUR, linewidth=0.6)
        # The key: the authority on the left, the average on the right, so that the longest
        # name never reaches the other entry and only the name changes from chart to chart.
        key: dict[str, Any] = {
            "fontsize": FONT_SIZE,
            "family": family,
            "va": "center",
            "color": TEXT_COLOUR,
        }
        average = self._figure.text(
            0.92, 0.93, "Average for similar authorities", ha="right", **key
        )
        left = self._figure.transFigure.inverted().transform(
            average.get_window_extent(self._canvas.get_renderer())
        )[0][0]
        self._figure.patches += [
            Rectangle((x, 0.90), 0.018, 0.06, color=colour, transform=self._figure.transFigure)
            for x, colour in ((0.02, COUNCIL_COLOUR), (left - 0.026, AVERAGE_COLOUR))
        ]
        self._name = self._figure.text(0.046, 0.93, "", animated=True, **key)

    def png(self, data: ChartData) -> bytes:
        """The chart of `data` as PNG bytes (256 colours, at `DPI`)."""
        image = self._draw(data).quantize(palette=self._palette, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        image.save(
            buffer, "PNG", compress_level=1, compress_type=zlib.Z_RLE, dpi=(self.dpi, self.dpi)
        )
        return buffer.getvalue()

    def _draw(self, data: ChartData) -> Image.Image:
        count = len(RATES)
        self._name.set_text(data.authority)
        for index, value in enumerate((*data.rates, *data.averages)):
            bar, label = self._bars[index], self._values[index]
            if value is None:  # undefined: no bar, and said so, never drawn as 0%
                bar.set_width(0)
                label.set(text="not applicable", x=1, style="italic", weight="normal")
            else:
                bar.set_width(value)
                label.set(text=f"{value}%", x=value + 1.2, style="normal")
                label.set_fontweight("bold" if index < count else "normal")
        self._canvas.restore_region(self._background)
        for artist in (*self._bars, *self._values):
            self._axes.draw_artist(artist)
        self._figure.draw_artist(self._name)
        width, height = self._canvas.get_width_height()
        return Image.frombuffer("RGBA", (width, height), self._canvas.buffer_rgba()).convert("RGB")


def _palette(sample: Image.Image) -> Image.Image:
    """256 colours for every chart: the exact colours of the page, bars and text, and the
    anti-aliased shades between them as median cut finds them in `sample`. Shades within a few
    levels of an exact colour are left out, so that flat areas (the white page) stay exact."""
    colours = ("#FFFFFF", COUNCIL_COLOUR, AVERAGE_COLOUR, TEXT_COLOUR, MUTED_COLOUR)
    exact = [
        tuple(int(c[i : i + 2], 16) for i in (1, 3, 5))
        for c in (*colours, GRID_COLOUR, AXIS_COLOUR)
    ]
    found = sample.quantize(256 - len(exact), method=Image.Quantize.MEDIANCUT).getpalette() or []
    shades = [tuple(found[i : i + 3]) for i in range(0, len(found), 3)]
    kept = [
        shade
        for shade in dict.fromkeys(shades)
        if all(max(abs(a - b) for a, b in zip(shade, e, strict=True)) > 8 for e in exact)
    ]
    palette = Image.new("P", (1, 1))
    palette.putpalette([level for colour in exact + kept for level in colour])
    return palette


def _font_family() -> str:
    """The letter's font where installed (Arial, or its metric twin Liberation Sans)."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in FONTS if name in installed), "DejaVu Sans")
