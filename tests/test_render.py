"""Rendering the Word template: escaping, strict fields, the sandbox, and template errors."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document

from letter_merge.batch import load_batch
from letter_merge.cli import cli
from letter_merge.config import Settings
from letter_merge.errors import ProblemsFound
from letter_merge.fields import british_date
from letter_merge.records.manifest import read_manifest
from letter_merge.template.render import LetterTemplate
from letter_merge.template.text import TemplateError
from tests.helpers import docx_text, make_template


def test_workbook_values_come_out_literally(tmp_path: Path) -> None:
    template = LetterTemplate(
        make_template(tmp_path / "t.docx", "To {{ authority }}, {{ salutation }}")
    )
    tricky = {
        "authority": "Brighton & Hove <City> Council",
        "salutation": 'Ms O\'Brien – Siân "Jo"',
    }
    data = template.render(tricky)
    assert 'To Brighton & Hove <City> Council, Ms O\'Brien – Siân "Jo"' in docx_text(data)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        xml = package.read("word/document.xml").decode("utf-8")
    assert "Brighton &amp; Hove &lt;City&gt; Council" in xml  # escaped once, as XML needs


def test_markup_in_a_value_cannot_add_to_the_document(tmp_path: Path) -> None:
    template = LetterTemplate(make_template(tmp_path / "t.docx", "{{ surname }}"))
    sneaky = "</w:t></w:r><w:r><w:t>Injected"
    data = template.render({"surname": sneaky})
    document = Document(io.BytesIO(data))
    assert document.paragraphs[0].text == sneaky
    assert len(document.paragraphs[0].runs) == 1


def test_an_unknown_field_is_an_error_naming_it(tmp_path: Path) -> None:
    template = LetterTemplate(make_template(tmp_path / "t.docx", "Dear {{ title }} {{ surnmae }}"))
    with pytest.raises(TemplateError) as caught:
        template.render({"title": "Mr"})
    assert str(caught.value) == (
        "t.docx, paragraph 1 'Dear {{ title }} {{ surnmae }}': {{ surnmae }} is not a field; "
        "check its spelling against the manual's template fields."
    )


def test_check_fields_locates_the_paragraph(tmp_path: Path) -> None:
    template = LetterTemplate(
        make_template(
            tmp_path / "t.docx",
            "Intro",
            "Dear {{ title }} {{ surnmae }}",
            table_cells=("{{ figur }}",),
        )
    )
    problems = [str(p) for p in template.check_fields({"title", "surname"})]
    assert problems == [
        "t.docx, table 1 row 1 cell 1 '{{ figur }}': {{ figur }} is not a field; use a workbook "
        "column's name in snake_case (or add the column), or one of the fields listed in the manual (Reference: Template fields).",
        "t.docx, paragraph 2 'Dear {{ title }} {{ surnmae }}': {{ surnmae }} is not a field; "
        "did you mean surname?",
    ]


def test_templates_render_in_the_sandbox(tmp_path: Path) -> None:
    template = LetterTemplate(
        make_template(tmp_path / "t.docx", "{{ authority.__class__.__mro__[1].__subclasses__() }}")
    )
    with pytest.raises(TemplateError, match="unsafe"):
        template.render({"authority": "Derby"})


def test_a_syntax_error_names_the_paragraph(tmp_path: Path) -> None:
    template = LetterTemplate(
        make_template(tmp_path / "t.docx", "Fine", "{% if upheld_rate is none %}No figure", "More")
    )
    assert template.fields_used() == {"upheld_rate"}  # read from the tags that can be read
    message = str(template.syntax_problem())
    assert message.startswith(
        "t.docx, paragraph 2 '{% if upheld_rate is none %}No figure': template syntax error"
    )
    assert "template syntax error: Unexpected end of template" in message
    assert "{% endif %}" in message


def test_table_rows_repeat_and_paragraph_tags_vanish(tmp_path: Path) -> None:
    path = make_template(
        tmp_path / "t.docx",
        "{%p if received %}",
        "We received:",
        "{%p endif %}",
        table_cells=(
            "{%tr for row in received %}",
            "{{ row.label }}: {{ row.count }}",
            "{%tr endfor %}",
        ),
    )
    data = LetterTemplate(path).render(
        {
            "received": [
                {"label": "Housing", "count": 3},
                {"label": "Planning & development", "count": 1},
            ]
        }
    )
    document = Document(io.BytesIO(data))
    assert [p.text for p in document.paragraphs] == ["We received:"]
    assert [r.cells[0].text for r in document.tables[0].rows] == [
        "Housing: 3",
        "Planning & development: 1",
    ]


def test_the_document_title_is_the_subject(tmp_path: Path) -> None:
    template = LetterTemplate(make_template(tmp_path / "t.docx", "Hello"))
    data = template.render({}, title="Annual Review letter 2020 – Brighton & Hove")
    assert (
        Document(io.BytesIO(data)).core_properties.title
        == "Annual Review letter 2020 – Brighton & Hove"
    )


def test_british_dates() -> None:
    import datetime as dt

    assert british_date(dt.date(2020, 7, 22)) == "22 July 2020"
    assert british_date(dt.date(2019, 4, 1)) == "1 April 2019"


def test_the_default_template_uses_only_known_fields(settings: Settings) -> None:
    batch = load_batch(settings)  # raises ProblemsFound if the template used an unknown field
    used = batch.template.fields_used()
    assert {"salutation", "authority", "upheld_rate", "received", "period_end"} <= used


def test_a_letter_from_the_default_template(settings: Settings) -> None:
    batch = load_batch(settings)
    letters = {letter.council.authority: letter for letter in batch.letters()}
    brighton = letters["Brighton & Hove City Council"]
    text = docx_text(batch.template.render(brighton.fields))
    assert "Dear Dr Lee <Acting>" in text
    assert "Brighton & Hove City Council" in text
    assert "We did not investigate any complaints in detail." in text
    assert "None" not in text
    derby = letters["Derby City Council"]
    text = docx_text(batch.template.render(derby.fields))
    assert "Dear Ms O'Brien" in text
    assert "63%" in text and "5 of 8 detailed investigations upheld" in text


def test_a_template_with_an_unknown_field_stops_the_batch(
    settings: Settings, tmp_path: Path
) -> None:
    make_template(settings.template, "Dear {{ salutaton }}")
    with pytest.raises(ProblemsFound) as caught:
        load_batch(settings)
    assert "{{ salutaton }} is not a field" in str(caught.value)
    assert "paragraph 1 'Dear {{ salutaton }}'" in str(caught.value)


def test_an_expression_failing_for_one_council_names_it_and_the_rest_are_built(
    folder: Path,
) -> None:
    make_template(
        folder / "templates" / "letter.docx",
        "Dear {{ salutation }}",
        "Upheld: {{ '%d' | format(upheld_rate) }}%",
    )
    result = CliRunner().invoke(cli, ["build", "--no-pdf"])
    assert result.exit_code == 1, result.output
    assert (
        "  - Brighton & Hove City Council: letter.docx, paragraph 2 "
        "'Upheld: {{ '%d' | format(upheld_rate) }}%': the template's expression failed "
        "(TypeError: %d format: a real number is required, not NoneType); check that it allows "
        "for a missing value, e.g. {% if upheld_rate is none %}."
    ) in result.output.splitlines()
    assert "Traceback" not in result.output
    letters = folder / "output" / "2020" / "letters"
    assert sorted(p.name for p in letters.glob("*.docx")) == [
        "Adur District Council - Annual Review 2020.docx",
        "Derby City Council - Annual Review 2020.docx",
        "Leicestershire County Council - Annual Review 2020.docx",
    ]
    manifest = read_manifest(folder / "output" / "2020" / "manifest.json")
    assert manifest is not None
    failed = manifest.by_authority()["Brighton & Hove City Council"]
    assert failed.docx is None and failed.error and "TypeError" in failed.error
