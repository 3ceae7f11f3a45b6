"""Templates made with Word's Mailings tab: merge fields, rules and switches, merged as Word
merges them (no LibreOffice: each letter's .docx is read back)."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from openpyxl import load_workbook

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.config import Settings, load_settings
from letter_merge.errors import ProblemsFound
from letter_merge.pdf.pages import read_pages
from letter_merge.template.render import LetterTemplate
from letter_merge.template.wordxml import parse, w
from tests import word_features as wf
from tests.helpers import docx_text, make_template, run

TEMPLATE = Path("templates") / "letter.docx"
BOLD = "<w:rPr><w:b/></w:rPr>"


def mailings_template(extra: str = "") -> None:
    """The default letter re-made with Insert Merge Field (the recipient block, the greeting,
    the footer), with rules and switches added, and the workbook attached as Word's data
    source; the rest keeps its {{ }} fields."""
    with wf.Package(TEMPLATE) as package:
        body = package.body
        for tag, field in (
            ("<w:t>{{ salutation }}</w:t>", "Salutation"),
            ("<w:t>{{ job_title }}</w:t>", "Job_title"),
            ("<w:t>{{ authority }}</w:t>", "Authority"),
        ):
            run_start = body.index(tag)
            run_start = body.rindex("<w:r>", 0, run_start)
            run_end = body.index("</w:r>", run_start) + len("</w:r>")
            body = body[:run_start] + wf.merge_field(field) + body[run_end:]
        start = body.index("<w:t>Dear {{ salutation }}</w:t>")
        body = body.replace(
            "<w:t>Dear {{ salutation }}</w:t></w:r>",
            '<w:t xml:space="preserve">Dear </w:t></w:r>' + wf.merge_field("Salutation"),
            1,
        )
        assert start
        package.body = body
        package.after_paragraph("We focus our statistics", extra or EXAMPLES)
    wf.attach_data_source(TEMPLATE)
    with wf.Package(TEMPLATE) as package:
        footer = package.parts["word/footer1.xml"]
        package.parts["word/footer1.xml"] = footer.replace(
            '<w:r><w:t xml:space="preserve">Page </w:t></w:r>',
            wf.merge_field("Authority", properties=BOLD) + wf.text_run(" – Page "),
        ).replace("<w:t>Page </w:t>", '<w:t xml:space="preserve">Page </w:t>')


def line(content: str) -> str:
    return f"<w:p>{content}</w:p>"


EXAMPLES = (
    line(wf.text_run("Upper: ") + wf.merge_field("Authority", "\\* Upper"))
    + line(wf.text_run("Caps: ") + wf.merge_field("Job_title", "\\* Caps"))
    + line(wf.text_run("Investigated: ") + wf.merge_field("Detailed_investigations", '\\# "#,##0"'))
    + line(wf.text_run("Rate: ") + wf.merge_field("Upheld_rate", '\\# "0.0"') + wf.text_run("%"))
    + line(wf.text_run("Percent: ") + wf.merge_field("Upheld rate", '\\# "0%"'))
    + line(wf.text_run("Dated: ") + wf.merge_field("Letter_date", '\\@ "dddd d MMMM yyyy"'))
    + line(wf.text_run("Short: ") + wf.merge_field("letter date", '\\@ "dd/MM/yyyy"'))
    + line(wf.merge_field("GSS_code", '\\b "Code: " \\f "."'))
    + line(
        wf.if_rule(
            "Upheld_rate > 50",
            wf.instruction_text("More than half upheld (")
            + wf.merge_field("Upheld_rate")
            + wf.instruction_text("%)."),
            wf.instruction_text("Half or fewer upheld."),
        )
    )
    + line(
        wf.if_rule(
            "Authority_type = County*",
            wf.instruction_text("A county.", BOLD),
            wf.instruction_text("Not a county."),
        )
    )
    + line(wf.text_run("Record ") + wf.complex_field("MERGEREC", "1"))
    + line(wf.text_run("Housing: ") + wf.merge_field("Received_Housing"))
)


def text_of(run: etree._Element) -> str:
    return "".join(t.text or "" for t in run.iter(w("t")))


def built(settings: Settings) -> dict[str, str]:
    report = build_letters(load_batch(settings), converter=None)
    assert [o.error for o in report.letters] == [None] * len(report.letters)
    return {o.authority: docx_text(o.docx) for o in report.letters if o.docx}


def test_merge_fields_print_what_words_merge_prints(settings: Settings) -> None:
    mailings_template()
    letters = built(settings)
    leicestershire = letters["Leicestershire County Council"]
    assert "Mr Sinnott\nChief Executive\nLeicestershire County Council" in leicestershire
    assert "Dear Mr Sinnott" in leicestershire
    assert "Upper: LEICESTERSHIRE COUNTY COUNCIL" in leicestershire
    assert "Caps: Chief Executive" in leicestershire
    assert "Investigated:    16" in leicestershire  # #,##0: a space for each # left over
    assert "Rate: 56.0%" in leicestershire  # the rate is a whole percent
    assert "Percent: 56%" in leicestershire  # % is printed, nothing multiplied
    assert "Dated: Wednesday 22 July 2020" in leicestershire
    assert "Short: 22/07/2020" in leicestershire
    assert "More than half upheld (56%)." in leicestershire
    assert "A county." in leicestershire
    assert "Record 1" in leicestershire
    assert "Housing: 7" in leicestershire
    assert "«" not in "".join(letters.values())
    derby = letters["Derby City Council"]
    assert "Code: " not in derby, "\\b and \\f only when the field has a value"
    assert "Not a county." in derby and "Record 2" in derby


def test_the_result_keeps_the_fields_formatting(settings: Settings) -> None:
    mailings_template()
    report = build_letters(load_batch(settings), converter=None)
    docx = report.letters[0].docx
    assert docx is not None
    with zipfile.ZipFile(docx) as package:
        footer = parse(package.read("word/footer1.xml"))
        body = parse(package.read("word/document.xml"))
    (run,) = [r for r in footer.iter(w("r")) if "Leicestershire" in text_of(r)]
    assert run.find(f"{w('rPr')}/{w('b')}") is not None, "the field's bold stays"
    (rule,) = [r for r in body.iter(w("r")) if text_of(r) == "A county."]
    assert rule.find(f"{w('rPr')}/{w('b')}") is not None, "the rule's text as typed in it"
    assert not list(body.iter(w("fldChar"))) or all(
        "MERGEFIELD" not in (t.text or "") for t in body.iter(w("instrText"))
    )


def test_letters_carry_no_data_source(settings: Settings) -> None:
    mailings_template()
    with zipfile.ZipFile(TEMPLATE) as package:
        assert b"mailMerge" in package.read("word/settings.xml")
    report = build_letters(load_batch(settings), converter=None)
    for outcome in report.letters:
        assert outcome.docx is not None
        with zipfile.ZipFile(outcome.docx) as package:
            assert b"mailMerge" not in package.read("word/settings.xml")
            relationships = package.read("word/_rels/settings.xml.rels")
            assert b"mailMergeSource" not in relationships and b"councils.xlsx" not in relationships


def test_an_unknown_merge_field_is_named_with_its_paragraph_and_the_nearest_name(
    settings: Settings,
) -> None:
    mailings_template(line(wf.text_run("Dear ") + wf.merge_field("Surnme")))
    with pytest.raises(ProblemsFound) as raised:
        load_batch(settings)
    (problem,) = raised.value.problems
    assert problem.where == "letter.docx, paragraph 13 'Dear «Surnme»'"
    assert problem.message.startswith(
        "the merge field «Surnme» is not a column of the workbook or a field; did you mean "
        "Surname? (Or, to keep the template's name, add to letter-merge.toml: [fields] "
        'Surnme = "surname")'
    )


def test_fields_named_otherwise_are_matched_in_the_settings(settings: Settings) -> None:
    mailings_template(line(wf.text_run("Council: ") + wf.merge_field("Council_name")))
    config = Path("letter-merge.toml")
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[fields]\nCouncil_name = "Authority"\n',
        encoding="utf-8",
    )
    mapped = load_settings(config, environ={}, today=dt.date(2020, 7, 22))
    letters = built(mapped)
    assert "Council: Derby City Council" in letters["Derby City Council"]


@pytest.mark.parametrize(
    ("rule", "advice"),
    [
        ('ASK Answer "What year?"', "put the answer in a workbook column"),
        ('FILLIN "Your name?"', "put the text in a workbook column"),
        ("SKIPIF", "take those councils' rows out of the workbook"),
        ("NEXT", "write one letter per council"),
    ],
)
def test_rules_that_ask_or_skip_are_refused(settings: Settings, rule: str, advice: str) -> None:
    mailings_template(line(wf.text_run("Rule: ") + wf.complex_field(rule, "")))
    with pytest.raises(ProblemsFound) as raised:
        load_batch(settings)
    (problem,) = raised.value.problems
    assert problem.where == "letter.docx, paragraph 13 'Rule:'"
    assert advice in problem.message


def test_word_saved_templates_merge(settings: Settings) -> None:
    # Saved by Word itself (tests/data/word-saved, docx-mailmerge's tests, MIT): an IF with a
    # merge field inside, complex and simple; its field is named "fieldname".
    source = Path(__file__).parent / "data" / "word-saved" / "test_nested_if_inside.docx"
    TEMPLATE.write_bytes(source.read_bytes())
    config = Path("letter-merge.toml")
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[fields]\nfieldname = "authority_type"\n',
        encoding="utf-8",
    )
    mapped = load_settings(config, environ={}, today=dt.date(2020, 7, 22))
    letters = built(mapped)
    text = letters["Derby City Council"]
    assert "Unitary Council" in text
    assert not re.search(r"«|MERGEFIELD", text)


@pytest.mark.parametrize(
    "saved",
    sorted(p.name for p in (Path(__file__).parent / "data" / "word-saved").glob("*.docx")),
)
def test_every_word_saved_template_merges_with_its_fields_matched(
    settings: Settings, saved: str
) -> None:
    source = Path(__file__).parent / "data" / "word-saved" / saved
    TEMPLATE.write_bytes(source.read_bytes())
    names = {name for name, _ in LetterTemplate(TEMPLATE).merge_names()}
    assert names, "Word's own merge fields are found"
    config = Path("letter-merge.toml")
    mapping = "".join(f'"{name}" = "authority"\n' for name in sorted(names))
    config.write_text(
        config.read_text(encoding="utf-8") + f"\n[fields]\n{mapping}", encoding="utf-8"
    )
    mapped = load_settings(config, environ={}, today=dt.date(2020, 7, 22))
    report = build_letters(load_batch(mapped), converter=None)
    for outcome in report.letters:
        assert outcome.error is None and outcome.docx is not None
        with zipfile.ZipFile(outcome.docx) as package:
            xml = b"".join(package.read(n) for n in package.namelist() if n.endswith(".xml"))
        assert b"MERGEFIELD" not in xml.upper() and "«".encode() not in xml, saved
        assert outcome.authority.encode() in xml.replace(b"&amp;", b"&")


@pytest.mark.parametrize(
    ("typed", "advice"),
    [
        ("«Authority»", "Mailings › Insert Merge Field › Authority, or write {{ authority }}"),
        ("&lt;&lt;Surname&gt;&gt;", "Insert Merge Field › Surname, or write {{ surname }}"),
        ("{authority}", "or write {{ authority }}"),
    ],
)
def test_a_field_typed_as_text_is_explained(settings: Settings, typed: str, advice: str) -> None:
    mailings_template(line(wf.text_run(f"To {typed} and others")))
    with pytest.raises(ProblemsFound) as raised:
        load_batch(settings)
    (problem,) = raised.value.problems
    assert problem.where.startswith("letter.docx, paragraph 13 'To ")
    assert "is typed text, not a field: every letter would print it as it is" in problem.message
    assert advice in problem.message


def test_the_recipients_workbook_offers_every_field_by_a_name_that_merges(
    settings: Settings,
) -> None:
    # What Word lists in Insert Merge Field after Select Recipients: each column's header with
    # its spaces and punctuation made underscores. Every one of them merges to the row's value.
    result = run("recipients")
    assert result.exit_code == 0, result.output
    target = Path("output") / "2020" / "recipients.xlsx"
    assert result.output.startswith(f"Wrote {target}: 4 councils, ")
    rows = list(load_workbook(target)["Recipients"].iter_rows(values_only=True))
    headers, derby = rows[0], rows[2]
    assert derby[0] == "Derby City Council"
    word_names = [re.sub(r"\W", "_", str(h)) for h in headers]
    assert "Authority_type" in word_names and "Upheld_rate_average" in word_names
    assert "Received__Housing" in word_names and "Letter_date" in word_names
    mailings_template(
        "".join(line(wf.text_run(f"{name}=") + wf.merge_field(name)) for name in word_names)
    )
    letter = built(settings)["Derby City Council"]
    for name, value in zip(word_names, derby, strict=True):
        assert f"{name}={'' if value is None else value}\n" in letter + "\n", name


def table_and_text_box() -> str:
    """A table with a merge field in a cell, and a text box (VML, as Word keeps a fallback)
    with one in it."""
    cell = '<w:tc><w:tcPr><w:tcW w:w="4000" w:type="dxa"/></w:tcPr><w:p>{}</w:p></w:tc>'
    table = (
        '<w:tbl><w:tblPr><w:tblW w:w="8000" w:type="dxa"/></w:tblPr><w:tblGrid>'
        '<w:gridCol w:w="4000"/><w:gridCol w:w="4000"/></w:tblGrid>'
        "<w:tr><w:trPr><w:tblHeader/></w:trPr>"
        + cell.format(wf.text_run("Type of authority"))
        + cell.format(wf.merge_field("Authority_type", "\\* Upper"))
        + "</w:tr></w:tbl>"
    )
    box = (
        '<w:p><w:r><w:pict><v:shape id="box1" type="#_x0000_t202" '
        'style="width:300pt;height:24pt"><v:textbox><w:txbxContent><w:p>'
        + wf.text_run("In a box: ")
        + wf.merge_field("Surname")
        + "</w:p></w:txbxContent></v:textbox></v:shape></w:pict></w:r></w:p>"
    )
    return table + "<w:p/>" + box


@pytest.mark.libreoffice
def test_a_mailings_template_builds_letters_that_say_what_words_merge_would_print(
    folder: Path,
) -> None:
    mailings_template(EXAMPLES + table_and_text_box())
    result = run("build")
    assert result.exit_code == 0, result.output
    pdf = folder / "output" / "2020" / "letters" / "Derby City Council - Annual Review 2020.pdf"
    text = " ".join(" ".join(page.text.split()) for page in read_pages(pdf))
    for expected in (
        "Ms O'Brien Chief Executive Derby City Council",
        "Dear Ms O'Brien",
        "Upper: DERBY CITY COUNCIL",
        "Dated: Wednesday 22 July 2020",
        "More than half upheld (63%).",
        "Not a county.",
        "Type of authority UNITARY COUNCIL",
        "In a box: O'Brien",
        "Derby City Council – Page 1",
    ):
        assert expected in text.replace("\u2019", "'"), expected
    assert "«" not in text and "MERGEFIELD" not in text
    proof = run("proof")
    assert proof.exit_code == 0, proof.output


def test_a_template_without_fields_is_explained(settings: Settings) -> None:
    make_template(TEMPLATE, "Dear Chief Executive,", "Our annual letter.")
    (warning,) = load_batch(settings).warnings
    assert warning.where == "letter.docx"
    assert warning.message.startswith("the template has no fields, so every letter would be")
