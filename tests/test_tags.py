"""Every mistake in a template's tags found at once, each at its paragraph (template/tags.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from click.testing import CliRunner

from letter_merge.cli import cli
from letter_merge.template.doctor import examine
from letter_merge.template.tags import fields_in_tags
from letter_merge.template.wordxml import LocatedParagraph, paragraphs, parse
from tests.helpers import make_template


def body_paragraphs(template: Path) -> list[LocatedParagraph]:
    with zipfile.ZipFile(template) as package:
        return list(paragraphs("word/document.xml", parse(package.read("word/document.xml"))))


def test_every_mistake_is_reported_at_once_each_at_its_paragraph(folder: Path) -> None:
    make_template(
        folder / "templates" / "letter.docx",
        "Dear {{ salutation }}",
        "Your council {{ authority ",
        "Upheld {{ upheld_rate | uper }}",
        "{% if upheld > 3 %}Many",
        "Figures {{ upheld_rate + }}",
        "{{ no_such_field }}",
        "{% endfor %}",
    )
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    out = result.output
    assert "6 problems must be fixed first" in out
    assert "paragraph 2 'Your council {{ authority': a {{ has no }}" in out
    assert "paragraph 3" in out and "No filter named 'uper'; did you mean 'upper'?" in out
    assert "paragraph 5" in out and "{{ upheld_rate + }}: unexpected" in out
    assert "paragraph 7 '{% endfor %}': {% endfor %} closes a {% for %}" in out
    assert "{% if upheld > 3 %} (paragraph 4); close that one first with {% endif %}" in out
    assert "paragraph 4 '{% if upheld > 3 %}Many': {% if upheld > 3 %} is never closed" in out
    assert "paragraph 6 '{{ no_such_field }}': {{ no_such_field }} is not a field" in out


def test_blocks_over_paragraphs_and_docxtpl_forms_are_not_mistakes(tmp_path: Path) -> None:
    template = make_template(
        tmp_path / "t.docx",
        "{%p if upheld > 3 %}",
        "Many: {% for row in decisions %}{{ row.outcome }}{% endfor %}",
        "{%p elif upheld == 0 %}",
        "None {# a note #}",
        "{%p else %}",
        "{% set shown = authority | upper %}{{ shown }}",
        "{%p endif %}",
        "{{ “quoted” if authority else '' }}",
    )
    assert [f for f in examine(template) if f.error] == []
    used = fields_in_tags(body_paragraphs(template))
    assert used == {"upheld", "decisions", "authority"}  # not row or shown


def test_docxtpl_s_own_forms_raw_blocks_and_set_blocks_are_not_mistakes(tmp_path: Path) -> None:
    template = make_template(
        tmp_path / "t.docx",
        "{{r authority }} and {{p authority }}",
        "{% raw %}{{ not a field }} {% endfor %}{% endraw %}",
        "{% set shown | replace('a=', 'b') %}{{ authority }}{% endset %}{{ shown }}",
        "{%- if upheld -%}yes{%- endif -%}",
        "{% macro greet(name) %}Dear {{ name }}{% endmacro %}{{ greet(salutation) }}",
        table_cells=("{% colspan 2 %}", "{% cellbg 'FF0000' %}"),
    )
    assert [f.message for f in examine(template) if f.error] == []
    assert fields_in_tags(body_paragraphs(template)) == {"authority", "upheld", "salutation"}


def test_a_close_without_an_open_and_a_stray_else(tmp_path: Path) -> None:
    template = make_template(tmp_path / "t.docx", "{% endif %}", "{% else %}")
    messages = [f.message for f in examine(template) if f.error]
    assert messages == [
        "{% endif %} has no {% if ... %} before it; delete it or add the tag that opens the block.",
        "{% else %} is not inside an {% if %}; add the {% if ... %} it belongs to, or delete it.",
    ]


def test_a_missing_close_is_one_mistake_said_in_the_template_s_words(folder: Path) -> None:
    """A {% left without its %} is said once, where it is: the tag after it is read as itself
    (its {% endif %} closes the block), and nothing Jinja says of the swallowed text follows."""
    template = folder / "templates" / "letter.docx"
    make_template(
        template, "Dear {{ salutation }}", "{% if upheld > 3 Many complaints.{% endif %}", "End"
    )
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert result.output.splitlines()[:2] == [
        "Error: 1 problem must be fixed first:",
        "  - letter.docx, paragraph 2 '{% if upheld > 3 Many complaints.{% endif %}': "
        "{% if upheld > 3 Many complaints. has no %} before the next tag begins; add %} where "
        "it should end.",
    ]
    make_template(template, "Dear {{ salutation }}", "{% if upheld > 3 Many", "{% endif %}")
    result = CliRunner().invoke(cli, ["check"])
    assert "1 problem must be fixed first" in result.output
    assert "a {% has no %} in the same paragraph" in result.output
    assert "has no {% if ... %} before it" not in result.output


def test_braces_inside_a_string_are_not_a_tag(tmp_path: Path) -> None:
    template = make_template(tmp_path / "t.docx", "{{ '{{' }} and {{ '{%' }}: {{ authority }}")
    assert [f for f in examine(template) if f.error] == []
