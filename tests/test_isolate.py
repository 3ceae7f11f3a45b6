"""Letters combined into one document each keep what they have alone: their page count, lists,
captions, bookmarks, title and header (no LibreOffice: the combined document itself is read)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.config import Settings
from letter_merge.pdf import notes
from letter_merge.pdf.combine import (
    ENDNOTES,
    CombineError,
    combine_letters,
    look_at,
    template_cannot_combine,
)
from letter_merge.pdf.convert import ConversionJob
from letter_merge.pdf.libreoffice import LibreOfficeConverter
from letter_merge.template.wordfields import word_fields
from letter_merge.template.wordxml import R, parse, w
from tests import word_features

TEMPLATE = Path("templates") / "letter.docx"


def letters_of(settings: Settings) -> list[Path]:
    report = build_letters(load_batch(settings), converter=None)
    return [o.docx for o in report.letters if o.docx]


def parts_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {name: package.read(name) for name in package.namelist()}


def instructions(root: etree._Element) -> list[str]:
    return [" ".join(f.instruction.split()) for f in word_fields(root)]


def sections(body: etree._Element) -> list[etree._Element]:
    return list(body.iter(w("sectPr")))


def attribute(parent: etree._Element, path: str, name: str) -> str:
    """An attribute of the element at `path` (w:-prefixed names, / between): it must exist."""
    element = parent.find("/".join(w(step) for step in path.split("/")))
    assert element is not None, path
    found = element.get(name)
    assert found is not None, name
    return found


def referenced(parts: dict[str, bytes], section: etree._Element, kind: str) -> str:
    """The header or footer part a section refers to."""
    return part_of(parts, attribute(section, kind, f"{{{R}}}id"))


def part_of(parts: dict[str, bytes], relationship_id: str) -> str:
    relationships = parse(parts["word/_rels/document.xml.rels"])
    (target,) = [r.get("Target", "") for r in relationships if r.get("Id") == relationship_id]
    return f"word/{target}"


@pytest.fixture
def combined(settings: Settings) -> tuple[list[Path], dict[str, bytes]]:
    """The four councils' letters from a template with every feature, and their combined copy."""
    for feature in (
        word_features.page_x_of_y_footer,
        word_features.numbered_list,
        word_features.caption_and_cross_reference,
        word_features.header_naming_the_council,
    ):
        feature(TEMPLATE)
    letters = letters_of(settings)
    return letters, parts_of(combine_letters(letters).data)


def test_each_letter_counts_its_own_pages(
    combined: tuple[list[Path], dict[str, bytes]],
) -> None:
    letters, parts = combined
    body = parse(parts["word/document.xml"])
    footers = [referenced(parts, section, "footerReference") for section in sections(body)]
    assert len(set(footers)) == 4, "a footer of its own for each letter"
    for index, footer in enumerate(footers):
        shown = instructions(parse(parts[footer]))
        assert shown == [
            "PAGE \\* Arabic \\* MERGEFORMAT",
            f"PAGEREF LetterMergeEnd{index:05d} \\* Arabic \\* MERGEFORMAT",
        ]
    ends = [b.get(w("name"), "") for b in body.iter(w("bookmarkStart"))]
    assert [n for n in ends if n.startswith("LetterMergeEnd")] == [
        f"LetterMergeEnd{i:05d}" for i in range(4)
    ]
    # Each section starts a new page, numbered from 1.
    for section in sections(body):
        assert section.find(w("type")) is None
        assert attribute(section, "pgNumType", w("start")) == "1"
    # The letters themselves keep the live field: Word shows "Page 1 of 3".
    with zipfile.ZipFile(letters[2]) as package:
        assert "NUMPAGES \\* Arabic \\* MERGEFORMAT" in instructions(
            parse(package.read("word/footer1.xml"))
        )


def test_each_letter_numbers_its_own_lists(
    combined: tuple[list[Path], dict[str, bytes]],
) -> None:
    _, parts = combined
    body = parse(parts["word/document.xml"])
    numbering = parse(parts["word/numbering.xml"])
    lists_by_letter: list[list[str]] = [[]]
    for element in body.iter(w("numId"), w("sectPr")):
        if element.tag == w("sectPr"):
            lists_by_letter.append([])
        else:
            lists_by_letter[-1].append(element.get(w("val"), ""))
    lists_by_letter = [found for found in lists_by_letter if found]
    assert len(lists_by_letter) == 4
    # Within a letter: the list and its restarted copy, as in the template; across letters, no
    # list shared.
    assert all(len(set(found)) == 2 for found in lists_by_letter)
    used = [set(found) for found in lists_by_letter]
    assert all(not (a & b) for n, a in enumerate(used) for b in used[n + 1 :])
    nums = {n.get(w("numId")): n for n in numbering.findall(w("num"))}
    abstracts = [
        {attribute(nums[num], "abstractNumId", w("val")) for num in found} for found in used
    ]
    # One list in the template (a list and its restart share a definition): one in each letter,
    # no two letters sharing theirs.
    assert [len(own) for own in abstracts] == [1, 1, 1, 1]
    assert len(set.union(*abstracts)) == 4
    restarted = [nums[found[-1]] for found in lists_by_letter]
    assert all(n.find(f"{w('lvlOverride')}/{w('startOverride')}") is not None for n in restarted)
    # abstractNums come before nums, as the schema (and Word) want
    tags = [etree.QName(child).localname for child in numbering]
    assert tags.index("num") > max(i for i, tag in enumerate(tags) if tag == "abstractNum")


