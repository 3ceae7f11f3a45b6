"""Rendering: the fields a letter sees, and the Word template filled in with them.

Templates render in Jinja's sandbox with autoescaping (a workbook value can never become markup) and
strict undefined (a misspelt field is an error naming it, never a blank).
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from docx import Document
from docx.document import Document as DocumentObject
from docx.table import Table
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from letter_merge import chart
from letter_merge.config import Settings
from letter_merge.errors import InputError, LetterMergeError, Problem
from letter_merge.figures import FIGURE_FIELDS, Figures
from letter_merge.workbook import Council

MONTHS = (
    "January February March April May June July August September October November December".split()
)
# Fields every letter has besides the workbook's columns.
COMPUTED_FIELDS = frozenset(
    {
        "salutation",
        "letter_date",
        "year",
        "period_start",
        "period_end",
        "received",
        "decisions",
        "chart",
        *FIGURE_FIELDS,
    }
)
TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
BODY_PART = "word/document.xml"
BODY_RELATIONSHIPS = "word/_rels/document.xml.rels"
CONTENT_TYPES = "[Content_Types].xml"
CORE_PROPERTIES = "docProps/core.xml"
# Parts a field may appear in: body, headers, footers, footnotes, endnotes, document properties.
TEMPLATED_PART = re.compile(
    r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml|docProps/core\.xml"
)
LINE_BREAK_IN_TEXT = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\n\f]")


class TemplateError(LetterMergeError):
    """The template cannot be rendered: a syntax error, or a field that does not exist."""


def british_date(day: dt.date) -> str:
    """'22 July 2020', whatever the machine's locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def make_environment() -> jinja2.Environment:
    return SandboxedEnvironment(
        autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True
    )


def letter_fields(council: Council, figures: Figures, settings: Settings) -> dict[str, Any]:
    """Everything a template can use for one council."""
    statistics = council.statistics
    fields: dict[str, Any] = dict(council.fields)
    fields.update(
        authority=council.authority,
        authority_type=council.authority_type,
        gss_code=council.gss_code,
        title=council.title,
        first_name=council.first_name,
        surname=council.surname,
        job_title=council.job_title,
        email=council.email,
        cc="; ".join(council.cc),
        detailed_investigations=statistics.detailed_investigations,
        upheld=statistics.upheld,
        compliance_outcomes=statistics.compliance_outcomes,
        complied=statistics.complied,
        satisfactory_remedies=statistics.satisfactory_remedies,
        salutation=council.salutation,
        letter_date=british_date(settings.letter_date),
        year=settings.year,
        period_start=british_date(settings.period_start),
        period_end=british_date(settings.period_end),
        received=[{"label": c.label, "count": c.count} for c in statistics.received],
        decisions=[{"label": c.label, "count": c.count} for c in statistics.decisions],
        **figures.as_fields(),
    )
    return fields


def render_text(source: str, fields: Mapping[str, Any], where: str) -> str:
    """A one-line template such as the email subject, in the same sandbox. No HTML escaping."""
    try:
        return _text_template(source).render(fields)
    except jinja2.TemplateError as error:
        raise TemplateError(f"{where}: {_describe(error)}") from None


@functools.lru_cache(maxsize=32)
def _text_template(source: str) -> jinja2.Template:
    """Compiled once: the same subject is rendered for every letter of a batch."""
    return _TEXT_ENVIRONMENT.from_string(source)


_TEXT_ENVIRONMENT = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def text_template_fields(source: str) -> set[str]:
    """The fields a text template (subject, email body) uses; raises on a syntax error."""
    return set(meta.find_undeclared_variables(_TEXT_ENVIRONMENT.parse(source)))


