"""The template doctor: Word's habits found, located, explained, and mended in a copy."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from docx import Document
from openpyxl import load_workbook

from letter_merge.cli import cli
from letter_merge.template.doctor import examine, fix


def word_like(path: Path) -> Path:
    """A template as Word leaves it: a field split over a bold and a plain run, curly quotes."""
    document = Document()
    paragraph = document.add_paragraph("Dear ")
    paragraph.add_run("{{ salu")
    paragraph.add_run("tation }}").bold = True
    same = document.add_paragraph("For ")
    same.add_run("{{ autho")  # split, but formatted alike: nothing to report
    same.add_run("rity }}")
    document.add_paragraph("{% if authority == “Derby City Council” %}Derby{% endif %}")
    document.save(str(path))
    return path


def test_splits_and_curly_quotes_are_warnings_that_fix_mends(tmp_path: Path) -> None:
    template = word_like(tmp_path / "letter.docx")
    findings = [str(f) for f in examine(template)]
    assert findings == [
        "letter.docx, paragraph 1 'Dear {{ salutation }}': {{ salutation }} is split across "
        "differently formatted text (part of it bold, a different font, ...); the filled-in value "
        "takes the formatting of its first character. Format the whole field alike; --fix gathers "
        "it into one piece.",
        "letter.docx, paragraph 3 '{% if authority == “Derby City Council” %}Derby{% endif %}': "
        "{% if authority == “Derby City Council” %} has curly quotes, which Word puts in as you "
        "type; they work, but type straight quotes (or turn off AutoCorrect's 'straight quotes "
        "with smart quotes'). --fix straightens them.",
    ]
    original = template.read_bytes()
    fixed, mended = fix(template)
    assert fixed == tmp_path / "letter.fixed.docx" and len(mended) == 2
    assert template.read_bytes() == original  # never over the original
    assert examine(fixed) == []
    paragraphs = Document(str(fixed)).paragraphs
    assert paragraphs[0].runs[1].text == "{{ salutation }}" and paragraphs[0].runs[2].text == ""
    assert paragraphs[2].text == '{% if authority == "Derby City Council" %}Derby{% endif %}'


def test_an_unclosed_tag_and_a_row_tag_outside_a_table_are_errors(tmp_path: Path) -> None:
    document = Document()
    document.add_paragraph("Intro")
    document.add_paragraph("Dear {{ salutation }")
    document.add_paragraph("{%tr for row in received %}")
    document.sections[0].header.paragraphs[0].text = "Ref {% year"
    table = document.add_table(rows=1, cols=1)
    table.cell(0, 0).text = "{{ row.count }} }}"
    document.save(str(tmp_path / "letter.docx"))
    findings = examine(tmp_path / "letter.docx")
    assert all(f.error for f in findings)
    assert [str(f) for f in findings] == [
        "letter.docx, paragraph 2 'Dear {{ salutation }': a {{ has no }} in the same paragraph; "
        "close it there (a field cannot run over two paragraphs).",
        "letter.docx, paragraph 3 '{%tr for row in received %}': {%tr for row in received %} must "
        "be inside a table row: it repeats or removes the row it is in. Use {%p ... %} for paragraphs.",
        "letter.docx, table 1 row 1 cell 1 '{{ row.count }} }}': a }} has no {{ before it in the "
        "same paragraph.",
        "letter.docx, paragraph 3 '{%tr for row in received %}': {%tr for row in received %} is "
        "never closed: add {% endfor %} where the text it governs ends.",
        "letter.docx, header 'Ref {% year': a {% has no %} in the same paragraph; close it there "
        "(a field cannot run over two paragraphs).",
    ]


def test_check_reports_errors_and_fix_writes_a_copy(folder: Path) -> None:
    template = folder / "templates" / "letter.docx"
    document = Document(str(template))
    document.add_paragraph("Sign-off for {{ authority ")
    document.save(str(template))
    result = CliRunner().invoke(cli, ["check", "--fix"])
    assert result.exit_code == 1
    assert "Nothing in the template needed a safe fix." in result.output
    assert (
        "'Sign-off for {{ authority': a {{ has no }} in the same paragraph; close it there"
    ) in result.output
    assert not (folder / "templates" / "letter.fixed.docx").exists()

    word_like(template)
    result = CliRunner().invoke(cli, ["check", "--fix"])
    assert result.exit_code == 0, result.output
    assert f"Wrote {Path('templates', 'letter.fixed.docx')}, with 2 fixes:" in result.output
    assert "2 warnings; the letters can be built, but look at:" in result.output
    assert result.output.endswith("No problems found.\n")


def test_the_default_template_is_clean() -> None:
    assert examine(Path(__file__).parent.parent / "templates" / "letter.docx") == []


def test_warnings_are_shown_and_counted_apart_when_problems_stop_the_check(
    folder: Path,
) -> None:
    word_like(folder / "templates" / "letter.docx")
    book = load_workbook(folder / "input" / "councils.xlsx")
    book["Statistics"]["C2"] = "twelve"
    book.save(folder / "input" / "councils.xlsx")
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "Error: 1 problem must be fixed first:"
    assert lines[1].startswith("  - Statistics!C2 (Upheld, ") and "'twelve'" in lines[1]
    assert lines[2] == "and 2 warnings (these stop nothing):"
    assert "has curly quotes" in lines[3] + lines[4] and "split across" in lines[3] + lines[4]
