"""The chart in a letter: a council's three rates beside the averages for similar authorities.

The chart is drawn with matplotlib (drawing.py) as a PNG at print resolution and reaches the
template through the `{{ chart }}` field, the way docxtpl's InlineImage does it: the field's value
is a picture run that closes the text run it stands in. The picture's relationship is added once
to the compiled template (see template/render.py), so each letter only adds its own PNG.

Charts are kept in `output/.cache/charts/` by what they show, so a rebuild after a template edit
draws none, and a batch's missing charts are drawn on every core. Only a template that uses
`{{ chart }}` has charts drawn, and only then is matplotlib imported.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docx.oxml.shape import CT_Inline
from docx.shared import Length
from lxml import etree

from letter_merge.chart.model import DPI, ChartData, chart_size
from letter_merge.files import write_atomic
from letter_merge.process import worker_pool

log = logging.getLogger(__name__)

# Where each letter's picture lives in its package, and the relationship its body refers to.
PART_NAME = "word/media/letter-merge-chart.png"
RELATIONSHIP_ID = "rIdLetterMergeChart"
RELATIONSHIP_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
PICTURE_ID = 9001  # the drawing's id in the document; templates number their own from 1
PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"
PARALLEL_FROM = 24  # fewer charts than this are drawn in this process
CHUNK = 16  # charts per task when drawing in parallel


@dataclass(frozen=True)
class ChartPicture:
    """A chart as a template value: rendering `{{ chart }}` inserts the picture."""

    png: bytes
    width: Length
    height: Length
    description: str

    def __html__(self) -> str:
        inline = CT_Inline.new_pic_inline(
            PICTURE_ID, RELATIONSHIP_ID, "letter-merge-chart.png", self.width, self.height
        )
        inline.docPr.set("name", "Chart")
        inline.docPr.set("descr", self.description)
        xml = etree.tostring(inline, encoding="unicode")
        return f'</w:t></w:r><w:r><w:drawing>{xml}</w:drawing></w:r><w:r><w:t xml:space="preserve">'


def number_pictures(body_xml: bytes) -> bytes:
    """Give each chart in the body a drawing id of its own, should `{{ chart }}` be used twice
    (Word wants every drawing's id to be unique)."""
    marker = f'<wp:docPr id="{PICTURE_ID}"'.encode()
    parts = body_xml.split(marker)
    if len(parts) <= 2:
        return body_xml
    numbered = [parts[0]]
    for number, rest in enumerate(parts[1:]):
        numbered.append(f'<wp:docPr id="{PICTURE_ID + number}"'.encode() + rest)
    return b"".join(numbered)


class Charts:
    """The charts of a batch at one width: drawn once, and kept in `cache` (a folder) if given."""

    def __init__(self, width: int, dpi: int = DPI, cache: Path | None = None) -> None:
        self.width, self.height = chart_size(width)
        self.dpi = dpi
        self.cache = cache
        self._maker: Any = None  # a drawing.ChartMaker, made when the first chart is drawn
        self._ready: dict[ChartData, bytes] = {}

    def picture(self, fields: Mapping[str, Any]) -> ChartPicture:
        data = ChartData.of(fields)
        png = self._cached(data)
        if png is None:
            if self._maker is None:
                from letter_merge.chart.drawing import ChartMaker  # matplotlib: 0.7 s to import

                self._maker = ChartMaker(self.width, self.dpi)
            png = self._keep(data, self._maker.png(data))
        return ChartPicture(png, self.width, self.height, data.description())

    def prepare(
        self,
        many: Iterable[Mapping[str, Any]],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Draw the charts of many letters ahead of rendering, on every core when there are many
        (`on_progress(done, total)` as they come)."""
        missing = [d for d in dict.fromkeys(map(ChartData.of, many)) if not self._has(d)]
        workers = min(os.cpu_count() or 1, 4)
        if len(missing) < PARALLEL_FROM or workers < 2:
            return  # drawn one by one as the letters are rendered
        chunks = [missing[i : i + CHUNK] for i in range(0, len(missing), CHUNK)]
        done = 0
        try:
            with worker_pool(workers, start_worker, (self.width, self.dpi)) as pool:
                for chunk, pngs in zip(chunks, pool.map(draw_in_worker, chunks), strict=True):
                    for data, png in zip(chunk, pngs, strict=True):
                        self._keep(data, png)
                    done += len(chunk)
                    if on_progress:
                        on_progress(done, len(missing))
        except (BrokenExecutor, OSError) as error:
            # e.g. a script without `if __name__ == "__main__":`, which spawn cannot start from
            log.info("drawing charts one by one: %s", error)

    def _cached(self, data: ChartData) -> bytes | None:
        """The chart if drawn already: from memory, or from the cache folder (read each time, so
        that ten thousand charts are never all held in memory at once)."""
        png = self._ready.get(data)
        if png is None and self.cache is not None:
            try:
                png = self._path(data).read_bytes()
            except OSError:
                return None
            if not (png.startswith(PNG_START) and png.endswith(PNG_END)):
                return None  # cut short (a crash while it was written): drawn again
        return png

    def _has(self, data: ChartData) -> bool:
        return data in self._ready or (self.cache is not None and self._path(data).exists())

    def _keep(self, data: ChartData, png: bytes) -> bytes:
        if self.cache is None:
            self._ready[data] = png
        else:
            try:
                write_atomic(self._path(data), png, durable=False)
            except OSError:
                self._ready[data] = png  # the cache only saves time
        return png

    def _path(self, data: ChartData) -> Path:
        assert self.cache is not None
        return self.cache / f"{data.key(self.width, self.dpi)}.png"


_worker_maker: Any = None  # each drawing process's drawing.ChartMaker


def start_worker(width: int, dpi: int) -> None:
    """Set up a process of `Charts.prepare`'s pool: matplotlib is imported there, not here."""
    global _worker_maker
    from letter_merge.chart.drawing import ChartMaker

    _worker_maker = ChartMaker(width, dpi)


def draw_in_worker(many: Sequence[ChartData]) -> list[bytes]:
    return [_worker_maker.png(data) for data in many]
