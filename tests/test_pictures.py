"""Each letter's chart put into its PDF in place of the stand-in LibreOffice laid out (no
LibreOffice here: test_combined.py shows the letters are the letters converted alone)."""

from __future__ import annotations

import io
import zipfile

import pikepdf
from PIL import Image

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.chart import picture as chart
from letter_merge.config import Settings
from letter_merge.pdf.combine import combine_letters
from letter_merge.pdf.pictures import STAND_IN, STAND_IN_RGB, STAND_IN_SIZE, Png, put_in


def page_showing(pdf: pikepdf.Pdf, image: pikepdf.Stream) -> None:
    """A page drawing `image` as /Im0, as LibreOffice draws a picture."""
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[-1]
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.obj.Contents = pdf.make_stream(b"q 400 0 0 112 50 600 cm /Im0 Do Q")


def stand_in_as_libreoffice_writes_it(pdf: pikepdf.Pdf) -> pikepdf.Stream:
    image = pikepdf.Stream(pdf, STAND_IN_RGB)
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height = STAND_IN_SIZE
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    return pdf.make_indirect(image)


def a_chart(settings: Settings) -> bytes:
    report = build_letters(load_batch(settings), converter=None)
    (png,) = combine_letters([report.letters[0].docx]).charts  # type: ignore[list-item]
    assert png is not None
    return png


def test_the_stand_in_is_the_pattern_it_is_looked_for_by() -> None:
    with Image.open(io.BytesIO(STAND_IN)) as picture:
        assert picture.size == STAND_IN_SIZE
        assert picture.convert("RGB").tobytes() == STAND_IN_RGB
    assert len(set(zip(*[iter(STAND_IN_RGB)] * 3, strict=True))) == 15, "a colour each pixel"


def test_the_chart_goes_in_as_its_own_png_data(settings: Settings) -> None:
    png = a_chart(settings)
    read = Png.read(png)
    assert read is not None and read.colour_type == 3  # a palette, as the charts are drawn
    pdf = pikepdf.new()
    page_showing(pdf, stand_in_as_libreoffice_writes_it(pdf))
    page_showing(pdf, stand_in_as_libreoffice_writes_it(pdf))
    assert put_in(pdf, png)
    images = [page.obj.Resources.XObject.Im0 for page in pdf.pages]
    assert isinstance(images[0], pikepdf.Stream)
    assert images[0].objgen == images[1].objgen, "one image, drawn on both pages"
    assert images[0].read_raw_bytes() == read.data, "not decompressed or compressed again"
    shown = pikepdf.PdfImage(images[0]).as_pil_image().convert("RGB")
    with Image.open(io.BytesIO(png)) as original:
        assert shown.tobytes() == original.convert("RGB").tobytes(), "pixel for pixel"


def test_a_page_without_the_stand_in_is_left_as_it_is(settings: Settings) -> None:
    pdf = pikepdf.new()
    other = stand_in_as_libreoffice_writes_it(pdf)
    other.write(bytes(reversed(STAND_IN_RGB)))  # the same size, another picture
    page_showing(pdf, other)
    assert not put_in(pdf, a_chart(settings))
    assert pdf.pages[0].obj.Resources.XObject.Im0.objgen == other.objgen


def test_what_a_pdf_cannot_take_as_it_is_is_not_taken() -> None:
    with io.BytesIO() as buffer:
        Image.new("RGBA", (4, 4)).save(buffer, "PNG")  # an alpha channel
        assert Png.read(buffer.getvalue()) is None
    assert Png.read(b"GIF89a") is None


def test_letters_converted_together_carry_one_stand_in(settings: Settings) -> None:
    report = build_letters(load_batch(settings), converter=None)
    letters = [o.docx for o in report.letters if o.docx]
    together = combine_letters(letters)
    with zipfile.ZipFile(io.BytesIO(together.data)) as combined:
        assert combined.read(chart.PART_NAME) == STAND_IN
        assert not [
            n for n in combined.namelist() if n.startswith("word/media/letter-merge-chart-")
        ]
    # each letter's own chart, to put in its PDF: as its own .docx has it
    assert all(together.charts) and len(set(together.charts)) == 4
    for docx, png in zip(letters, together.charts, strict=True):
        with zipfile.ZipFile(docx) as package:
            assert package.read(chart.PART_NAME) == png
