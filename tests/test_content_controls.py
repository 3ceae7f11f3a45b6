"""Content controls (w:sdt) read as Word reads them, in every place Word puts them: around
paragraphs, tables, rows (repeating sections), cells and runs; in headers, footers, footnotes and
text boxes; nested; showing their placeholder or not; check boxes, date pickers, drop-down lists,
plain and rich text. Fields in them merge, and a message names the place through them.

Documents saved by Word come from tests/data/content-controls (see its README); the shapes none
of them has are written as Word writes them (tests/word_controls.py)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.config import Settings
from letter_merge.errors import ProblemsFound
from letter_merge.template.wordxml import is_text_part, paragraphs, parse, w
from tests import word_controls
from tests import word_features as wf
from tests.helpers import ROOT, pdf_text, run

SAVED = ROOT / "tests" / "data" / "content-controls"
TEMPLATE = Path("templates") / "letter.docx"


def letters(settings: Settings) -> dict[str, dict[str, etree._Element]]:
    """Each council's letter as its parsed text parts, built without converting."""
    report = build_letters(load_batch(settings), converter=None)
    assert [o.error for o in report.letters] == [None] * len(report.letters)
    built = {}
    for outcome in report.letters:
        assert outcome.docx is not None
        with zipfile.ZipFile(outcome.docx) as package:
            built[outcome.authority] = {
                name: parse(package.read(name)) for name in package.namelist() if is_text_part(name)
            }
    return built


def control_text(root: etree._Element, title: str) -> str:
    """The text of the content control with this title (w:alias) or tag."""
    for control in root.iter(w("sdt")):
        properties = control.find(w("sdtPr"))
        assert properties is not None
        names = [e.get(w("val")) for e in properties if e.tag in (w("alias"), w("tag"))]
        if title in names:
            return "".join(t.text or "" for t in control.iter(w("t")))
    raise AssertionError(f"no content control {title!r}")


def test_saved_documents_locate_every_paragraph_through_their_controls() -> None:
    # invoice.docx has controls around a table, around cells and around paragraphs: a cell's
    # parent there is w:sdtContent, not w:tr (it ended in a ValueError in `check`).
    with zipfile.ZipFile(SAVED / "invoice.docx") as package:
        root = parse(package.read("word/document.xml"))
    places = [p.where for p in paragraphs("word/document.xml", root)]
    assert places[:9] == [
        "paragraph 1",
        "paragraph 2",
        "paragraph 3",
        "paragraph 4 (content control 'Customer name')",
        "paragraph 5",
        "table 1 row 1 cell 1",
        "table 1 row 1 cell 2",
        "table 1 row 2 cell 1 (content control 'Description')",
        "table 1 row 2 cell 2 (content control 'Price')",
    ]
    # Every part of every saved document is read, whatever its controls wrap.
    for document in sorted(SAVED.glob("*.docx")):
        with zipfile.ZipFile(document) as package:
            for name in package.namelist():
                if is_text_part(name):
                    located = list(paragraphs(name, parse(package.read(name))))
                    assert located or name != "word/document.xml", document.name


def test_cells_wrapped_in_controls_are_numbered_as_word_shows_them() -> None:
    # DOCPROP_builtin.docx: each property's cell is wrapped in a control inside its row.
    with zipfile.ZipFile(SAVED / "DOCPROP_builtin.docx") as package:
        root = parse(package.read("word/document.xml"))
    places = [p.where for p in paragraphs("word/document.xml", root)]
    assert "table 1 row 2 cell 3 (content control 'Abstract')" in places
    assert "table 1 row 2 cell 4" in places  # the cell after the control keeps its number
    assert "table 1 row 3 cell 3 (content control 'Author')" in places


def test_fields_in_controls_in_every_place_merge(settings: Settings) -> None:
    word_controls.in_every_place(TEMPLATE)
    built = letters(settings)
    assert len(built) == 4
    for authority, parts in built.items():
        body = parts["word/document.xml"]
        for title in ("Council", "Council cell", "Box council", "Address block"):
            assert authority in control_text(body, title), (authority, title)
        assert control_text(body, "Date") == "22 July 2020"
        assert control_text(body, "Kind").endswith("Council")  # the authority's type
        assert authority in control_text(parts["word/header1.xml"], "Header council")
        assert authority in control_text(parts["word/footnotes.xml"], "Note council")
        for name, root in parts.items():
            text = "".join(t.text or "" for t in root.iter(w("t")))
            assert "{{" not in text and "}}" not in text, name
        # the check box and the placeholder never typed in are left as Word saved them
        assert "☒" in "".join(t.text or "" for t in body.iter(w("t")))
        assert len(list(body.iter(w("showingPlcHdr")))) == 1


def test_an_unknown_field_in_a_control_is_placed_through_it(settings: Settings) -> None:
    word_controls.in_every_place(TEMPLATE)
    with wf.Package(TEMPLATE) as package:
        package.body = package.body.replace(
            '<w:t xml:space="preserve">{{ authority }}</w:t></w:r></w:p></w:tc>',
            '<w:t xml:space="preserve">{{ authorty }}</w:t></w:r></w:p></w:tc>',
            1,
        )
    with pytest.raises(ProblemsFound) as raised:
        load_batch(settings)
    (problem,) = raised.value.problems
    assert problem.where == (
        "letter.docx, table 1 row 2 cell 1 (content control 'Council cell') '{{ authorty }}'"
    )
    assert "{{ authorty }} is not a field; did you mean authority?" in problem.message


