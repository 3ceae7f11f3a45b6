"""Accessible, archival letters: tagged PDF/UA-1 and PDF/A-2b by default, checked with a real
validator (page-validation), each letter's structure kept when the combined PDF is split."""

from __future__ import annotations

import functools
import io
import json
import zlib
from pathlib import Path

import page
import pikepdf
import pytest
from docx import Document
from docx.enum.text import WD_COLOR_INDEX
from docx.shared import Cm, RGBColor
from PIL import Image

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.config import PdfSettings, Settings, load_settings
from letter_merge.errors import InputError
from letter_merge.pdf import reading, split
from letter_merge.pdf.conformance import (
    Conformance,
    export_filter,
    mended_xmp,
    read_conformance,
    save,
)
from letter_merge.pdf.convert import ConversionJob
from letter_merge.pdf.libreoffice import LibreOfficeConverter
from letter_merge.pdf.soffice import find_libreoffice
from letter_merge.template.accessibility import accessibility_findings, contrast
from tests.helpers import DEFAULT_COUNCILS, ROOT, pdf_text, run

LIBREOFFICE_XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" rdf:about="">
<pdfaid:part>2</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance></rdf:Description>
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" rdf:about="">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">First letter's title</rdf:li></rdf:Alt></dc:title>
</rdf:Description>
<rdf:Description xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/" rdf:about="">
<pdfuaid:part>1</pdfuaid:part></rdf:Description>
</rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


# -- settings and export options ------------------------------------------------------------


def test_pdf_settings_default_to_accessible_and_archival(tmp_path: Path) -> None:
    config = tmp_path / "letter-merge.toml"
    config.write_text("[batch]\nyear = 2020\n", encoding="utf-8")
    assert load_settings(config, environ={}).pdf == PdfSettings(True, "PDF/A-2b")
    config.write_text('[pdf]\naccessible = false\narchive = "none"\n', encoding="utf-8")
    assert load_settings(config, environ={}).pdf == PdfSettings(False, "none")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'accessible = "yes"',
            "letter-merge.toml: [pdf] accessible = 'yes': write true or false, without quotes.",
        ),
        (
            'archive = "PDF/A-3b"',
            'letter-merge.toml: [pdf] archive = \'PDF/A-3b\': use "PDF/A-2b" or "none".',
        ),
    ],
)
def test_a_wrong_pdf_setting_names_itself(tmp_path: Path, line: str, message: str) -> None:
    config = tmp_path / "letter-merge.toml"
    config.write_text(f"[pdf]\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_settings(config, environ={})
    assert str(raised.value) == message


def test_libreoffice_is_asked_for_what_the_settings_promise() -> None:
    def options(target: str) -> dict[str, str]:
        prefix = "pdf:writer_pdf_Export:"
        assert target.startswith(prefix)
        return {k: v["value"] for k, v in json.loads(target[len(prefix) :]).items()}

    assert options(export_filter(PdfSettings(), destinations=True)) == {
        "UseLosslessCompression": "true",
        "ExportBookmarksToPDFDestination": "true",
        "UseTaggedPDF": "true",
        "PDFUACompliance": "true",
        "SelectPdfVersion": "2",
    }
    assert options(export_filter(PdfSettings(False, "none"))) == {"UseLosslessCompression": "true"}


# -- mending what LibreOffice 7.4 gets wrong --------------------------------------------------


def test_the_xmp_gets_its_letter_s_title_and_the_pdfua_extension_schema() -> None:
    mended = mended_xmp(
        LIBREOFFICE_XMP, "Annual Review letter 2020 – Derby City Council", pdfa=True
    )
    text = mended.decode("utf-8")
    assert "First letter's title" not in text
    assert text.count("Annual Review letter 2020 – Derby City Council") == 1
    assert "<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>" in text
    assert "<pdfaProperty:valueType>Integer</pdfaProperty:valueType>" in text
    assert text.startswith('<?xpacket begin="\ufeff"') and text.endswith('<?xpacket end="w"?>')
    # Without PDF/A there is nothing to declare the property to.
    plain = mended_xmp(LIBREOFFICE_XMP, "A title", pdfa=False).decode("utf-8")
    assert "pdfaExtension" not in plain
    # Mending twice adds nothing.
    assert mended_xmp(mended, "Annual Review letter 2020 – Derby City Council", pdfa=True) == mended


def _ending_in_cr(prefix: bytes) -> bytes:
    """Data (starting with `prefix`) whose zlib stream ends in a carriage return."""
    for number in range(100_000):
        data = prefix + b"%d" % number
        if zlib.compress(data).endswith(b"\r"):
            return data
    raise AssertionError("no such data found")


def test_no_stream_is_saved_with_data_ending_in_a_carriage_return() -> None:
    # Data ending in CR, then the end of line before `endstream`, reads as CR LF: validators then
    # count the stream a byte short (PDFA2B-STREAM-LENGTH-001).
    pdf = pikepdf.new()
    pdf.add_blank_page()
    drawing = _ending_in_cr(b"0 0 m 10 10 l S\n%")
    pdf.pages[0].obj.Contents = pdf.make_stream(
        zlib.compress(drawing), Filter=pikepdf.Name.FlateDecode
    )
    width, rows = 7, 5
    pixels = None
    for seed in range(5000):
        candidate = bytes((seed * 31 + i * 7) % 256 for i in range(width * rows * 3))
        if zlib.compress(candidate).endswith(b"\r"):
            pixels = candidate
            break
    assert pixels is not None
    picture = pdf.make_stream(
        zlib.compress(pixels),
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=width,
        Height=rows,
        ColorSpace=pikepdf.Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=pikepdf.Name.FlateDecode,
    )
    pdf.pages[0].obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im1=picture))
    data = save(pdf)
    assert b"\r\nendstream" not in data and b"\rendstream" not in data
    with pikepdf.open(io.BytesIO(data)) as again:
        assert again.pages[0].obj.Contents.read_bytes() == drawing + b"\n"
        stored = again.pages[0].obj.Resources.XObject.Im1
        assert isinstance(stored, pikepdf.Stream)
        image = pikepdf.PdfImage(stored).as_pil_image()
        assert image.tobytes() == Image.frombytes("RGB", (width, rows), pixels).tobytes()


