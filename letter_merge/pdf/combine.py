"""Many letters as the sections of one document, for LibreOffice to convert in one go.

Starting LibreOffice and opening a document cost far more than laying out a page, so letters made
from the same template are converted together: each letter becomes a section that starts on a new
page with its page numbers restarting at 1, and a bookmark at its first paragraph. LibreOffice
exports the bookmarks as PDF named destinations, which say exactly where each letter starts;
split.py cuts the PDF there.
"""

from __future__ import annotations

import copy
import hashlib
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from lxml import etree

from letter_merge.chart import picture as chart
from letter_merge.template.wordxml import (
    APP_PROPERTIES,
    BODY_PART,
    BODY_RELATIONSHIPS,
    CORE_PROPERTIES,
    DC,
    PACKAGE_RELATIONSHIPS,
    R,
    W,
    parse,
    serialise,
    w,
)

# Parts that may differ between letters that are still combinable: the body, the properties and
# the chart's picture.
PER_LETTER_PARTS = {BODY_PART, CORE_PROPERTIES, APP_PROPERTIES, chart.PART_NAME}
MARK = "LetterMerge{:05d}"


class CombineError(Exception):
    """The letters cannot be combined, or the combined PDF cannot be split back into them."""


def shared_signature(docx: Path) -> str:
    """A hash of everything in the package but the body and properties: letters with the same
    signature share styles, headers, footers and media, and so can be sections of one document."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(docx) as package:
        for info in sorted(package.infolist(), key=lambda i: i.filename):
            if info.filename not in PER_LETTER_PARTS:
                digest.update(info.filename.encode())
                digest.update(info.CRC.to_bytes(4, "big"))
                digest.update(info.file_size.to_bytes(8, "big"))
    return digest.hexdigest()


def combine_letters(letters: Sequence[Path]) -> bytes:
    """One .docx holding every letter as a section, in order, bookmarked `MARK.format(index)`."""
    if not letters:
        raise CombineError("no letters to combine")
    with zipfile.ZipFile(letters[0]) as package:
        entries = [(info, package.read(info)) for info in package.infolist()]
    root = parse(dict((i.filename, d) for i, d in entries)[BODY_PART])
    body = root.find(w("body"))
    if body is None:
        raise CombineError(f"{letters[0].name}: no document body")
    for child in list(body):
        body.remove(child)
    pictures: dict[int, bytes] = {}  # each letter's chart, by the letter's index
    for index, letter in enumerate(letters):
        with zipfile.ZipFile(letter) as package:
            letter_root = parse(package.read(BODY_PART))
            if chart.PART_NAME in package.namelist():
                pictures[index] = package.read(chart.PART_NAME)
                _point_at_own_chart(letter_root, index)
        letter_body = letter_root.find(w("body"))
        blocks = list(letter_body) if letter_body is not None else []
        if not blocks or blocks[-1].tag != w("sectPr"):
            raise CombineError(f"{letter.name}: the document does not end with its page settings")
        section = copy.deepcopy(blocks.pop())
        numbering = section.find(w("pgNumType"))
        if numbering is None:
            numbering = etree.SubElement(section, w("pgNumType"))
        numbering.set(w("start"), "1")  # each letter numbers its own pages
        _bookmark_first_paragraph(blocks, index)
        if index < len(letters) - 1:
            # A section ends with the paragraph whose properties hold its page settings.
            last = _last_paragraph(blocks, letter.name)
            properties = last.find(w("pPr"))
            if properties is None:
                properties = etree.Element(w("pPr"))
                last.insert(0, properties)
            properties.append(section)
            body.extend(blocks)
        else:
            body.extend(blocks)
            body.append(section)
    document = serialise(root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        for info, data in entries:
            if info.filename == chart.PART_NAME:
                continue  # the first letter's chart: every letter's is added below
            if info.filename == BODY_PART:
                data = document
            elif info.filename == BODY_RELATIONSHIPS and pictures:
                data = _with_charts(data, pictures)
            package.writestr(info, data)
        for index, data in pictures.items():
            package.writestr(_chart_name(index), data, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def _chart_name(index: int) -> str:
    return chart.PART_NAME.replace(".png", f"-{index}.png")


def _point_at_own_chart(letter_root: etree._Element, index: int) -> None:
    """Make a letter's picture refer to its own chart. (Drawing ids may repeat across letters:
    the combined document is only ever read by LibreOffice, which does not mind.)"""
    for blip in letter_root.iterfind(f".//{{{W}}}drawing//*[@{{{R}}}embed]"):
        if blip.get(f"{{{R}}}embed") == chart.RELATIONSHIP_ID:
            blip.set(f"{{{R}}}embed", f"{chart.RELATIONSHIP_ID}{index}")


def _with_charts(relationships_xml: bytes, letters: Iterable[int]) -> bytes:
    """The body's relationships with one chart relationship per letter instead of one in all."""
    root = parse(relationships_xml)
    for relationship in root.findall(f"{{{PACKAGE_RELATIONSHIPS}}}Relationship"):
        if relationship.get("Id") == chart.RELATIONSHIP_ID:
            root.remove(relationship)
    for index in letters:
        relationship = etree.SubElement(root, f"{{{PACKAGE_RELATIONSHIPS}}}Relationship")
        relationship.set("Id", f"{chart.RELATIONSHIP_ID}{index}")
        relationship.set("Type", chart.RELATIONSHIP_TYPE)
        relationship.set("Target", _chart_name(index).removeprefix("word/"))
    return serialise(root)


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
