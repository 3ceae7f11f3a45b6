"""Reading Word packages (.docx): the names of their parts, a safe XML parser, the template tags,
and where a paragraph is, said the way a person finds it in Word.

Rendering, the template doctor and combining letters all read Word XML through this module, so
that they agree on which parts hold text and number the same paragraph the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from letter_merge.errors import InputError

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
DC = "http://purl.org/dc/elements/1.1/"

BODY_PART = "word/document.xml"
BODY_RELATIONSHIPS = "word/_rels/document.xml.rels"
CONTENT_TYPES = "[Content_Types].xml"
PACKAGE_RELS = "_rels/.rels"
CORE_PROPERTIES = "docProps/core.xml"
APP_PROPERTIES = "docProps/app.xml"
# Parts whose paragraphs a reader sees: body, headers, footers, footnotes, endnotes.
TEXT_PART = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml")

# A template tag: {{ field }}, {% statement %} or {# comment #}.
TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
OPENERS = (("{{", "}}"), ("{%", "%}"), ("{#", "#}"))

# Never resolve entities or fetch anything: a template is a file from outside.
XML_PARTS = (".xml", ".rels")
_WELL_FORMED: list[bytes] = []  # the last packages found well-formed, by digest
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def w(tag: str) -> str:
    """A WordprocessingML element's qualified name: w('p') is '{...main}p'."""
    return f"{{{W}}}{tag}"


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, PARSER)


def check_parts(path: Path, parts: Mapping[str, bytes]) -> None:
    """Refuse a package whose body is missing or any of whose XML parts is not well-formed,
    naming the part: Word itself would not open it (it offers to recover what it can), and no
    reader here should meet it half-way through a letter."""
    main = _main_part(parts)
    if BODY_PART not in parts and main in parts:
        raise InputError(
            f"{path}: keeps its text in {main}, not in {BODY_PART}, as Word for the web saves "
            "it; letter-merge reads a document as the desktop Word saves it: open it in Word "
            "(Editing > Open in Desktop App) or LibreOffice Writer and save it again as .docx."
        )
    for required in (BODY_PART, CONTENT_TYPES):
        if required not in parts:
            raise InputError(
                f"{path}: has no {required} part, so it is not a Word document (.docx); save "
                "it from Word or LibreOffice Writer as a Word document."
            )
    digest = hashlib.sha256()
    for name, data in parts.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    if digest.digest() in _WELL_FORMED:
        return  # the doctor and the template read the same package: checked once
    for name, data in parts.items():
        if name.endswith(XML_PARTS):
            try:
                parse(data)
            except etree.XMLSyntaxError as error:
                raise InputError(
                    f"{path}: its part {name} is damaged ({error.msg}); open the document in "
                    "Word, which offers to recover what it can, and save it again as .docx."
                ) from None
    _WELL_FORMED.append(digest.digest())
    del _WELL_FORMED[:-8]


def _main_part(parts: Mapping[str, bytes]) -> str:
    """The part the package's relationships name as its document ('' if they cannot be read)."""
    try:
        root = parse(parts.get(PACKAGE_RELS, b""))
    except etree.XMLSyntaxError:
        return ""
    for relationship in root:
        if str(relationship.get("Type", "")).endswith("/officeDocument"):
            return str(relationship.get("Target", "")).lstrip("/")
    return ""


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def is_text_part(name: str) -> bool:
    return TEXT_PART.fullmatch(name) is not None


def is_templated_part(name: str) -> bool:
    """Parts a field may appear in: those with text, and the document properties (the title)."""
    return is_text_part(name) or name == CORE_PROPERTIES


def has_tags(data: bytes) -> bool:
    return b"{{" in data or b"{%" in data or b"{#" in data


def part_label(name: str) -> str:
    """'word/header2.xml' -> 'header'; 'docProps/core.xml' -> 'document properties'."""
    if name == CORE_PROPERTIES:
        return "document properties"
    return Path(name).stem.rstrip("0123456789")


@dataclass
class LocatedParagraph:
    """A paragraph of a part and where it is: 'paragraph 12', 'table 1 row 2 cell 3', 'header',
    'footer', 'a text box'."""

    where: str
    element: etree._Element
    texts: list[etree._Element]  # its own w:t elements, in order (not those of a text box in it)

    @property
    def text(self) -> str:
        return "".join(t.text or "" for t in self.texts)

    def place(self, template_name: str) -> str:
        """How a message names it: "letter.docx, paragraph 12 'Dear {{ salutation }}'"."""
        return f"{template_name}, {self.where} {quote(self.text)}"


