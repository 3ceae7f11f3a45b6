"""What keeps a letter, as one section of a combined document, the letter it is alone.

Anything in Word that counts, numbers or reads across the whole document would otherwise run on
from the letters before it: the page count, list numbers, footnote numbers, caption numbers,
bookmarks and the cross-references to them, the document's properties and file name. Each letter's
copy in the combined document is changed so that LibreOffice lays it out as it lays out the letter
alone, and only that copy: the template and each letter's own .docx keep their live fields.

| in the letter | in its combined copy |
| --- | --- |
| NUMPAGES | PAGEREF to a bookmark at the letter's end (its pages number from 1) |
| a list (w:num, w:abstractNum) | a copy of the list definitions of its own |
| SEQ (caption numbers) | a sequence of its own name |
| bookmarks, REF, PAGEREF, NOTEREF, HYPERLINK \\l | names of its own |
| TITLE, SUBJECT, KEYWORDS, COMMENTS, DOCPROPERTY, a content control bound to them | the letter's own value, as text |
| FILENAME | the letter's own file name, as text |
| headers and footers | parts of their own where they differ from the first letter's |
| footnotes, their numbers and the line above them | marks of their own, and a hidden separator (see notes.py) |

What is not in this table and reads across the document is found by comparing letters converted
together with the same letters converted alone (see verify.py), once per template.
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from letter_merge.template.wordfields import WordField, word_fields
from letter_merge.template.wordxml import DC, parse, w

CP = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
# The data store Word binds Insert › Quick Parts › Document Property content controls to.
CORE_PROPERTIES_STORE = "{6C3C8BC8-F283-45AE-878A-BAB7291924A1}"
END_MARK = "LetterMergeEnd{:05d}"

# Document properties LibreOffice shows live from docProps/core.xml (a field or a bound content
# control), by the name Word's fields use, with the element that holds each.
CORE_PROPERTIES = {
    "TITLE": f"{{{DC}}}title",
    "SUBJECT": f"{{{DC}}}subject",
    "KEYWORDS": f"{{{CP}}}keywords",
    "COMMENTS": f"{{{DC}}}description",
}
CORE_XPATH = re.compile(r"/ns\d:coreProperties\[1\]/ns\d:(\w+)\[1\]")
XPATH_NAMES = {
    "title": "TITLE",
    "subject": "SUBJECT",
    "keywords": "KEYWORDS",
    "description": "COMMENTS",
}
# Fields whose argument is a bookmark's name.
BOOKMARK_FIELDS = {"REF", "PAGEREF", "NOTEREF", "GOTOBUTTON"}


class CannotCombine(Exception):
    """The letters use something that cannot be kept per letter in a combined document."""


# What in a header or footer may need changing for its letter (anything else is left as it is,
# unparsed: a header with only PAGE in it costs nothing).
HEADER_WORK = re.compile(
    rb"bookmarkStart|dataBinding|\b(NUMPAGES|SEQ|FILENAME|TITLE|SUBJECT|KEYWORDS|COMMENTS|"
    rb"DOCPROPERTY|INFO|REF|PAGEREF|NOTEREF|HYPERLINK)\b",
    re.IGNORECASE,
)


@dataclass
class LetterXml:
    """One letter's parts as they go into the combined document: the body parsed, the rest
    parsed when it is needed."""

    index: int
    path: Path  # its own .docx
    body: etree._Element  # word/document.xml
    headers: dict[str, bytes]  # header and footer parts by name, as they are in the letter
    core_xml: bytes | None  # docProps/core.xml

    @functools.cached_property
    def core(self) -> etree._Element | None:
        return parse(self.core_xml) if self.core_xml is not None else None

    @functools.cached_property
    def parsed_headers(self) -> dict[str, etree._Element]:
        """The headers and footers with something in them that may need changing, parsed."""
        return {name: parse(xml) for name, xml in self.headers.items() if HEADER_WORK.search(xml)}


@dataclass
class Numbering:
    """The combined document's numbering.xml, to which each letter adds its own lists."""

    root: etree._Element
    next_id: int = 0
    styles: dict[str, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    abstract: dict[str, etree._Element] = field(default_factory=dict)
    nums: dict[str, etree._Element] = field(default_factory=dict)
    numbered_styles: set[str] = field(default_factory=set)  # paragraph styles with a list

    @classmethod
    def read(cls, root: etree._Element, styles: etree._Element | None) -> Numbering:
        numbering = cls(root)
        for element in root.findall(w("abstractNum")):
            numbering.abstract[element.get(w("abstractNumId"), "")] = element
        for element in root.findall(w("num")):
            numbering.nums[element.get(w("numId"), "")] = element
        ids = [int(i) for i in itertools.chain(numbering.abstract, numbering.nums) if i.isdigit()]
        numbering.next_id = max(ids, default=0) + 1
        if styles is not None:
            numbering.styles = _paragraph_styles(styles)
        numbering.numbered_styles = {
            style for style in numbering.styles if numbering._style_list(style) is not None
        }
        return numbering

    def own_lists(self, letter: LetterXml) -> None:
        """Give the letter copies of the lists it uses, so that they number from their start."""
        copies: dict[str, str] = {}
        for root in (letter.body,):  # lists in headers and footers are left as they are
            for number in root.iter(w("numId")):
                # a paragraph's own list: w:pPr/w:numPr/w:numId ("0" is none)
                holder = number.getparent()
                properties = holder.getparent() if holder is not None else None
                if properties is None or properties.tag != w("pPr"):
                    continue
                if number.get(w("val"), "0") != "0":
                    number.set(w("val"), self._copy(number.get(w("val"), ""), copies))
            for style in root.iter(w("pStyle")):
                properties = style.getparent()
                if (
                    style.get(w("val"), "") in self.numbered_styles
                    and properties is not None
                    and properties.find(w("numPr")) is None
                ):
                    self._own_style_list(properties, style.get(w("val"), ""), copies)

    def _own_style_list(
        self, properties: etree._Element, style: str, copies: dict[str, str]
    ) -> None:
        """A paragraph numbered by its style gets the letter's copy of that list, named as its
        own, at the level the style gives it."""
        linked = self._style_list(style)
        if linked is None or linked[0] == "0":
            return
        num_id, level = linked
        own = etree.Element(w("numPr"))
        etree.SubElement(own, w("ilvl")).set(w("val"), level)
        etree.SubElement(own, w("numId")).set(w("val"), self._copy(num_id, copies))
        _insert_in_order(properties, own, PARAGRAPH_ORDER)

    def _style_list(self, style: str) -> tuple[str, str] | None:
        """The list a paragraph style numbers its paragraphs with (following basedOn), and the
        level: the style's own, else the level of the list linked to the style."""
        seen = set()
        while style and style not in seen:
            seen.add(style)
            based_on, num_id, level = self.styles.get(style, (None, None, None))
            if num_id is not None:
                return num_id, level or self._linked_level(num_id, style) or "0"
            style = based_on or ""
        return None

    def _linked_level(self, num_id: str, style: str) -> str | None:
        num = self.nums.get(num_id)
        abstract_id = _val(num.find(w("abstractNumId"))) if num is not None else None
        abstract = self.abstract.get(abstract_id or "")
        if abstract is None:
            return None
        for level in abstract.findall(w("lvl")):
            if _val(level.find(w("pStyle"))) == style:
                return level.get(w("ilvl"))
        return None

    def _copy(self, num_id: str, copies: dict[str, str]) -> str:
        """The letter's own copy of list `num_id` (made on first use). Lists that share an
        abstractNum in the template (one list, restarted or continued) share its copy."""
        if num_id in copies:
            return copies[num_id]
        num = self.nums.get(num_id)
        if num is None:
            copies[num_id] = num_id
            return num_id
        new_num = copy.deepcopy(num)
        new_num.set(w("numId"), self._new_id())
        reference = new_num.find(w("abstractNumId"))
        abstract_id = _val(reference) or ""
        if reference is not None and abstract_id in self.abstract:
            key = f"abstract {abstract_id}"
            if key not in copies:
                copies[key] = self._copy_abstract(self.abstract[abstract_id])
            reference.set(w("val"), copies[key])
        self.root.append(new_num)
        copies[num_id] = new_num.get(w("numId"), "")
        return copies[num_id]

    def _copy_abstract(self, abstract: etree._Element) -> str:
        new_abstract = copy.deepcopy(abstract)
        new_abstract.set(w("abstractNumId"), self._new_id())
        for unique in (w("nsid"), w("tmpl")):
            # Word and LibreOffice tell lists apart by these: a copy has none of the original's
            found = new_abstract.find(unique)
            if found is not None:
                new_abstract.remove(found)
        first_num = self.root.find(w("num"))  # abstractNums come before every num
        if first_num is not None:
            first_num.addprevious(new_abstract)
        else:
            self.root.append(new_abstract)
        return new_abstract.get(w("abstractNumId"), "")

    def _new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id - 1)


