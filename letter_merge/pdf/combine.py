"""Many letters as the sections of one document, for LibreOffice to convert in one go.

Starting LibreOffice and opening a document cost far more than laying out a page, so letters made
from the same template are converted together: each letter becomes a section that starts on a new
page with its page numbers restarting at 1, and a bookmark at its first paragraph. LibreOffice
exports the bookmarks as PDF named destinations, which say exactly where each letter starts;
split.py cuts the PDF there.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from lxml import etree

from letter_merge.chart import picture as chart
from letter_merge.pdf import isolate, lean, notes, pictures
from letter_merge.template.wordfields import WordField, word_fields
from letter_merge.template.wordxml import (
    APP_PROPERTIES,
    BODY_PART,
    BODY_RELATIONSHIPS,
    CONTENT_TYPES,
    CORE_PROPERTIES,
    DC,
    PACKAGE_RELATIONSHIPS,
    R,
    is_text_part,
    parse,
    serialise,
    w,
)

OFFICE_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"

# Parts that may differ between letters that are still combinable: those with text (the body,
# headers, footers, notes), the properties and the chart's picture.
PER_LETTER_PARTS = {CORE_PROPERTIES, APP_PROPERTIES, chart.PART_NAME}
MARK = "LetterMerge{:05d}"
NUMBERING = "word/numbering.xml"
STYLES = "word/styles.xml"
HEADER_TYPES = {
    "header": "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml",
    "footer": "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml",
}


class CombineError(Exception):
    """The letters cannot be combined, or the combined PDF cannot be split back into them."""


def shared_signature(docx: Path) -> str:
    """A hash of everything in the package but the parts with text and the properties: letters
    with the same signature share styles, lists, settings and media, and so can be sections of
    one document."""
    with zipfile.ZipFile(docx) as package:
        return _signature(package)


def _signature(package: zipfile.ZipFile) -> str:
    digest = hashlib.sha256()
    for info in sorted(package.infolist(), key=lambda i: i.filename):
        if info.filename not in PER_LETTER_PARTS and not is_text_part(info.filename):
            digest.update(info.filename.encode())
            digest.update(info.CRC.to_bytes(4, "big"))
            digest.update(info.file_size.to_bytes(8, "big"))
    return digest.hexdigest()


def look_at(docx: Path) -> tuple[str, str | None]:
    """A letter's shared signature and why it cannot be converted together with others (None
    if it can), from one reading of its package."""
    with zipfile.ZipFile(docx) as package:
        return _signature(package), _refusal(package.read(BODY_PART))


ENDNOTE_REFERENCE = re.compile(rb"<(?:\w+:)?endnoteReference\b")
ENDNOTES = (
    "the template has endnotes, which LibreOffice 7.4 gathers after the last letter of a "
    "document of several"
)


def _refusal(body_xml: bytes) -> str | None:
    """Why a letter cannot be converted together with others of its template, or None. (What
    no rule here foresees is found by comparing letters with themselves converted alone.)
    Endnotes may be in some letters only ({% if %}): every letter is looked at, quickly."""
    if ENDNOTE_REFERENCE.search(body_xml):
        return ENDNOTES
    return None


def template_cannot_combine(docx: Path) -> str | None:
    """Why no letter made from the same template as `docx` can be converted together with
    others (what its page settings forbid), or None."""
    if any(f.name == "NUMPAGES" for f in _all_fields(package_roots(docx))):
        with zipfile.ZipFile(docx) as package:
            return isolate.page_count_problem(parse(package.read(BODY_PART)))
    return None


def package_roots(docx: Path) -> list[etree._Element]:
    with zipfile.ZipFile(docx) as package:
        return [parse(package.read(name)) for name in package.namelist() if is_text_part(name)]


def _all_fields(roots: Iterable[etree._Element]) -> Iterable[WordField]:
    for root in roots:
        yield from word_fields(root)


class Combined(NamedTuple):
    """Letters combined: the .docx LibreOffice converts, and each letter's chart (its PNG, None
    for a letter without), to put in its PDF in the stand-in's place."""

    data: bytes
    charts: list[bytes | None]