# -- what the proof reports -----------------------------------------------------------------


def test_the_proof_says_what_a_plain_pdf_lacks(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "plain.pdf")
    found = read_conformance(tmp_path / "plain.pdf")
    assert found.problems(PdfSettings()) == [
        "not tagged: a screen reader gets no headings, tables or order",
        "no document language",
        "no title shown as the window title",
        "no PDF/UA-1 identification in its metadata",
        "not marked PDF/A-2b",
    ]
    assert found.problems(PdfSettings(False, "none")) == []


def test_missing_alt_text_headers_and_link_text_are_counted() -> None:
    gaps = Conformance(
        tagged=True,
        language="en-GB",
        title="t",
        shows_title=True,
        pdfa="2B",
        pdfua="1",
        unembedded_fonts=(),
        figures_without_alt=1,
        tables_without_headers=2,
        links_without_text=1,
    )
    assert gaps.problems(PdfSettings()) == [
        "1 picture without alternative text",
        "2 tables without header cells",
        "1 link without readable text",
    ]


# -- the template doctor ---------------------------------------------------------------------


def test_contrast_is_wcag_s() -> None:
    assert round(contrast("767676", "FFFFFF"), 2) == 4.54  # the palest grey that passes AA
    assert round(contrast("000000", "FFFFFF"), 1) == 21.0


def inaccessible_template(path: Path) -> Path:
    """A template with each thing that defeats accessibility: a picture without alternative
    text, a table without a header row, pale text, and a heading made of bold type."""
    document = Document()
    bold = document.add_paragraph().add_run("Complaint statistics")
    bold.bold = True
    document.add_paragraph("Dear {{ salutation }}")
    pale = document.add_paragraph().add_run("Figures for {{ authority }}")
    pale.font.color.rgb = RGBColor(0xAA, 0xAA, 0xAA)
    highlighted = document.add_paragraph().add_run("Fine: black on yellow")
    highlighted.font.highlight_color = WD_COLOR_INDEX.YELLOW
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "navy").save(buffer, "PNG")
    buffer.seek(0)
    document.add_picture(buffer, width=Cm(1))
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Key statistic"
    table.cell(1, 0).text = "{{ upheld_rate }}"
    document.save(str(path))
    return path