def paragraphs(part_name: str, root: etree._Element) -> Iterator[LocatedParagraph]:
    """Every paragraph of a part in document order, located as Word shows it. Body paragraphs
    outside tables and text boxes are numbered from 1, empty ones included. Content controls
    (w:sdt) may wrap paragraphs, tables, rows, cells and runs: a table's rows and a row's cells
    are counted through them, and a paragraph in a titled or tagged control says which."""
    kind = part_label(part_name)
    number = 0
    tables: dict[etree._Element, int] = {}
    for element in root.iter(w("p")):
        texts = [t for t in element.iter(w("t")) if _owner(t) is element]
        in_box = next(element.iterancestors(w("txbxContent")), None) is not None
        cell = next(element.iterancestors(w("tc")), None)
        if kind != "document":
            where = kind
        elif in_box:
            where = "a text box"
        elif cell is not None:
            row = next(cell.iterancestors(w("tr")), None)
            table = next(row.iterancestors(w("tbl")), None) if row is not None else None
            if row is None or table is None:
                continue
            tables.setdefault(table, len(tables) + 1)
            where = (
                f"table {tables[table]} row {_own(table, 'tr', 'tbl').index(row) + 1} "
                f"cell {_own(row, 'tc', 'tr').index(cell) + 1}"
            )
        else:
            number += 1
            where = f"paragraph {number}"
        control = content_control_name(element)
        if control:
            where += f" (content control {control!r})"
        yield LocatedParagraph(where, element, texts)


def _own(container: etree._Element, tag: str, container_tag: str) -> list[etree._Element]:
    """A table's own rows or a row's own cells, in order, through any content controls around
    them, but not those of a table nested in a cell."""
    return [
        element
        for element in container.iter(w(tag))
        if next(element.iterancestors(w(container_tag)), None) is container
    ]


def content_control_name(element: etree._Element) -> str:
    """The title (w:alias) or else the tag (w:tag) of the innermost named content control
    around an element (or in a paragraph, around its runs), '' when there is none."""
    controls = [*element.iterancestors(w("sdt"))]
    if element.tag == w("p"):
        controls = [*element.iter(w("sdt")), *controls]
    for control in controls:
        properties = control.find(w("sdtPr"))
        if properties is None:
            continue
        for name in ("alias", "tag"):
            named = properties.find(w(name))
            value = named.get(w("val")) if named is not None else None
            if value and value.strip():
                return " ".join(value.split())
    return ""


def _owner(text: etree._Element) -> etree._Element | None:
    """The paragraph a w:t belongs to: the nearest, so a text box's text is its own."""
    return next(text.iterancestors(w("p")), None)


def find_paragraph(
    parts: dict[str, etree._Element], wanted: str, *, in_tag: bool = True
) -> LocatedParagraph | None:
    """The first paragraph (body first, then headers, footers, ...) whose text contains `wanted`,
    inside a tag when `in_tag` (as a whole word), or anywhere in it, ignoring spacing."""
    if in_tag:
        word = re.compile(rf"(?<!\w){re.escape(wanted)}(?!\w)")
    target = _plain(wanted)
    for name in sorted(parts, key=lambda n: n != BODY_PART):
        for paragraph in paragraphs(name, parts[name]):
            text = paragraph.text
            if in_tag:
                if any(word.search(tag) for tag in TAG.findall(text)):
                    return paragraph
            elif target and target in _plain(text):
                return paragraph
    return None


def _plain(text: str) -> str:
    """Text as compared with a template's source: spacing folded, and docxtpl's paragraph, row,
    cell and run tags ({%p if %}) written as the plain Jinja they become ({% if %})."""
    return re.sub(r"\{%-?\s*(?:p|tr|tc|r)\s", "{% ", " ".join(text.split()))


def quote(text: str) -> str:
    """A paragraph's text for a message: spacing folded, at most 70 characters."""
    text = " ".join(text.split())
    return f"'{text if len(text) <= 70 else text[:67] + '...'}'"


def short(tag: str) -> str:
    """A tag for a message: spacing folded, at most 60 characters."""
    tag = " ".join(tag.split())
    return tag if len(tag) <= 60 else tag[:57] + "..."