def test_captions_and_cross_references_are_each_letters_own(
    combined: tuple[list[Path], dict[str, bytes]],
) -> None:
    _, parts = combined
    body = parse(parts["word/document.xml"])
    found = instructions(body)
    sequences = [i for i in found if i.startswith("SEQ")]
    assert sequences == [f"SEQ Table_LM{n:05d} \\* ARABIC" for n in range(4) for _ in range(2)]
    references = [i for i in found if i.startswith(("REF", "PAGEREF _Ref"))]
    names = {b.get(w("name")) for b in body.iter(w("bookmarkStart"))}
    for index in range(4):
        name = f"_Ref45001234_LM{index:05d}"
        assert name in names
        assert f"REF {name} \\h" in references and f"PAGEREF {name} \\h" in references
    ids = [b.get(w("id")) for b in body.iter(w("bookmarkStart"))]
    assert len(ids) == len(set(ids)), "bookmark ids are unique in the combined document"


def test_a_header_naming_the_council_is_each_letters_own(
    combined: tuple[list[Path], dict[str, bytes]],
) -> None:
    _, parts = combined
    body = parse(parts["word/document.xml"])
    headers = [referenced(parts, section, "headerReference") for section in sections(body)]
    texts = ["".join(t.text or "" for t in parse(parts[h]).iter(w("t"))) for h in headers]
    councils = ["Leicestershire", "Derby City", "Brighton & Hove", "Adur"]
    assert [council in text for council, text in zip(councils, texts, strict=True)] == [True] * 4
    types = parts["[Content_Types].xml"].decode()
    for header in headers:
        assert f'PartName="/{header}"' in types


def test_the_document_title_shows_each_letters_own(settings: Settings) -> None:
    word_features.title_in_footer(TEMPLATE)
    letters = letters_of(settings)
    parts = parts_of(combine_letters(letters).data)
    body = parse(parts["word/document.xml"])
    footers = [referenced(parts, section, "footerReference") for section in sections(body)]
    first, third = parse(parts[footers[0]]), parse(parts[footers[2]])
    # The first letter's title is the combined document's own: it stays live.
    assert "TITLE \\* MERGEFORMAT" in instructions(first)
    assert first.find(f".//{w('dataBinding')}") is not None
    # Another letter's is its own, written out, never the first letter's council.
    text = "".join(t.text or "" for t in third.iter(w("t")))
    assert text.count("Brighton & Hove City Council") == 2
    assert "Leicestershire" not in text
    assert third.find(f".//{w('dataBinding')}") is None and not instructions(third)[:-1]
    # The letter's own .docx keeps the live field and the bound control.
    with zipfile.ZipFile(letters[2]) as package:
        own = parse(package.read("word/footer1.xml"))
    assert own.find(f".//{w('dataBinding')}") is not None
    assert "TITLE \\* MERGEFORMAT" in instructions(own)


def test_the_default_template_shares_one_footer(settings: Settings) -> None:
    parts = parts_of(combine_letters(letters_of(settings)).data)
    footers = [name for name in parts if re.fullmatch(r"word/footer.*\.xml", name)]
    assert footers == ["word/footer1.xml"], "nothing differs per letter: nothing is copied"


def test_each_letter_has_its_own_footnotes_numbered_from_its_first(settings: Settings) -> None:
    word_features.notes(TEMPLATE, "footnote")  # two, the second naming the council
    letters = letters_of(settings)
    assert look_at(letters[0])[1] is None
    parts = parts_of(combine_letters(letters).data)
    notes = parse(parts["word/footnotes.xml"])
    texts = {
        note.get(w("id")): "".join(t.text or "" for t in note.iter(w("t")))
        for note in notes.findall(w("footnote"))
        if note.get(w("type")) is None
    }
    assert len(texts) == 8 and len(set(texts)) == 8, "each letter's two, under ids of their own"
    body = parse(parts["word/document.xml"])
    references = list(body.iter(w("footnoteReference")))
    named = [texts[r.get(w("id"), "")] for r in references]
    assert [n for n in named if "figures of" in n] == [
        " The figures of Leicestershire County Council.",
        " The figures of Derby City Council.",
        " The figures of Brighton & Hove City Council.",
        " The figures of Adur District Council.",
    ]
    # The first letter's are numbered by LibreOffice; the others' give their own numbers
    marks = [r.get(w("customMarkFollows")) for r in references]
    assert marks == [None, None] + ["1"] * 6
    runs = [r.getparent() for r in references]
    labels = ["".join(t.text or "" for t in run.iter(w("t"))) for run in runs if run is not None]
    assert labels == ["", "", "1", "2", "1", "2", "1", "2"]
    # and a hidden separator before each, so that the line above the notes is drawn
    for run in runs[2:]:
        before = run.getprevious() if run is not None else None
        assert before is not None and before.find(w("separator")) is not None
        assert before.find(f"{w('rPr')}/{w('vanish')}") is not None