@pytest.mark.parametrize("document", ["invoice2013.docx", "DOCPROP_builtin.docx"])
def test_a_field_typed_into_a_bound_control_is_what_the_letter_keeps(
    settings: Settings, document: str
) -> None:
    # Word (and LibreOffice) show a bound control's data, not its text, and a control showing
    # its placeholder as a prompt: a control a field fills is made plain in the letter.
    template = TEMPLATE.resolve()
    shutil.copy(SAVED / document, template)
    with zipfile.ZipFile(template) as package:
        parts = {info.filename: package.read(info) for info in package.infolist()}
    root = parse(parts["word/document.xml"])
    filled = []
    for content in root.iter(w("sdtContent")):
        first = next(content.iter(w("t")), None)
        if first is not None and next(content.iter(w("sdt")), None) is None:
            first.text = (first.text or "") + " {{ authority }}"
            filled.append(content.getparent())
    assert len(filled) >= 10
    parts["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    with zipfile.ZipFile(template, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)
    bound_before = sum(1 for _ in root.iter(w("dataBinding")))
    assert bound_before >= 10
    for authority, letter in letters(settings).items():
        body = letter["word/document.xml"]
        for control in body.iter(w("sdt")):
            text = "".join(t.text or "" for t in control.iter(w("t")))
            properties = control.find(w("sdtPr"))
            assert properties is not None
            if authority in text and next(control.iter(w("sdt")), control) is control:
                assert properties.find(w("dataBinding")) is None, text
                assert properties.find(w("showingPlcHdr")) is None, text
        texts = "".join(t.text or "" for t in body.iter(w("t")))
        assert texts.count(authority) >= len(filled) - 1  # the picture control has no text


@pytest.mark.libreoffice
def test_letters_with_controls_say_in_their_pdf_what_the_fields_hold(folder: Path) -> None:
    # Real LibreOffice: a field in a control in the header, a table cell in a repeating
    # section, a text box and a footnote prints the council; and a field typed into a control
    # bound to the document properties prints the council, not the property.
    word_controls.in_every_place(TEMPLATE)
    with wf.Package(TEMPLATE) as package:
        bound = (
            '<w:p><w:sdt><w:sdtPr><w:alias w:val="Author"/><w:id w:val="12"/>'
            "<w:dataBinding w:prefixMappings=\"xmlns:ns0='http://purl.org/dc/elements/1.1/' "
            "xmlns:ns1='http://schemas.openxmlformats.org/package/2006/metadata/core-properties' \" "
            'w:xpath="/ns1:coreProperties[1]/ns0:creator[1]" '
            'w:storeItemID="{6C3C8BC8-F283-45AE-878A-BAB7291924A1}"/><w:text/></w:sdtPr>'
            "<w:sdtContent><w:r><w:t>Bound: {{ authority }}</w:t></w:r></w:sdtContent>"
            "</w:sdt></w:p>"
        )
        package.after_paragraph("Dear {{ salutation }}", bound)
    result = run("build", "--only=Derby City Council")
    assert result.exit_code == 0, result.output
    pdf = folder / "output" / "2020" / "letters" / "Derby City Council - Annual Review 2020.pdf"
    text = " ".join(pdf_text(pdf).split())
    for expected in (
        "Block: Derby City Council",
        "Bound: Derby City Council",
        "Box: Derby City Council",
        "The figures of Derby City Council.",
    ):
        assert expected in text, expected
    assert text.count("Derby City Council") >= 7  # the header and the table's cell too


def test_word_merge_fields_in_controls_merge(settings: Settings) -> None:
    # Insert Merge Field inside a plain text control in a cell of a repeating section, and in a
    # run-level control of a paragraph: each prints the council's value.
    with wf.Package(TEMPLATE) as package:
        xml = package.body
        if "xmlns:w15=" not in xml:
            xml = xml.replace("<w:document ", f'<w:document xmlns:w15="{word_controls.W15}" ', 1)
        package.body = xml
        row = (
            "<w:tr>"
            + word_controls.control(
                "<w:text/>",
                word_controls.cell(wf.merge_field("Authority")),
                title="Merged cell",
                number=40,
            )
            + "</w:tr>"
        )
        table = (
            '<w:tbl><w:tblPr><w:tblW w:w="4000" w:type="dxa"/></w:tblPr><w:tblGrid>'
            '<w:gridCol w:w="4000"/></w:tblGrid>'
            + word_controls.control(word_controls.REPEATING_ITEM, row, number=41)
            + "</w:tbl>"
        )
        paragraph = (
            "<w:p>"
            + wf.text_run("Merged: ")
            + word_controls.control(
                "<w:text/>", wf.merge_field("Job_title", "\\* Upper"), title="Merged run", number=42
            )
            + "</w:p>"
        )
        package.after_paragraph("Dear {{ salutation }}", table + paragraph)
    for authority, parts in letters(settings).items():
        body = parts["word/document.xml"]
        assert control_text(body, "Merged cell") == authority
        assert control_text(body, "Merged run") == "CHIEF EXECUTIVE"
        assert not list(body.iter(w("instrText")))  # every merge field resolved
