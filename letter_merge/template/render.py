"""Rendering the Word template: compiled once per batch, filled in once per letter.

Rendering follows docxtpl: its `patch_xml` undoes Word's habit of splitting a tag across runs and
turns `{%p %}`, `{%tr %}`, `{%tc %}` and `{%r %}` into plain Jinja, and its `resolve_listing`
turns line breaks in values into Word line breaks. Unlike docxtpl's `render()`, the Jinja
templates are compiled once per batch and only the parts with fields are rewritten in each
letter's package; re-reading and re-saving the whole package per letter made a letter cost 70 ms
instead of a few.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import functools
import html
import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
import markupsafe
from docxtpl import DocxTemplate
from jinja2 import meta
from lxml import etree

from letter_merge.chart import picture as chart
from letter_merge.chart.model import DPI, MAX_WIDTH
from letter_merge.clock import source_date
from letter_merge.errors import InputError, Problem
from letter_merge.fields import COMPUTED_FIELDS
from letter_merge.template import merge_analysis, merge_fill
from letter_merge.template.controls import with_filled_controls_unbound
from letter_merge.template.fieldcode import word_name
from letter_merge.template.tags import fields_in_tags
from letter_merge.template.text import TemplateError, describe, render_limited, sandbox
from letter_merge.template.wordxml import (
    BODY_PART,
    BODY_RELATIONSHIPS,
    CONTENT_TYPES,
    CORE_PROPERTIES,
    TAG,
    check_parts,
    find_paragraph,
    has_tags,
    is_templated_part,
    is_text_part,
    paragraphs,
    parse,
    part_label,
    quote,
    serialise,
    w,
)
from letter_merge.untrusted import TEMPLATE, check_package

STYLES = "word/styles.xml"
SETTINGS = "word/settings.xml"

LINE_BREAK_IN_TEXT = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\n\f]")
TWIPS_TO_EMU = 635


# One sandbox for every letter template: nothing is set on it after it is made. A part's source
# decides what Jinja makes of it, so each is compiled (and read for its fields) once a run: the
# desk reads the batch afresh at every change of an input, and a run of commands many times.
_ENVIRONMENT = sandbox(autoescape=True)


@functools.lru_cache(maxsize=16)
def _compiled(source: str) -> jinja2.Template:
    return _ENVIRONMENT.from_string(source)


@functools.lru_cache(maxsize=16)
def _undeclared(source: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(_ENVIRONMENT.parse(source)))


class LetterTemplate:
    """The Word template, compiled once and rendered once per letter."""

    def __init__(
        self,
        path: Path,
        chart_cache: Path | None = None,
        chart_dpi: int = DPI,
        field_map: Mapping[str, str] | None = None,
    ) -> None:
        self.path = path
        self.field_map = dict(field_map or {})
        try:
            check_package(path, TEMPLATE)
            self.source = path.read_bytes()
            with zipfile.ZipFile(io.BytesIO(self.source)) as package:
                # part name -> (its zip entry, its bytes), in the package's order
                self._parts = {i.filename: (i, package.read(i)) for i in package.infolist()}
            check_parts(path, {name: data for name, (_, data) in self._parts.items()})
            self._parts = {
                name: (info, _plain_controls(name, data))
                for name, (info, data) in self._parts.items()
            }
            self._made_at = source_date()
            if self._made_at is not None:  # SOURCE_DATE_EPOCH: every file's date in the package
                stamp = self._made_at.timetuple()[:6]
                self._parts = {
                    name: (_dated(info, stamp), data) for name, (info, data) in self._parts.items()
                }
            body = parse(self._parts[BODY_PART][1])
        except FileNotFoundError:
            raise InputError(
                f"{path}: no such template; check [paths] template in letter-merge.toml."
            ) from None
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, etree.XMLSyntaxError) as error:
            raise InputError(
                f"{path}: cannot be read as a Word document ({error}); save it from Word as .docx."
            ) from None
        self._environment = _ENVIRONMENT
        self._helper = DocxTemplate(io.BytesIO(self.source))  # for its string transforms only
        self._sources = {
            name: self._prepare(_decoded(path, name, data))
            for name, (_, data) in self._parts.items()
            if is_templated_part(name) and has_tags(data)
        }
        # docxtpl's table fix-up is only needed where cells are repeated or merged by tags.
        self._fix_tables = {
            name
            for name in self._sources
            if b"{%tc" in self._parts[name][1] or b"colspan" in self._parts[name][1]
        }
        # Word's own merge fields (Mailings tab), by part: resolved in each letter after Jinja.
        self.merge_uses = {
            name: uses
            for name, (_, data) in self._parts.items()
            if is_text_part(name) and (b"instrText" in data or b"fldSimple" in data)
            if (uses := merge_analysis.merge_uses(name, parse(data)))
        }
        self._compiled: dict[str, jinja2.Template] | None = None
        self._fields_used: dict[str, frozenset[str]] | None = None
        self._bases: dict[frozenset[str], bytes] = {}
        self._trees: dict[str, etree._Element] | None = None
        self.charts = chart.Charts(_text_width(body) or MAX_WIDTH, chart_dpi, chart_cache)

    def _prepare(self, xml: str) -> str:
        """Template source for one part: docxtpl's patches, the text of each tag as written
        (LibreOffice stores ' and " in text as &apos; and &quot;, which docxtpl leaves, and
        Jinja cannot read), and a line per paragraph so that Jinja's line numbers lead back to
        a paragraph."""
        xml = TAG.sub(lambda tag: html.unescape(tag.group()), self._helper.patch_xml(xml))
        return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)

    def _templates(self) -> dict[str, jinja2.Template]:
        if self._compiled is None:
            compiled = {}
            for name, source in self._sources.items():
                try:
                    compiled[name] = _compiled(source)
                except jinja2.TemplateSyntaxError as error:
                    raise self._syntax_error(error, name) from None
            self._compiled = compiled
        return self._compiled

    def syntax_problem(self) -> Problem | None:
        """Jinja's own verdict on the whole template: the first error it meets, if any (the
        doctor reads each tag alone and finds nearly all of them first, with their places)."""
        try:
            self._templates()
        except TemplateError as error:
            return Problem(error.where, error.what)
        return None

    def fields_used(self) -> frozenset[str]:
        """The field names the template refers to (loop variables and Jinja's own names excluded)."""
        return frozenset().union(*self._fields_by_part().values())

    def _fields_by_part(self) -> dict[str, frozenset[str]]:
        if self._fields_used is None:
            used = {}
            for name, source in self._sources.items():
                try:
                    variables = _undeclared(source)
                except jinja2.TemplateSyntaxError:
                    # The doctor reports each mistake (template/tags.py); the fields are still
                    # those of the tags that can be read, so unknown ones are reported too.
                    trees = self._text_parts()
                    root = trees.get(name)
                    used[name] = (
                        fields_in_tags(paragraphs(name, root)) if root is not None else frozenset()
                    )
                    continue
                used[name] = frozenset(variables - set(self._environment.globals))
            self._fields_used = used
        return self._fields_used

    @property
    def uses_chart(self) -> bool:
        """Whether the letter has the chart: only then is it drawn."""
        return "chart" in self._fields_by_part().get(BODY_PART, ())

    def check_fields(self, available: Iterable[str]) -> list[Problem]:
        """A problem for every field the template uses that the workbook and figures lack, and
        for every Word merge field or rule that cannot be merged."""
        available = set(available)
        return self._check_jinja_fields(available) + self._check_merge_fields(available)

    def _check_merge_fields(self, available: set[str]) -> list[Problem]:
        names = sorted(available | (COMPUTED_FIELDS - {"received", "decisions", "chart"}))
        names.append("record_number")
        known = {word_name(name): name for name in names}
        problems = []
        for uses in self.merge_uses.values():
            for use in uses:
                if use.problem:
                    problems.append(Problem(self._merge_place(use), use.problem + "."))
        mapped = {word_name(k): v for k, v in self.field_map.items()}
        for template_name, target in self.field_map.items():
            if word_name(target) not in known:
                close = difflib.get_close_matches(word_name(target), list(known), n=1)
                hint = f"; did you mean {known[close[0]]}?" if close else ""
                problems.append(
                    Problem(
                        "letter-merge.toml, [fields]",
                        f'{template_name} = "{target}": {target} is not a column of the '
                        f"workbook or a field{hint}",
                    )
                )
        field_names = set(known) | set(mapped)
        language = self._document_language()
        for part, root in self._text_parts().items():
            typed_fields = merge_analysis.typed_fields(
                part, copy.deepcopy(root), field_names, language
            )
            for typed in typed_fields:
                key = word_name(typed.name)
                name = known.get(key)
                instead = (
                    f"Mailings › Insert Merge Field › {_word_form(name)}, or write {{{{ {name} }}}}"
                    if name
                    else "Mailings › Insert Merge Field, or a {{ field }}"
                )
                problems.append(
                    Problem(
                        typed.where.place(self.path.name),
                        f"{typed.typed} is typed text, not a field: every letter would print it "
                        f"as it is; insert the field with {instead}.",
                    )
                )
        reported: set[str] = set()
        for name, use in self.merge_names():
            key = word_name(name)
            key = word_name(mapped[key]) if key in mapped else key
            if key in known or name in reported:
                continue
            reported.add(name)
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.7)
            if close:
                hint = (
                    f"did you mean {_word_form(known[close[0]])}? (Or, to keep the template's "
                    f'name, add to letter-merge.toml: [fields] {name} = "{known[close[0]]}")'
                )
            else:
                hint = (
                    "insert a column's field with Mailings › Insert Merge Field (letter-merge "
                    "recipients writes a workbook Word lists every field from), or say which "
                    f'column it is in letter-merge.toml: [fields] {name} = "<column>"'
                )
            problems.append(
                Problem(
                    self._merge_place(use),
                    f"the merge field «{name}» is not a column of the workbook or a field; {hint}",
                )
            )
        return problems

    def _document_language(self) -> str:
        """The language the template's text is in unless marked otherwise ('' if not said)."""
        styles, settings = (self._parts.get(name) for name in (STYLES, SETTINGS))
        try:
            return merge_analysis.document_language(
                parse(styles[1]) if styles else None, parse(settings[1]) if settings else None
            )
        except etree.XMLSyntaxError:
            return ""

    def _merge_place(self, use: merge_analysis.MergeUse) -> str:
        return use.where.place(self.path.name) if use.where else self.path.name

    def _check_jinja_fields(self, available: set[str]) -> list[Problem]:
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
                    f"{self.path.name} ({part_label(part)})",
                    "{{ chart }} can only be in the body of the letter; move it out of the "
                    f"{part_label(part)}.",
                )
            )
        for name in unknown:
            paragraph = find_paragraph(self._text_parts(), name)
            where = (
                paragraph.place(self.path.name)
                if paragraph
                else f"{self.path.name} (document properties, or a text box)"
            )
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            hint = (
                f"did you mean {close[0]}?"
                if close
                else "use a workbook column's name in snake_case (or add the column), or one of "
                "the fields listed in the manual (Reference: Template fields)."
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
        changed.update(self._merged(changed, fields))
        if pictures and BODY_PART in changed:
            changed[BODY_PART] = chart.number_pictures(changed[BODY_PART])
        if title and CORE_PROPERTIES in self._parts:
            core = changed.get(CORE_PROPERTIES) or self._parts[CORE_PROPERTIES][1]
            changed[CORE_PROPERTIES] = _set_title(core, title)
        if self._made_at is not None and CORE_PROPERTIES in self._parts:
            core = changed.get(CORE_PROPERTIES) or self._parts[CORE_PROPERTIES][1]
            changed[CORE_PROPERTIES] = _set_dates(core, self._made_at)
        # The parts without fields were compressed once into the base package; each letter adds
        # its own parts to a copy of it (a letter took 6 ms, mostly re-compressing styles).
        buffer = io.BytesIO(self._base_package(frozenset(changed)))
        with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
            for name, data in changed.items():
                package.writestr(self._parts[name][0], data)
            # PNG is compressed already; dated as the document is, never now (the same letter
            # gives the same bytes)
            dated = self._parts[BODY_PART][0].date_time
            for name, data in pictures.items():
                package.writestr(zipfile.ZipInfo(name, dated), data, zipfile.ZIP_STORED)
        return buffer.getvalue()

    def prove(self, fields: Mapping[str, Any]) -> None:
        """Render every part for these fields and throw the result away: TemplateError if the
        letter cannot be made. The chart is stood in for (a picture cannot break a template),
        so nothing is drawn."""
        if self.uses_chart:
            stand_in = chart.ChartPicture(b"", self.charts.width, self.charts.height, "")
            fields = {**fields, "chart": stand_in}
        rendered = {
            name: self._render_part(name, template, fields).encode()
            for name, template in self._templates().items()
        }
        self._merged(rendered, fields)

    def _merged(self, rendered: Mapping[str, bytes], fields: Mapping[str, Any]) -> dict[str, bytes]:
        """The parts with Word merge fields, each field replaced by what Word's merge prints."""
        if not self.merge_uses:
            return {}
        values = merge_fill.MergeValues.of(fields, self.field_map)
        merged = {}
        for name in self.merge_uses:
            root = parse(rendered.get(name) or self._parts[name][1])
            try:
                merge_fill.resolve(root, values)
            except merge_fill.MergeError as error:
                raise TemplateError(f"{self.path.name} ({part_label(name)})", str(error)) from None
            merged[name] = serialise(root)
        return merged

    @property
    def uses_record_number(self) -> bool:
        """Whether the template prints the record's number (MERGEREC, MERGESEQ, or the
        Record_number column of letter-merge recipients)."""
        values = merge_fill.MergeValues({"recordnumber": None}, self.field_map)
        return any(
            kind in ("MERGEREC", "MERGESEQ")
            for uses in self.merge_uses.values()
            for use in uses
            for kind in use.kinds
        ) or any(values.has(name) for name, _ in self.merge_names())

    def merge_names(self) -> list[tuple[str, merge_analysis.MergeUse]]:
        """Every merge field name the template prints, with the field it is in."""
        return [
            (name, use) for uses in self.merge_uses.values() for use in uses for name in use.names
        ]

    def _base_package(self, rendered: frozenset[str]) -> bytes:
        base = self._bases.get(rendered)
        if base is None:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
                for name, (info, data) in self._parts.items():
                    if name not in rendered:
                        data = merge_fill.without_data_source(name, self._with_chart(name, data))
                        package.writestr(info, data)
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
            xml = render_limited(template, fields)
        except Exception as error:
            # Any exception from a template is the template's (a filter given an undefined rate,
            # a sandbox refusal): said with its place, never a traceback.
            raise TemplateError(
                self._place(name, _template_line(error.__traceback__)), describe(error)
            ) from None
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

    def _text_parts(self) -> dict[str, etree._Element]:
        """The template's parts with paragraphs, parsed once when a message needs a place."""
        if self._trees is None:
            self._trees = {
                name: parse(data) for name, (_, data) in self._parts.items() if is_text_part(name)
            }
        return self._trees

    def _place(self, part: str, line: int | None) -> str:
        """Where line `line` of a part's template source is in Word: "letter.docx, paragraph 12
        'Dear {{ salutation }}'", or the part ("letter.docx (header)") when it cannot be told."""
        text = ""
        lines = self._sources[part].splitlines()
        if line is not None and 0 < line <= len(lines):
            text = html.unescape(re.sub(r"<[^>]+>", "", lines[line - 1])).strip()
        if text and part != CORE_PROPERTIES:
            trees = self._text_parts()
            paragraph = find_paragraph({part: trees[part]}, text, in_tag=False)
            if paragraph is not None:
                return paragraph.place(self.path.name)
        label = "" if part == BODY_PART else f" ({part_label(part)})"
        near = f" near {quote(text)}" if text else ""
        return f"{self.path.name}{label}{near}"

    def _syntax_error(self, error: jinja2.TemplateSyntaxError, part: str) -> TemplateError:
        # Jinja's "unexpected char '&' at 22379" counts characters of XML nobody sees.
        message = re.sub(r" at \d+$", "", error.message or str(error))
        return TemplateError(
            self._place(part, error.lineno),
            f"template syntax error: {message}. Check that every {{{{ has its }}}} and every "
            "{% if %} or {% for %} has its {% endif %} or {% endfor %}.",
        )


def _word_form(name: str) -> str:
    """A field's name as Word shows it in Insert Merge Field: authority_type -> Authority_type."""
    return name[:1].upper() + name[1:]


def _plain_controls(name: str, data: bytes) -> bytes:
    """A text part's content controls that hold fields, unbound (see controls.py)."""
    return with_filled_controls_unbound(data) if is_text_part(name) else data


def _decoded(path: Path, part: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: its part {part} is not UTF-8 XML as Word and LibreOffice write it; save the "
            "template again from Word or LibreOffice Writer."
        ) from None


def _template_line(traceback: TracebackType | None) -> int | None:
    """The template line an exception was raised at: Jinja puts the template's own lines in the
    traceback as frames of '<template>'."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _text_width(body: etree._Element) -> int:
    """The width between the margins of the document's last section, in EMU (0 if unknown)."""
    sections = body.findall(f".//{w('sectPr')}")
    if not sections:
        return 0
    size, margins = sections[-1].find(w("pgSz")), sections[-1].find(w("pgMar"))
    try:
        width = int(size.get(w("w"), "0")) if size is not None else 0
        left = int(margins.get(w("left"), "0")) if margins is not None else 0
        right = int(margins.get(w("right"), "0")) if margins is not None else 0
    except ValueError:
        return 0
    return max(0, width - left - right) * TWIPS_TO_EMU


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


def _dated(info: zipfile.ZipInfo, stamp: tuple[int, ...]) -> zipfile.ZipInfo:
    """A copy of a package entry, dated `stamp` (year, month, day, hour, minute, second)."""
    dated = copy.copy(info)
    dated.date_time = (stamp[0], stamp[1], stamp[2], stamp[3], stamp[4], stamp[5])
    return dated


def _set_dates(core_xml: bytes, made_at: dt.datetime) -> bytes:
    """The document properties' created and modified dates set to `made_at`."""
    stamp = made_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = core_xml.decode("utf-8")
    for name in ("created", "modified"):
        text = re.sub(
            rf"(<dcterms:{name}\b[^>]*>)[^<]*(</dcterms:{name}>)",
            rf"\g<1>{stamp}\g<2>",
            text,
        )
    return text.encode("utf-8")