@pytest.mark.parametrize(
    ("numbering", "labels"),
    [
        (notes.Numbering(), ["1", "2", "10", "11"]),
        (notes.Numbering("lowerRoman", 3), ["iii", "iv", "xii", "xiii"]),
        (notes.Numbering("upperLetter"), ["A", "B", "J", "K"]),
        (notes.Numbering("chicago"), ["*", "†", "†††", "‡‡‡"]),
    ],
)
def test_footnote_marks_are_numbered_as_word_numbers_them(
    numbering: notes.Numbering, labels: list[str]
) -> None:
    assert [numbering.label(n) for n in (1, 2, 10, 11)] == labels


def test_footnotes_numbered_per_page_cannot_be_combined(settings: Settings) -> None:
    word_features.plain_footnotes(TEMPLATE)
    with word_features.Package(TEMPLATE) as package:
        package.parts["word/settings.xml"] = package.parts["word/settings.xml"].replace(
            "<w:footnotePr>", '<w:footnotePr><w:numRestart w:val="eachPage"/>', 1
        )
    with pytest.raises(CombineError, match="again on each page"):
        combine_letters(letters_of(settings))


def test_footnotes_under_line_numbers_cannot_be_combined(settings: Settings) -> None:
    # LibreOffice numbers the footnotes' lines over the whole document: the guard found "3"
    # where the letter alone says "1"
    word_features.plain_footnotes(TEMPLATE)
    word_features.line_numbers(TEMPLATE)
    with pytest.raises(CombineError, match="numbers its lines and has footnotes"):
        combine_letters(letters_of(settings))


def test_endnotes_cannot_be_combined(settings: Settings) -> None:
    word_features.plain_endnotes(TEMPLATE)
    assert "endnotes" in (look_at(letters_of(settings)[0])[1] or "")


def test_a_page_count_with_roman_page_numbers_cannot_be_combined(settings: Settings) -> None:
    word_features.page_x_of_y_footer(TEMPLATE)
    with word_features.Package(TEMPLATE) as package:
        package.section('<w:pgNumType w:fmt="lowerRoman"/>')
    letter = letters_of(settings)[0]
    assert look_at(letter)[1] is None, "each letter could go"
    assert "numbers its pages other than 1, 2, 3" in (template_cannot_combine(letter) or "")


def test_a_letter_with_endnotes_of_its_own_goes_alone_and_the_others_together(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    word_features.plain_endnotes(TEMPLATE)
    with word_features.Package(TEMPLATE) as package:  # a footnote in Derby's letter only
        body = package.body
        first = body.index('<w:r><w:rPr><w:rStyle w:val="EndnoteReference"/>')
        end = body.index("</w:r>", first) + len("</w:r>")
        reference = body[first:end]
        condition = word_features.text_run("{% if authority == 'Derby City Council' %}")
        package.body = body.replace(
            reference, condition + reference + word_features.text_run("{% endif %}"), 1
        )
        body = package.body
        second = body.index('<w:r><w:rPr><w:rStyle w:val="EndnoteReference"/>', end + 100)
        package.body = body[:second] + body[body.index("</w:r>", second) + len("</w:r>") :]
    letters = letters_of(settings)
    jobs = [ConversionJob(docx, docx.with_suffix(".pdf"), family="template") for docx in letters]
    converter = LibreOfficeConverter(Path("soffice"))
    monkeypatch.setattr(LibreOfficeConverter, "version", lambda self: "LibreOffice (stand-in)")
    families, alone = converter._plan(jobs)
    assert alone == []
    by_reason = {family.alone_because: [j.docx.name for j in family.jobs] for family in families}
    assert by_reason == {
        ENDNOTES: ["Derby City Council - Annual Review 2020.docx"],
        "": [
            "Leicestershire County Council - Annual Review 2020.docx",
            "Brighton & Hove City Council - Annual Review 2020.docx",
            "Adur District Council - Annual Review 2020.docx",
        ],
    }