def test_the_doctor_warns_where_the_template_defeats_accessibility(tmp_path: Path) -> None:
    template = inaccessible_template(tmp_path / "letter.docx")
    assert [str(f) for f in accessibility_findings(template)] == [
        "letter.docx, paragraph 5 '': Picture 1 has no alternative text, so a screen reader "
        "cannot say what it shows; right-click it > Edit Alt Text (Word) or Properties > Options "
        "> Alternative (Writer) and describe it, or mark it as decorative.",
        "letter.docx, table 1: has no header row, so a screen reader cannot say which column a "
        "figure is in; select its first row > Table Properties > Row > 'Repeat as header row at "
        "the top of each page' (Writer: Table Properties > Text Flow > Repeat heading).",
        "letter.docx, paragraph 1 'Complaint statistics': looks like a heading (bold, on a line "
        "of its own) but is not one; select the paragraph and apply a heading style (Word: Home "
        "> Styles > Heading 2; Writer: Styles > Heading 2): a screen reader lists and jumps "
        "between headings by their style, not by how they look.",
        "letter.docx, paragraph 3 'Figures for {{ authority }}': text in colour #AAAAAA on "
        "#FFFFFF has a contrast of 2.3:1, below the 4.5:1 that WCAG 2.2 AA asks for; choose a "
        "darker colour (or Automatic).",
    ]
    assert accessibility_findings(ROOT / "templates" / "letter.docx") == []