def check_text_template(source: str, available: Iterable[str], where: str) -> list[Problem]:
    """Problems with a text template: its syntax, and fields that do not exist."""
    try:
        used = text_template_fields(source)
    except jinja2.TemplateSyntaxError as error:
        return [Problem(where, f"template syntax error: {error.message}")]
    unknown = used - set(available) - COMPUTED_FIELDS
    problems = [
        Problem(where, f"{{{{ {name} }}}} is not a field; check its spelling.")
        for name in sorted(unknown)
    ]
    if "chart" in used:
        problems.append(Problem(where, "{{ chart }} is a picture: it can only be in the letter."))
    return problems


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of the template, located the way a person would find it in Word."""

    where: str
    text: str


class LetterTemplate:
    """The Word template, compiled once and rendered once per letter.

    Rendering follows docxtpl: its `patch_xml` undoes Word's habit of splitting a tag across runs
    and turns `{%p %}`, `{%tr %}`, `{%tc %}` and `{%r %}` into plain Jinja, and its
    `resolve_listing` turns line breaks in values into Word line breaks. Unlike docxtpl's
    `render()`, the Jinja templates are compiled once per batch and only the parts with fields
    are rewritten in each letter's package; re-reading and re-saving the whole package per letter
    made a letter cost 70 ms instead of a few.
    """

    def __init__(
        self, path: Path, chart_cache: Path | None = None, chart_dpi: int = chart.DPI
    ) -> None:
        self.path = path
        try:
            self.source = path.read_bytes()
            with zipfile.ZipFile(io.BytesIO(self.source)) as package:
                # part name -> (its zip entry, its bytes), in the package's order
                self._parts = {i.filename: (i, package.read(i)) for i in package.infolist()}
            self._document = Document(io.BytesIO(self.source))
        except FileNotFoundError:
            raise InputError(
                f"{path}: no such template; check [paths] template in letter-merge.toml."
            ) from None
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
            raise InputError(
                f"{path}: cannot be read as a Word document ({error}); save it from Word as .docx."
            ) from None
        self._environment = make_environment()
        self._helper = DocxTemplate(io.BytesIO(self.source))  # for its string transforms only
        self._sources = {
            name: self._prepare(data.decode("utf-8"))
            for name, (_, data) in self._parts.items()
            if TEMPLATED_PART.fullmatch(name) and _has_tags(data)
        }
        # docxtpl's table fix-up is only needed where cells are repeated or merged by tags.
        self._fix_tables = {
            name
            for name in self._sources
            if b"{%tc" in self._parts[name][1] or b"colspan" in self._parts[name][1]
        }
        self._compiled: dict[str, jinja2.Template] | None = None
        self._fields_used: dict[str, frozenset[str]] | None = None
        self._bases: dict[frozenset[str], bytes] = {}
        section = self._document.sections[-1]
        text_width = (
            (section.page_width or 0) - (section.left_margin or 0) - (section.right_margin or 0)
        )
        self.charts = chart.Charts(text_width or chart.MAX_WIDTH, chart_dpi, chart_cache)

    def _prepare(self, xml: str) -> str:
        """Template source for one part: docxtpl's patches, and a line per paragraph so that
        Jinja's line numbers lead back to a paragraph."""
        return re.sub(r"<w:p([ >])", r"\n<w:p\1", self._helper.patch_xml(xml))

    def _templates(self) -> dict[str, jinja2.Template]:
        if self._compiled is None:
            compiled = {}
            for name, source in self._sources.items():
                try:
                    compiled[name] = self._environment.from_string(source)
                except jinja2.TemplateSyntaxError as error:
                    raise TemplateError(self._syntax_message(error, name)) from None
            self._compiled = compiled
        return self._compiled

    def fields_used(self) -> frozenset[str]:
        """The field names the template refers to (loop variables and Jinja's own names excluded)."""
        return frozenset().union(*self._fields_by_part().values())

    def _fields_by_part(self) -> dict[str, frozenset[str]]:
        if self._fields_used is None:
            used = {}
            for name, source in self._sources.items():
                try:
                    variables = meta.find_undeclared_variables(self._environment.parse(source))
                except jinja2.TemplateSyntaxError as error:
                    raise TemplateError(self._syntax_message(error, name)) from None
                used[name] = frozenset(variables - set(self._environment.globals))
            self._fields_used = used
        return self._fields_used

    @property
    def uses_chart(self) -> bool:
        """Whether the letter has the chart: only then is it drawn."""
        return "chart" in self._fields_by_part().get(BODY_PART, ())

    def check_fields(self, available: Iterable[str]) -> list[Problem]:
        """A problem for every field the template uses that the workbook and figures lack."""
        known = set(available) | COMPUTED_FIELDS
        try:
            unknown = sorted(self.fields_used() - known)
        except TemplateError as error:
            return [Problem("", str(error))]
        problems = []
        elsewhere = [
            p for p, used in self._fields_by_part().items() if "chart" in used and p != BODY_PART
        ]
        for part in elsewhere:
            problems.append(
                Problem(
                    f"{self.path.name} ({_part_label(part)})",
                    "{{ chart }} can only be in the body of the letter; move it out of the "
                    f"{_part_label(part)}.",
                )
            )
        for name in unknown:
            paragraph = self.find_paragraph(name)
            where = (
                f"{self.path.name}, {paragraph.where} {_quote(paragraph.text)}"
                if paragraph
                else f"{self.path.name} (document properties, or a text box)"
            )
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            hint = (
                f"did you mean {close[0]}?"
                if close
                else "use a workbook column's name in snake_case (or add the column), or one of "
                "the fields listed in the README."
            )
            problems.append(Problem(where, f"{{{{ {name} }}}} is not a field; {hint}"))
        return problems

    def render(self, fields: Mapping[str, Any], title: str = "") -> bytes:
        """The filled-in letter as .docx bytes; `title` becomes the document (and PDF) title."""
        templates = self._templates()
        pictures: dict[str, bytes] = {}
        if self.uses_chart:
            picture = self.charts.picture(fields)
            fields = {**fields, "chart": picture}
            pictures[chart.PART_NAME] = picture.png
        changed = {
            name: self._render_part(name, t, fields).encode() for name, t in templates.items()
        }
        if pictures and BODY_PART in changed:
            changed[BODY_PART] = chart.number_pictures(changed[BODY_PART])
        if title and CORE_PROPERTIES in self._parts:
            core = changed.get(CORE_PROPERTIES) or self._parts[CORE_PROPERTIES][1]
            changed[CORE_PROPERTIES] = _set_title(core, title)
        # The parts without fields were compressed once into the base package; each letter adds
        # its own parts to a copy of it (a letter took 6 ms, mostly re-compressing styles).
        buffer = io.BytesIO(self._base_package(frozenset(changed)))
        with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
            for name, data in changed.items():
                package.writestr(self._parts[name][0], data)
            for name, data in pictures.items():  # PNG is compressed already
                package.writestr(name, data, compress_type=zipfile.ZIP_STORED)
        return buffer.getvalue()

    def _base_package(self, rendered: frozenset[str]) -> bytes:
        base = self._bases.get(rendered)
        if base is None:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
                for name, (info, data) in self._parts.items():
                    if name not in rendered:
                        package.writestr(info, self._with_chart(name, data))
            base = self._bases[rendered] = buffer.getvalue()
        return base

    def _with_chart(self, name: str, data: bytes) -> bytes:
        """The body's relationships and the content types, with the chart's picture added when
        the template uses it (each letter then adds only the PNG)."""
        if not self.uses_chart:
            return data
        if name == BODY_RELATIONSHIPS:
            relationship = (
                f'<Relationship Id="{chart.RELATIONSHIP_ID}" Type="{chart.RELATIONSHIP_TYPE}" '
                f'Target="{chart.PART_NAME.removeprefix("word/")}"/>'
            )
            return data.replace(b"</Relationships>", relationship.encode() + b"</Relationships>")
        if name == CONTENT_TYPES and not re.search(rb'Extension="png"', data, re.IGNORECASE):
            png = '<Default Extension="png" ContentType="image/png"/>'
            return data.replace(b"</Types>", png.encode() + b"</Types>")
        return data

    def _render_part(self, name: str, template: jinja2.Template, fields: Mapping[str, Any]) -> str:
        try:
            xml = template.render(fields)
        except jinja2.TemplateError as error:
            raise TemplateError(f"{self.path.name}: {_describe(error)}") from None
        xml = xml.replace("\n<w:p", "<w:p")
        # docxtpl's escapes for a literal {{ }} in the output
        xml = (
            xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
        )
        if LINE_BREAK_IN_TEXT.search(xml):
            xml = self._helper.resolve_listing(xml)
        if name in self._fix_tables:
            tree = self._helper.fix_tables(xml)
            xml = etree.tostring(tree, encoding="unicode")
        return xml

    def paragraphs(self) -> Iterator[Paragraph]:
        """Every paragraph with text: body, table cells, headers and footers, numbered as Word shows."""
        yield from _paragraphs_of(self._document)

    def find_paragraph(self, name: str) -> Paragraph | None:
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        for paragraph in self.paragraphs():
            if any(pattern.search(tag) for tag in TAG.findall(paragraph.text)):
                return paragraph
        return None

    def _syntax_message(self, error: jinja2.TemplateSyntaxError, part: str) -> str:
        near = ""
        if error.lineno:
            lines = self._sources[part].splitlines()
            text = (
                re.sub(r"<[^>]+>", "", lines[error.lineno - 1])
                if error.lineno <= len(lines)
                else ""
            )
            near = f" near {_quote(text)}" if text.strip() else ""
        where = "" if part == BODY_PART else f" ({_part_label(part)})"
        return (
            f"{self.path.name}{where}{near}: template syntax error: {error.message}. Check that "
            "every {{ has its }} and every {% if %} or {% for %} has its {% endif %} or {% endfor %}."
        )


