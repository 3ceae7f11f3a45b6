"""Word's fields read as Word stores them: simple and complex, split over runs, nested."""

from __future__ import annotations

from lxml import etree

from letter_merge.template.wordfields import read_instruction, word_fields
from letter_merge.template.wordxml import W, w
from tests.word_features import complex_field, simple_field, text_run


def paragraph(runs: str) -> etree._Element:
    return etree.fromstring(f'<w:p xmlns:w="{W}">{runs}</w:p>')


def text_of(element: etree._Element) -> str:
    return "".join(t.text or "" for t in element.iter(w("t")))


def test_an_instruction_is_read_into_its_name_arguments_and_switches() -> None:
    read = read_instruction(' MERGEFIELD "Authority type" \\b "Dear " \\f "." \\* Upper ')
    assert read.name == "MERGEFIELD"
    assert read.arguments == ("Authority type",)
    assert read.switches == (("\\b", "Dear "), ("\\f", "."), ("\\*", "Upper"))
    assert read.switch("\\F") == "."
    assert read.switch("\\#") is None
    assert read_instruction(" pageref _Ref1 \\h ").name == "PAGEREF"
    assert read_instruction(" pageref _Ref1 \\h ").switch("\\h") == ""
    assert read_instruction("   ").name == ""


def test_a_complex_field_split_over_runs_is_one_field() -> None:
    root = paragraph(
        text_run("Page ")
        + complex_field("NUMPAGES  \\* Arabic  \\* MERGEFORMAT", "2", "<w:rPr><w:b/></w:rPr>")
    )
    (found,) = word_fields(root)
    assert found.name == "NUMPAGES"
    assert found.instruction == " NUMPAGES  \\* Arabic  \\* MERGEFORMAT "
    assert not found.simple
    assert [text_of(run) for run in found.result_runs()] == ["2"]


def test_fields_nested_in_an_instruction_belong_to_their_field() -> None:
    inner = complex_field("MERGEFIELD Surname", "«Surname»")
    root = paragraph(
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText xml:space="preserve"> IF </w:instrText></w:r>'
        + inner
        + '<w:r><w:instrText xml:space="preserve"> = "Smith" "yes" "no" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>no</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )
    outer, nested = word_fields(root)
    assert outer.name == "IF" and nested.name == "MERGEFIELD"
    assert nested.parent is outer and nested.in_instruction
    assert outer.nested == [nested]
    assert not outer.set_instruction(" IF 1 = 1 "), "a field with fields in it is left alone"


def test_a_simple_field_and_its_result() -> None:
    root = paragraph(simple_field("NUMPAGES", "3"))
    (found,) = word_fields(root)
    assert found.simple and found.name == "NUMPAGES"
    assert found.set_instruction(" PAGEREF End ")
    simple = root.find(w("fldSimple"))
    assert simple is not None and simple.get(w("instr")) == " PAGEREF End "


def test_a_field_replaced_by_text_keeps_its_results_formatting() -> None:
    bold = "<w:rPr><w:b/></w:rPr>"
    root = paragraph(
        text_run("Title: ") + complex_field("TITLE", "Old title", bold) + text_run(".")
    )
    (found,) = word_fields(root)
    assert found.replace_with_text("Annual Review letter 2020 – Derby City Council")
    assert text_of(root) == "Title: Annual Review letter 2020 – Derby City Council."
    assert root.find(w("fldChar")) is None and root.find(f".//{w('instrText')}") is None
    (run,) = [r for r in root.iter(w("r")) if "Derby" in text_of(r)]
    assert run.find(f"{w('rPr')}/{w('b')}") is not None


def test_a_field_sharing_its_run_with_text_is_split_from_it_first() -> None:
    # One run holding text and the whole field, as some programs write it.
    root = paragraph(
        '<w:r><w:rPr><w:i/></w:rPr><w:t xml:space="preserve">Page </w:t>'
        '<w:fldChar w:fldCharType="begin"/><w:instrText> PAGE </w:instrText>'
        '<w:fldChar w:fldCharType="separate"/><w:t>1</w:t><w:fldChar w:fldCharType="end"/>'
        '<w:t xml:space="preserve"> of the letter</w:t></w:r>'
    )
    (found,) = word_fields(root)
    assert found.replace_with_text("7")
    assert text_of(root) == "Page 7 of the letter"
    assert all(run.find(f"{w('rPr')}/{w('i')}") is not None for run in root.iter(w("r")))
