"""What LibreOffice is given: a letter with only the styles it uses, and its chart's stand-in (no
LibreOffice here; the check that it converts to the same letter is in test_combined.py)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.chart import picture as chart
from letter_merge.config import Settings
from letter_merge.pdf.combine import combine_letters
from letter_merge.pdf.lean import lean_copy, lean_parts, lean_styles, styles_used
from letter_merge.pdf.pictures import STAND_IN
from letter_merge.template.wordxml import parse, w

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def styles(*definitions: str) -> bytes:
    return (
        f'<w:styles xmlns:w="{W}"><w:latentStyles w:count="1"><w:lsdException w:name="Title"/>'
        f"</w:latentStyles>{''.join(definitions)}</w:styles>"
    ).encode()


def style(kind: str, name: str, *children: str, default: bool = False) -> str:
    flag = ' w:default="1"' if default else ""
    return f'<w:style w:type="{kind}"{flag} w:styleId="{name}">{"".join(children)}</w:style>'


def ids(xml: bytes) -> set[str]:
    return {s.get(w("styleId"), "") for s in parse(xml).iter(w("style"))}


STYLES = styles(
    style("paragraph", "Normal", default=True),
    style("paragraph", "Heading1", '<w:basedOn w:val="Normal"/>', '<w:link w:val="Heading1Char"/>'),
    style("character", "Heading1Char"),
    style("paragraph", "Quote", '<w:basedOn w:val="Normal"/>', '<w:next w:val="Body"/>'),
    style("paragraph", "Body"),
    style("table", "TableGrid"),
    style("table", "GridTable4Accent1"),
    style("character", "DefaultParagraphFont", default=True),
)


def test_only_the_styles_used_and_those_they_follow_stay() -> None:
    body = f'<w:document xmlns:w="{W}"><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr></w:p>'
    body += "<w:tbl><w:tblPr><w:tblStyle w:val='TableGrid'/></w:tblPr></w:tbl></w:document>"
    used = styles_used([body.encode()])
    assert used == frozenset({"Heading1", "TableGrid"})
    lean = lean_styles(STYLES, used)
    # Heading1 is based on Normal and linked to its character style; the defaults stay
    assert ids(lean) == {"Normal", "Heading1", "Heading1Char", "TableGrid", "DefaultParagraphFont"}
    assert parse(lean).find(w("latentStyles")) is None
    # a style followed by another (next) keeps it
    assert "Body" in ids(lean_styles(STYLES, frozenset({"Quote"})))


def test_a_style_named_by_a_field_keeps_every_style() -> None:
    toc = f'<w:document xmlns:w="{W}"><w:instrText> TOC \\o "1-3" </w:instrText></w:document>'
    assert styles_used([toc.encode()]) is None
    reference = f'<w:document xmlns:w="{W}"><w:instrText> STYLEREF Heading1 </w:instrText>'
    assert styles_used([reference.encode()]) is None
    parts = {"word/document.xml": toc.encode(), "word/styles.xml": STYLES}
    assert lean_parts(parts) == {}


def test_any_prefix_and_quotes_are_read() -> None:
    other = (
        b'<x:document xmlns:x="' + W.encode() + b'"><x:p><x:pPr><x:pStyle x:val="Quote"/>'
        b"</x:pPr><x:r><x:rPr><x:rStyle x:val = 'Heading1Char'/></x:rPr></x:r></x:p>"
        b'<x:p><x:pPr><x:pStyle x:val="Caf&#233;"/></x:pPr></x:p></x:document>'
    )
    assert styles_used([other]) == frozenset({"Quote", "Heading1Char", "Café"})


def test_a_letters_copy_keeps_everything_but_unused_styles(
    settings: Settings, tmp_path: Path
) -> None:
    report = build_letters(load_batch(settings), converter=None)
    letter = report.letters[0].docx
    assert letter is not None
    made = lean_copy(letter, tmp_path)
    copy = made.path
    assert copy.name == letter.name
    with zipfile.ZipFile(letter) as original, zipfile.ZipFile(copy) as lean:
        assert original.namelist() == lean.namelist()
        for name in original.namelist():
            if name not in ("word/styles.xml", "word/stylesWithEffects.xml", chart.PART_NAME):
                assert original.read(name) == lean.read(name), name
        # the chart as a stand-in, its PDF given the chart itself (pictures.py)
        assert lean.read(chart.PART_NAME) == STAND_IN
        assert made.chart == original.read(chart.PART_NAME)
        before, after = ids(original.read("word/styles.xml")), ids(lean.read("word/styles.xml"))
        assert after < before and len(before) > 150 and len(after) < 40
        used = styles_used([original.read("word/document.xml"), original.read("word/footer1.xml")])
        assert used is not None and used <= after
    # The letters combined for LibreOffice carry the same few styles
    letters = [o.docx for o in report.letters if o.docx]
    with zipfile.ZipFile(io.BytesIO(combine_letters(letters).data)) as combined:
        assert ids(combined.read("word/styles.xml")) == after