def combine_letters(letters: Sequence[Path]) -> Combined:
    """One .docx holding every letter as a section, in order, bookmarked `MARK.format(index)`,
    each laid out as it is alone (see isolate.py); the letters' charts read on the way."""
    if not letters:
        raise CombineError("no letters to combine")
    with zipfile.ZipFile(letters[0]) as package:
        entries = [(info, package.read(info)) for info in package.infolist()]
    data = {info.filename: part for info, part in entries}
    root = parse(data[BODY_PART])
    body = root.find(w("body"))
    if body is None:
        raise CombineError(f"{letters[0].name}: no document body")
    for child in list(body):
        body.remove(child)
    document = _Document(data)
    first: isolate.LetterXml | None = None
    charts: list[bytes | None] = []
    for index, path in enumerate(letters):
        with zipfile.ZipFile(path) as package:
            letter = _read_letter(index, path, package)
            names = set(package.namelist())
            footnotes = package.read(notes.FOOTNOTES) if notes.FOOTNOTES in names else None
            charts.append(package.read(chart.PART_NAME) if chart.PART_NAME in names else None)
        first = first or letter
        try:
            document.add(letter, first, footnotes)
        except isolate.CannotCombine as reason:
            raise CombineError(f"{path.name}: {reason}") from None
        letter_body = letter.body.find(w("body"))
        blocks = list(letter_body) if letter_body is not None else []
        if not blocks or blocks[-1].tag != w("sectPr"):
            raise CombineError(f"{path.name}: the document does not end with its page settings")
        section = blocks.pop()
        _bookmark_first_paragraph(blocks, index)
        if index < len(letters) - 1:
            # A section ends with the paragraph whose properties hold its page settings.
            last = _last_paragraph(blocks, path.name)
            properties = last.find(w("pPr"))
            if properties is None:
                properties = etree.Element(w("pPr"))
                last.insert(0, properties)
            properties.append(section)
            body.extend(blocks)
        else:
            body.extend(blocks)
            body.append(section)
    changed = document.parts()
    changed[BODY_PART] = serialise(root)
    if chart.PART_NAME in data:
        # Every letter's chart is laid out as one stand-in, each PDF given its own (pictures.py)
        changed[chart.PART_NAME] = pictures.STAND_IN
    # Only the styles the letters use: LibreOffice sets up every style it is given (see lean.py).
    whole = {info.filename: changed.get(info.filename, part) for info, part in entries}
    changed.update(lean.lean_parts({**whole, **changed}))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        for info, part in entries:
            package.writestr(info, changed.pop(info.filename, part))
        for name, part in changed.items():  # parts of the letters' own
            package.writestr(name, part)
    return Combined(buffer.getvalue(), charts)


def _read_letter(index: int, path: Path, package: zipfile.ZipFile) -> isolate.LetterXml:
    names = set(package.namelist())
    headers = {
        name: package.read(name)
        for name in names
        if re.fullmatch(r"word/(header|footer)\d*\.xml", name)
    }
    core = package.read(CORE_PROPERTIES) if CORE_PROPERTIES in names else None
    return isolate.LetterXml(index, path, parse(package.read(BODY_PART)), headers, core)