def test_check_shows_accessibility_warnings_and_passes(folder: Path) -> None:
    inaccessible_template(folder / "templates" / "letter.docx")
    result = run("check")
    assert result.exit_code == 0, result.output
    assert "4 warnings; the letters can be built, but look at:" in result.output
    assert "table 1: has no header row" in result.output
    # Turned off, they are not the user's concern.
    with (folder / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write("[pdf]\naccessible = false\n")
    result = run("check")
    assert result.exit_code == 0 and "warning" not in result.output


# -- real LibreOffice, real validator ----------------------------------------------------------


def _elements(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    found: list[pikepdf.Dictionary] = []
    stack = [pdf.Root.StructTreeRoot]
    while stack:
        element = stack.pop()
        value = element.get("/K")
        for kid in value if isinstance(value, pikepdf.Array) else [value]:
            if isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") not in ("/MCR", "/OBJR"):
                found.append(kid)
                stack.append(kid)
    return found


@pytest.mark.libreoffice
def test_every_letter_is_tagged_archival_and_valid(built_by_libreoffice: Path) -> None:
    letters = sorted((built_by_libreoffice / "output" / "2020" / "letters").glob("*.pdf"))
    assert len(letters) == len(DEFAULT_COUNCILS)
    names = [name for name, *_ in DEFAULT_COUNCILS]
    for letter in letters:
        for profile in ("ua1", "2b"):
            report = page.validate_pdf(letter, profile=profile)
            assert report.is_compliant, (letter.name, [f.rule_id for f in report.failures])
        authority = next(n for n in names if letter.name.startswith(n))
        with pikepdf.open(letter) as pdf:
            own_pages = {p.obj.objgen for p in pdf.pages}
            elements = _elements(pdf)
            # The structure is this letter's alone, and points at its own pages.
            assert all(e.Pg.objgen in own_pages for e in elements if "/Pg" in e)
            roles = [str(e.S) for e in elements]
            assert roles.count("/H1") == 2 and roles.count("/Table") == 3 and "/TH" in roles
            figures = [e for e in elements if e.S == "/Figure"]
            assert len(figures) == 1 and str(figures[0].Alt).startswith(
                f"Bar chart for {authority}."
            )
            # Every page's marked content leads back to an element (the parent tree).
            parents = dict(zip(*[iter(pdf.Root.StructTreeRoot.ParentTree.Nums)] * 2, strict=True))
            for own in pdf.pages:
                assert isinstance(parents[int(own.obj.StructParents)], pikepdf.Array)
                assert own.obj.Tabs == "/S"
            assert str(pdf.Root.Lang) == "en-GB"
            assert str(pdf.docinfo.Title) == f"Annual Review letter 2020 – {authority}"
            with pdf.open_metadata() as xmp:
                assert xmp["dc:title"] == f"Annual Review letter 2020 – {authority}"
                assert xmp["pdfaid:part"] == "2" and xmp["pdfaid:conformance"] == "B"
            with pdf.open_outline() as outline:
                assert [item.title for item in outline.root] == [
                    "Annual Review letter 2020",
                    f"Appendix: {authority}",
                ]
        # No other council's name anywhere in the file: text, alternative text, bookmarks.
        strangers = [n for n in names if n != authority and n in _all_text(letter)]
        assert strangers == [], letter.name


def _all_text(pdf_path: Path) -> str:
    text = pdf_text(pdf_path)
    with pikepdf.open(pdf_path) as pdf:
        strings = [str(e.get("/Alt", "")) for e in _elements(pdf)]
        with pdf.open_outline() as outline:
            strings += [item.title for item in outline.root]
        with pdf.open_metadata() as xmp:
            strings.append(str(xmp.get("dc:title", "")))
    return text + "\n".join(strings)


@pytest.mark.libreoffice
def test_a_split_letter_is_the_letter_converted_alone(settings: Settings, tmp_path: Path) -> None:
    report = build_letters(load_batch(settings), converter=None)
    program = find_libreoffice()
    assert program is not None
    jobs = {}
    for combine in (True, False):
        folder = tmp_path / ("together" if combine else "alone")
        folder.mkdir()
        jobs[combine] = [
            ConversionJob(o.docx, folder / f"{o.docx.stem}.pdf") for o in report.letters if o.docx
        ]
        results = LibreOfficeConverter(program, combine=combine).convert(jobs[combine])
        assert [r.error for r in results] == [None] * len(results)
    for together, alone in zip(jobs[True], jobs[False], strict=True):
        assert pdf_text(together.pdf) == pdf_text(alone.pdf)
        with pikepdf.open(together.pdf) as split, pikepdf.open(alone.pdf) as single:
            assert len(split.pages) == len(single.pages)
            assert sorted(str(e.S) for e in _elements(split)) == sorted(
                str(e.S) for e in _elements(single)
            )
        assert read_conformance(together.pdf) == read_conformance(alone.pdf)


@pytest.mark.libreoffice
def test_accessibility_and_archiving_can_be_turned_off(folder: Path) -> None:
    with (folder / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write('[pdf]\naccessible = false\narchive = "none"\n')
    result = run("build", "--only", "Derby")
    assert result.exit_code == 0, result.output
    letter = folder / "output" / "2020" / "letters" / "Derby City Council - Annual Review 2020.pdf"
    found = read_conformance(letter)
    assert not found.tagged and found.pdfa == "" and found.pdfua == ""
    assert found.title == "Annual Review letter 2020 – Derby City Council"
    # Promised again but not rebuilt: the proof says what the letter lacks.
    config = folder / "letter-merge.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        .replace("accessible = false", "")
        .replace('archive = "none"', "")
    )
    result = run("proof")
    assert result.exit_code == 1, result.output
    results = json.loads(
        (folder / "output" / "2020" / "proof" / "results.json").read_text(encoding="utf-8")
    )
    (derby,) = [r for r in results if r["authority"] == "Derby City Council"]
    assert derby["problems"] == [
        "Built from the current inputs (the [pdf] or [chart] settings changed; build, proof and "
        "approve it again)",
        "Accessible, archival PDF (PDF/UA-1, PDF/A-2b) (not tagged: a screen reader gets no headings, tables or order; "
        "no PDF/UA-1 identification in its metadata; not marked PDF/A-2b)",
    ]


@pytest.mark.libreoffice
def test_a_tree_that_does_not_divide_into_letters_gives_letters_converted_alone(
    settings: Settings, tmp_path: Path
) -> None:
    """Should LibreOffice ever tag a combined document so that a block spans two letters, the
    chunk is converted a letter at a time instead: every letter still comes, tagged and valid."""
    report = build_letters(load_batch(settings), converter=None)
    jobs = [
        ConversionJob(o.docx, tmp_path / f"{o.docx.stem}.pdf", o.letter.subject)
        for o in report.letters
        if o.docx
    ]
    refused: list[bool] = []

    def undivided(*_: object) -> None:
        refused.append(True)
        return None

    program = find_libreoffice()
    assert program is not None
    cut = functools.partial(split.letter_pdfs, divide=undivided)
    results = LibreOfficeConverter(program, split=cut).convert(jobs)
    assert refused and [r.error for r in results] == [None] * len(jobs)
    for job in jobs:
        assert page.validate_pdf(job.pdf, profile="ua1").is_compliant
        assert read_conformance(job.pdf).title == job.title


@pytest.mark.libreoffice
def test_a_pdf_a_letter_is_read_as_it_is_and_left_as_it_is(built_by_libreoffice: Path) -> None:
    letter = next((built_by_libreoffice / "output" / "2020" / "letters").glob("*.pdf"))
    before = letter.read_bytes()
    text = reading.pdf_text(letter)
    assert letter.name.split(" - ")[0] in " ".join(text.split())
    assert letter.read_bytes() == before