PARAGRAPH_ORDER = (
    "pStyle",
    "keepNext",
    "keepLines",
    "pageBreakBefore",
    "framePr",
    "widowControl",
    "numPr",
)


def _insert_in_order(
    properties: etree._Element, child: etree._Element, order: tuple[str, ...]
) -> None:
    """Insert `child` into w:pPr after the elements the schema puts before it."""
    before = {w(name) for name in order[: order.index(etree.QName(child).localname)]}
    position = 0
    for index, existing in enumerate(properties):
        if existing.tag in before:
            position = index + 1
    properties.insert(position, child)


def _paragraph_styles(
    styles: etree._Element,
) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Paragraph styles: id -> (basedOn, numId, ilvl) of their own numbering."""
    found = {}
    for style in styles.findall(w("style")):
        if style.get(w("type")) != "paragraph":
            continue
        numbering = style.find(f"{w('pPr')}/{w('numPr')}")
        num_id = _val(numbering.find(w("numId"))) if numbering is not None else None
        level = _val(numbering.find(w("ilvl"))) if numbering is not None else None
        found[style.get(w("styleId"), "")] = (_val(style.find(w("basedOn"))), num_id, level)
    return found


def _val(element: etree._Element | None) -> str | None:
    return element.get(w("val")) if element is not None else None


def letter_roots(letter: LetterXml) -> Iterator[etree._Element]:
    yield letter.body
    yield from letter.parsed_headers.values()


@dataclass
class Bookmarks:
    """Bookmark names and ids made unique in the combined document, and every reference to a
    bookmark (REF, PAGEREF, NOTEREF, HYPERLINK \\l, a hyperlink's anchor) made to follow."""

    next_id: int = 1

    def own(self, letter: LetterXml) -> None:
        suffix = f"_LM{letter.index:05d}"
        names: dict[str, str] = {}
        for root in letter_roots(letter):
            ids: dict[str, str] = {}
            for element in root.iter(w("bookmarkStart"), w("bookmarkEnd")):
                if element.tag == w("bookmarkStart"):
                    name = element.get(w("name"), "")
                    names[name] = name + suffix
                    element.set(w("name"), name + suffix)
                old = element.get(w("id"), "")
                if old not in ids:
                    ids[old] = str(self.next_id)
                    self.next_id += 1
                element.set(w("id"), ids[old])
        if not names:
            return
        for root in letter_roots(letter):
            for link in root.iter(w("hyperlink")):
                anchor = link.get(w("anchor"))
                if anchor in names:
                    link.set(w("anchor"), names[anchor])
            for found in word_fields(root):
                _rename_in_field(found, names)


def _rename_in_field(found: WordField, names: dict[str, str]) -> None:
    """Point a field that names a bookmark at the bookmark's new name. (Word matches bookmark
    names ignoring case.)"""
    by_upper = {name.upper(): name for name in names}
    instruction = found.read
    target: str | None = None
    if instruction.name in BOOKMARK_FIELDS and instruction.arguments:
        target = instruction.arguments[0]
    elif instruction.name == "HYPERLINK":
        target = instruction.switch("\\l")
    elif instruction.name in by_upper:
        target = instruction.name  # { name }: a field of a bookmark's name is a REF of it
    original = by_upper.get(target.upper()) if target else None
    if target and original is not None:
        found.set_instruction(
            re.sub(
                rf"(?<![\w]){re.escape(target)}(?![\w])",
                names[original],
                found.instruction,
                count=1,
                flags=re.IGNORECASE,
            )
        )


def own_fields(letter: LetterXml, first: LetterXml) -> bool:
    """Rewrite the fields that read across the document; True if the letter now refers to its
    end mark (for its page count)."""
    end = END_MARK.format(letter.index)
    refers_to_end = False
    for root in letter_roots(letter):
        for found in word_fields(root):
            name = found.name
            if name == "NUMPAGES":
                rest = re.sub(r"^\s*NUMPAGES", "", found.instruction, flags=re.I)
                if found.set_instruction(f" PAGEREF {end}{rest}"):
                    refers_to_end = True
            elif name == "SEQ":
                identifier = found.read.arguments[0] if found.read.arguments else ""
                if identifier:
                    found.set_instruction(
                        re.sub(
                            rf"(?<![\w]){re.escape(identifier)}(?![\w])",
                            f"{identifier}_LM{letter.index:05d}",
                            found.instruction,
                            count=1,
                        )
                    )
            elif name == "FILENAME":
                path = letter.path.resolve()
                found.replace_with_text(
                    str(path) if found.read.switch("\\p") is not None else path.name
                )
            else:
                prop = _property_of(found)
                if prop is not None:
                    own, shared = _core(letter, prop), _core(first, prop)
                    if own != shared:
                        found.replace_with_text(own)
        for control in _bound_controls(root):
            prop = XPATH_NAMES.get(_bound_name(control) or "")
            if prop is not None and _core(letter, prop) != _core(first, prop):
                _freeze_control(control, _core(letter, prop))
    return refers_to_end


def _property_of(found: WordField) -> str | None:
    instruction = found.read
    if instruction.name in CORE_PROPERTIES:
        return instruction.name
    if instruction.name in ("DOCPROPERTY", "INFO") and instruction.arguments:
        name = instruction.arguments[0].upper()
        return name if name in CORE_PROPERTIES else None
    return None


def _core(letter: LetterXml, prop: str) -> str:
    if letter.core is None:
        return ""
    element = letter.core.find(CORE_PROPERTIES[prop])
    return (element.text or "") if element is not None else ""


def _bound_controls(root: etree._Element) -> list[etree._Element]:
    return [
        control
        for control in root.iter(w("sdt"))
        if (binding := control.find(f"{w('sdtPr')}/{w('dataBinding')}")) is not None
        and binding.get(w("storeItemID"), "").upper() == CORE_PROPERTIES_STORE
    ]


def _bound_name(control: etree._Element) -> str | None:
    binding = control.find(f"{w('sdtPr')}/{w('dataBinding')}")
    match = CORE_XPATH.fullmatch(binding.get(w("xpath"), "")) if binding is not None else None
    return match.group(1) if match else None


def _freeze_control(control: etree._Element, text: str) -> None:
    """The bound content control shows `text` and no longer reads the document's properties."""
    properties = control.find(w("sdtPr"))
    if properties is not None:
        binding = properties.find(w("dataBinding"))
        if binding is not None:
            properties.remove(binding)
        placeholder = properties.find(w("showingPlcHdr"))
        if placeholder is not None:
            properties.remove(placeholder)
    content = control.find(w("sdtContent"))
    if content is None:
        return
    texts = list(content.iter(w("t")))
    if not texts:
        run = etree.SubElement(content, w("r"))
        texts = [etree.SubElement(run, w("t"))]
    texts[0].text = text
    texts[0].set(XML_SPACE, "preserve")
    for extra in texts[1:]:
        extra.text = ""


def mark_end(letter: LetterXml) -> None:
    """A bookmark at the very end of the letter's last paragraph: its page is the letter's last."""
    body = letter.body.find(w("body"))
    paragraphs = [p for p in body.iter(w("p"))] if body is not None else []
    if not paragraphs:
        raise CannotCombine("a letter has no paragraph")
    last = paragraphs[-1]
    start = etree.SubElement(last, w("bookmarkStart"))
    start.set(w("id"), str(800_000 + letter.index))
    start.set(w("name"), END_MARK.format(letter.index))
    end = etree.SubElement(last, w("bookmarkEnd"))
    end.set(w("id"), str(800_000 + letter.index))


def page_count_problem(body: etree._Element) -> str | None:
    """Why NUMPAGES cannot become the page number of the letter's last page: the two are the
    same only while the letter's pages are numbered 1, 2, 3... from its first page."""
    for number, section in enumerate(body.iter(w("sectPr"))):
        page_numbers = section.find(w("pgNumType"))
        if page_numbers is None:
            continue
        start = page_numbers.get(w("start"))
        if (number == 0 and start not in (None, "1")) or (number > 0 and start is not None):
            return (
                "the template shows the page count (NUMPAGES) and its page numbers do not "
                "simply run from 1"
            )
        if page_numbers.get(w("fmt"), "decimal") != "decimal":
            return (
                "the template shows the page count (NUMPAGES) and numbers its pages other than "
                "1, 2, 3"
            )
    return None


def first_section(letter: LetterXml) -> etree._Element:
    sections = list(letter.body.iter(w("sectPr")))
    if not sections:
        raise CannotCombine("a letter has no page settings")
    return sections[0]


def start_on_new_page(section: etree._Element) -> None:
    """The letter's first section starts on a new page with its pages (and lines) numbered from
    1, as a document's first section does."""
    kind = section.find(w("type"))
    if kind is not None:
        section.remove(kind)
    numbering = section.find(w("pgNumType"))
    if numbering is None:
        numbering = etree.Element(w("pgNumType"))
        _insert_section_child(section, numbering)
    if numbering.get(w("start")) is None:
        numbering.set(w("start"), "1")
    # Line numbers counted on through the document (Layout › Line Numbers › Continuous) start
    # again with each letter, as they do in the letter alone.
    lines = section.find(w("lnNumType"))
    if lines is not None and lines.get(w("restart")) == "continuous":
        lines.set(w("restart"), "newSection")


SECTION_ORDER = (
    "headerReference",
    "footerReference",
    "footnotePr",
    "endnotePr",
    "type",
    "pgSz",
    "pgMar",
    "paperSrc",
    "pgBorders",
    "lnNumType",
    "pgNumType",
)


def _insert_section_child(section: etree._Element, child: etree._Element) -> None:
    name = etree.QName(child).localname
    before = {w(n) for n in SECTION_ORDER[: SECTION_ORDER.index(name)]}
    position = 0
    for index, existing in enumerate(section):
        if existing.tag in before:
            position = index + 1
    section.insert(position, child)


def header_references(body: etree._Element) -> Iterable[etree._Element]:
    return body.iter(w("headerReference"), w("footerReference"))
