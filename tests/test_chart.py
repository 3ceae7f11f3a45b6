"""The chart in every letter: drawn right, in the right letter, and paid for only when used."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from docx import Document
from PIL import Image
from pypdf import PdfReader

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.chart import model
from letter_merge.chart import picture as chart
from letter_merge.chart.drawing import AVERAGE_COLOUR, COUNCIL_COLOUR, ChartMaker
from letter_merge.chart.model import ChartData
from letter_merge.chart.picture import Charts
from letter_merge.config import Settings
from letter_merge.pdf.combine import combine_letters
from letter_merge.pdf.libreoffice import LibreOfficeConverter
from letter_merge.pdf.pictures import STAND_IN
from letter_merge.pdf.soffice import find_libreoffice
from letter_merge.template.render import LetterTemplate
from tests.helpers import make_template

DERBY = ChartData("Derby City Council", (75, 100, 33), (59, 92, 11))
NOTHING_TO_SHOW = ChartData("Council of the Isles of Scilly", (None, None, None), (59, 92, 11))
ZEROES = ChartData("Council of the Isles of Scilly", (0, 0, 0), (59, 92, 11))


def colour_pixels(png: bytes, colour: str, *, below: float = 0.0) -> int:
    """How many pixels of the chart are exactly `colour`, ignoring the top `below` of it."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    wanted = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    top = int(image.height * below)
    region = image.crop((0, top, image.width, image.height))
    return sum(count for count, rgb in region.getcolors(1 << 20) or [] if rgb == wanted)


@pytest.fixture(scope="module")
def maker() -> ChartMaker:
    return ChartMaker(model.MAX_WIDTH, model.DPI)


def test_a_chart_is_a_png_at_the_set_resolution_on_a_white_page(maker: ChartMaker) -> None:
    image = Image.open(io.BytesIO(maker.png(DERBY)))
    assert image.format == "PNG"
    width_inches = model.MAX_WIDTH / 914_400
    assert abs(image.width - width_inches * model.DPI) < 1
    assert image.info["dpi"] == pytest.approx((model.DPI, model.DPI), abs=0.1)
    assert image.convert("RGB").getpixel((2, image.height - 2)) == (255, 255, 255)
    # both series are drawn in their exact colours, not a shade off
    assert colour_pixels(maker.png(DERBY), COUNCIL_COLOUR, below=0.2) > 1000
    assert colour_pixels(maker.png(DERBY), AVERAGE_COLOUR, below=0.2) > 1000


def test_longer_bars_for_higher_rates(maker: ChartMaker) -> None:
    low = ChartData("Derby City Council", (10, 10, 10), (59, 92, 11))
    high = ChartData("Derby City Council", (90, 90, 90), (59, 92, 11))
    assert colour_pixels(maker.png(high), COUNCIL_COLOUR) > 5 * colour_pixels(
        maker.png(low), COUNCIL_COLOUR
    )


def test_undefined_rates_are_not_drawn_as_zero(maker: ChartMaker) -> None:
    undefined, zero = maker.png(NOTHING_TO_SHOW), maker.png(ZEROES)
    # no council bar at all below the key (the key's swatch is in the top fifth)
    assert colour_pixels(undefined, COUNCIL_COLOUR, below=0.2) == 0
    assert undefined != zero  # "not applicable" is written where 0% would be
    assert "Complaints upheld: not applicable (average 59%)" in NOTHING_TO_SHOW.description()
    assert "Complaints upheld: 0% (average 59%)" in ZEROES.description()


def test_charts_drawn_in_parallel_are_the_ones_drawn_here(tmp_path: Path) -> None:
    many = [
        {
            "authority": f"Council {number}",
            "upheld_rate": number,
            "compliance_rate": 50,
            "remedy_rate": None,
            "upheld_rate_average": 40,
            "compliance_rate_average": 90,
            "remedy_rate_average": None,
        }
        for number in range(chart.PARALLEL_FROM + 2)
    ]
    charts = Charts(model.MAX_WIDTH, model.DPI, tmp_path / "cache")
    charts.prepare(many)
    assert len(list((tmp_path / "cache").glob("*.png"))) == len(many)
    assert charts._maker is None  # none were left to draw here
    here = ChartMaker(model.MAX_WIDTH, model.DPI)
    for fields in many[:3]:
        assert charts.picture(fields).png == here.png(ChartData.of(fields))
    # a new batch finds them in the cache and draws nothing
    again = Charts(model.MAX_WIDTH, model.DPI, tmp_path / "cache")
    again.prepare(many)
    assert again.picture(many[0]).png == charts.picture(many[0]).png and again._maker is None
    # a cached chart cut short (a crash while it was written) is drawn again
    damaged = tmp_path / "cache" / f"{ChartData.of(many[1]).key(model.MAX_WIDTH, model.DPI)}.png"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    fresh = Charts(model.MAX_WIDTH, model.DPI, tmp_path / "cache")
    assert fresh.picture(many[1]).png == charts.picture(many[1]).png
    # another resolution is another chart
    assert Charts(model.MAX_WIDTH, 150, tmp_path / "cache")._cached(ChartData.of(many[0])) is None