def _part_label(part: str) -> str:
    """'word/header2.xml' -> 'header'; 'docProps/core.xml' -> 'document properties'."""
    if part == CORE_PROPERTIES:
        return "document properties"
    return Path(part).stem.rstrip("0123456789")


def _has_tags(data: bytes) -> bool:
    return b"{{" in data or b"{%" in data or b"{#" in data


def _set_title(core_xml: bytes, title: str) -> bytes:
    """Put `title` in the document properties; LibreOffice and Word copy it into the PDF."""
    text = core_xml.decode("utf-8")
    escaped = markupsafe.escape(title)
    if "<dc:title" in text:
        text = re.sub(
            r"<dc:title\s*/>|<dc:title>.*?</dc:title>",
            f"<dc:title>{escaped}</dc:title>",
            text,
            flags=re.DOTALL,
        )
    else:
        text = text.replace(
            "</cp:coreProperties>", f"<dc:title>{escaped}</dc:title></cp:coreProperties>"
        )
    return text.encode("utf-8")


def _paragraphs_of(document: DocumentObject) -> Iterator[Paragraph]:
    body_number = table_number = 0
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            table_number += 1
            yield from _table_paragraphs(block, f"table {table_number}")
            continue
        body_number += 1
        if block.text.strip():
            yield Paragraph(f"paragraph {body_number}", block.text)
    for number, section in enumerate(document.sections, start=1):
        for kind, part in (("header", section.header), ("footer", section.footer)):
            if part.is_linked_to_previous and number > 1:
                continue
            for paragraph in part.paragraphs:
                if paragraph.text.strip():
                    yield Paragraph(kind, paragraph.text)


def _table_paragraphs(table: Table, where: str) -> Iterator[Paragraph]:
    for row_number, row in enumerate(table.rows, start=1):
        for column_number, cell in enumerate(row.cells, start=1):
            text = "\n".join(p.text for p in cell.paragraphs)
            if text.strip():
                yield Paragraph(f"{where} row {row_number} cell {column_number}", text)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return f"'{text if len(text) <= 70 else text[:67] + '...'}'"


def _describe(error: jinja2.TemplateError) -> str:
    message = error.message or str(error)
    match = re.fullmatch(r"'(\w+)' is undefined", message)
    if match:
        return f"{{{{ {match.group(1)} }}}} is not a field; check its spelling against the README."
    match = re.fullmatch(r"'[^']*' (?:object )?has no attribute '(\w+)'", message)
    if match:
        return f"'{match.group(1)}' is not a field of that item; check its spelling."
    return message