class _Document:
    """The parts of the combined document that letters add to: lists, notes, headers and
    footers of their own, and the relationships and content types that name them."""

    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = data
        styles = parse(data[STYLES]) if STYLES in data else None
        self.numbering = (
            isolate.Numbering.read(parse(data[NUMBERING]), styles) if NUMBERING in data else None
        )
        self.bookmarks = isolate.Bookmarks()
        self.relationships = parse(data[BODY_RELATIONSHIPS])
        self.targets = {
            r.get("Id", ""): "word/" + r.get("Target", "").removeprefix("/word/").removeprefix("./")
            for r in self.relationships
        }
        self.types = parse(data[CONTENT_TYPES])
        self.headers: dict[bytes, str] = {}  # a header's XML -> the part that holds it
        self.written: dict[str, bytes] = {}  # header and footer parts, as written
        self.count = 0
        self.footnotes = notes.Footnotes(data)

    def add(
        self, letter: isolate.LetterXml, first: isolate.LetterXml, footnotes: bytes | None
    ) -> None:
        self.bookmarks.own(letter)
        if isolate.own_fields(letter, first):
            isolate.mark_end(letter)
        self.footnotes.add(letter, footnotes)
        if self.numbering is not None and letter.index > 0:
            self.numbering.own_lists(letter)
        isolate.start_on_new_page(isolate.first_section(letter))
        for reference in isolate.header_references(letter.body):
            reference_id = reference.get(f"{{{R}}}id", "")
            part = self.targets.get(reference_id)
            if part is None or part not in letter.headers:
                continue
            reference.set(f"{{{R}}}id", self._header(part, letter))

    def _header(self, part: str, letter: isolate.LetterXml) -> str:
        """The relationship id of the letter's header or footer `part`, as changed for it: the
        same part as an earlier letter's where they are alike, else a part of its own."""
        parsed = letter.parsed_headers.get(part)
        xml = serialise(parsed) if parsed is not None else letter.headers[part]
        name = self.headers.get(xml)
        if name is None:
            if part not in self.written:
                name = part  # the first letter's keeps its place
            else:
                self.count += 1
                name = re.sub(r"\.xml$", f"-lm{self.count}.xml", part)
                self._add_part(name, part)
            self.headers[xml] = name
            self.written[name] = xml
        return self._relationship(name)

    def _add_part(self, name: str, like: str) -> None:
        rels = _rels_name(like)
        if rels in self.data:
            self.written[_rels_name(name)] = self.data[rels]
        kind = "header" if "header" in Path(name).name else "footer"
        override = etree.SubElement(self.types, f"{{{CONTENT_TYPES_NS}}}Override")
        override.set("PartName", "/" + name)
        override.set("ContentType", HEADER_TYPES[kind])

    def _relationship(self, name: str) -> str:
        for reference_id, target in self.targets.items():
            if target == name:
                return reference_id
        reference_id = f"rIdLetterMerge{len(self.targets)}"
        relationship = etree.SubElement(
            self.relationships, f"{{{PACKAGE_RELATIONSHIPS}}}Relationship"
        )
        relationship.set("Id", reference_id)
        relationship.set(
            "Type",
            f"{OFFICE_RELATIONSHIPS}/{'header' if 'header' in Path(name).name else 'footer'}",
        )
        relationship.set("Target", name.removeprefix("word/"))
        self.targets[reference_id] = name
        return reference_id

    def parts(self) -> dict[str, bytes]:
        """Every part the letters changed or added, by name."""
        changed = dict(self.written)
        if self.numbering is not None:
            changed[NUMBERING] = serialise(self.numbering.root)
        changed[BODY_RELATIONSHIPS] = serialise(self.relationships)
        changed[CONTENT_TYPES] = serialise(self.types)
        footnotes = self.footnotes.part()
        if footnotes is not None:
            changed[notes.FOOTNOTES] = footnotes
        return changed


def _rels_name(part: str) -> str:
    folder, name = part.rsplit("/", 1)
    return f"{folder}/_rels/{name}.rels"


def _bookmark_first_paragraph(blocks: list[etree._Element], index: int) -> None:
    first = next((p for block in blocks for p in block.iter(w("p"))), None)
    if first is None:
        raise CombineError("a letter has no paragraph")
    start = etree.Element(w("bookmarkStart"))
    start.set(w("id"), str(900_000 + index))
    start.set(w("name"), MARK.format(index))
    end = etree.Element(w("bookmarkEnd"))
    end.set(w("id"), str(900_000 + index))
    position = 1 if first.find(w("pPr")) is not None else 0
    first.insert(position, end)
    first.insert(position, start)


def _last_paragraph(blocks: list[etree._Element], name: str) -> etree._Element:
    for block in reversed(blocks):
        if block.tag == w("p"):
            return block
    raise CombineError(f"{name}: the letter does not end with a paragraph")


def docx_title(docx: Path) -> str:
    """The title in a .docx's document properties, as LibreOffice would put it in its PDF."""
    with zipfile.ZipFile(docx) as package:
        try:
            core = parse(package.read(CORE_PROPERTIES))
        except KeyError:
            return ""
    title = core.find(f"{{{DC}}}title")
    return (title.text or "") if title is not None else ""