def test_the_chart_field_puts_the_picture_in_the_letter(settings: Settings) -> None:
    batch = load_batch(settings)
    assert batch.template.uses_chart
    letter = next(x for x in batch.letters() if x.council.authority == "Derby City Council")
    data = batch.template.render(letter.fields)
    document = Document(io.BytesIO(data))
    assert len(document.inline_shapes) == 1
    shape = document.inline_shapes[0]
    assert abs(shape.width - model.MAX_WIDTH) < 10
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        png = package.read(chart.PART_NAME)
        xml = package.read("word/document.xml").decode()
    assert png == batch.template.charts.picture(letter.fields).png
    assert 'descr="Bar chart for Derby City Council. Complaints upheld: 63%' in xml


def test_a_template_without_the_chart_pays_nothing_for_it(tmp_path: Path) -> None:
    """No picture in the letter and matplotlib never imported."""
    path = make_template(tmp_path / "plain.docx", "Dear {{ salutation }}")
    script = (
        "import sys, io, zipfile\n"
        "from pathlib import Path\n"
        "from letter_merge.template.render import LetterTemplate\n"
        f"template = LetterTemplate(Path({str(path)!r}), chart_cache=Path({str(tmp_path)!r}))\n"
        "data = template.render({'salutation': 'Ms Smith'})\n"
        "names = zipfile.ZipFile(io.BytesIO(data)).namelist()\n"
        "assert not template.uses_chart\n"
        "assert not any('chart' in n for n in names), names\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "ok", result.stderr
    assert not list(tmp_path.glob("*.png"))


def test_the_chart_can_only_be_in_the_letters_body(tmp_path: Path) -> None:
    path = make_template(tmp_path / "t.docx", "Dear {{ salutation }}")
    document = Document(str(path))
    document.sections[0].header.paragraphs[0].text = "{{ chart }}"
    document.save(str(path))
    problems = LetterTemplate(path).check_fields([])
    assert [p.message for p in problems] == [
        "{{ chart }} can only be in the body of the letter; move it out of the header."
    ]


@pytest.mark.libreoffice
def test_each_letter_s_pdf_holds_its_own_chart(settings: Settings, tmp_path: Path) -> None:
    """Converted together and split, every PDF carries the chart drawn for its council, pixel for
    pixel: no letter shows another council's figures."""
    batch = load_batch(settings)
    report = build_letters(batch, converter=None)
    program = find_libreoffice()
    assert program is not None
    combined = tmp_path / "combined.docx"
    combined.write_bytes(combine_letters([o.docx for o in report.letters if o.docx]).data)
    with zipfile.ZipFile(combined) as package:
        pictures = [n for n in package.namelist() if n.startswith("word/media/letter-merge-chart")]
        # LibreOffice lays out one stand-in; each PDF is given its own chart (pdf/pictures.py)
        assert pictures == [chart.PART_NAME]
        assert package.read(chart.PART_NAME) == STAND_IN

    report = build_letters(batch, converter=LibreOfficeConverter(program))
    assert not report.failed
    drawn = {
        o.authority: Image.open(io.BytesIO(batch.template.charts.picture(o.letter.fields).png))
        for o in report.letters
    }
    assert len({image.tobytes() for image in drawn.values()}) == 4  # four different charts
    for outcome in report.letters:
        assert outcome.pdf is not None
        images = [image for page in PdfReader(outcome.pdf).pages for image in page.images]
        assert len(images) == 1, outcome.authority
        picture = images[0].image
        assert picture is not None
        in_pdf = picture.convert("RGB")
        assert in_pdf.tobytes() == drawn[outcome.authority].convert("RGB").tobytes(), (
            f"{outcome.authority}: the PDF's chart is not the one drawn for it"
        )


def test_a_new_chart_resolution_remakes_the_letters(settings: Settings) -> None:
    assert all(o.remade for o in build_letters(load_batch(settings)).letters)
    assert not any(o.remade for o in build_letters(load_batch(settings)).letters)
    finer = dataclasses.replace(settings, chart_dpi=300)
    report = build_letters(load_batch(finer))
    assert all(o.remade for o in report.letters)
    docx = report.letters[0].docx
    assert docx is not None
    with zipfile.ZipFile(docx) as package:
        assert Image.open(io.BytesIO(package.read(chart.PART_NAME))).info["dpi"][0] == (
            pytest.approx(300, abs=0.1)
        )


def test_a_chart_used_twice_gets_two_drawing_ids(tmp_path: Path) -> None:
    path = make_template(tmp_path / "t.docx", "{{ chart }}", "Again: {{ chart }}")
    fields = {
        "authority": "Derby City Council",
        **dict(zip(("upheld_rate", "compliance_rate", "remedy_rate"), DERBY.rates, strict=True)),
        **dict(
            zip(
                ("upheld_rate_average", "compliance_rate_average", "remedy_rate_average"),
                DERBY.averages,
                strict=True,
            )
        ),
    }
    document = Document(io.BytesIO(LetterTemplate(path).render(fields)))
    assert len(document.inline_shapes) == 2
    ids = [shape._inline.docPr.get("id") for shape in document.inline_shapes]
    assert len(set(ids)) == 2, ids
