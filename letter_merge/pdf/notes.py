"""Footnotes in a combined document: each letter's own, numbered from its first, under the line.

LibreOffice 7.4 numbers footnotes over the whole document (a section's "restart each section"
makes every number 0), and draws the line above them only in a section in which it has read
the separator that footnotes.xml holds, which it reads once a document, with the first footnote.
So in each letter's copy after the first:

- its footnotes are put in the combined footnotes.xml under new ids, and each reference gives
  its own number as a mark of its own (w:customMarkFollows), in the letter's number format
  (1, 2, 3 or i, ii, iii and so on, from its start), one character a run, as LibreOffice takes
  such a mark character by character;
- a hidden separator (w:separator, which LibreOffice takes as "this section has the line"
  and lays out as nothing) goes before each of its footnote references.

Endnotes cannot be done so: LibreOffice 7.4 puts every section's endnotes after the document's
last letter, and letters with endnotes are converted one at a time. Nor footnotes under line
numbers: LibreOffice numbers the footnotes' lines over the whole document.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from letter_merge.pdf.isolate import CannotCombine, LetterXml
from letter_merge.template.switches import alphabetic, roman_numeral
from letter_merge.template.wordxml import parse, serialise, w

FOOTNOTES = "word/footnotes.xml"
SETTINGS = "word/settings.xml"
ON = ("1", "true", "on")
CHICAGO = "*†‡§"


def _chicago(number: int) -> str:
    return CHICAGO[(number - 1) % 4] * ((number - 1) // 4 + 1)


FORMATS: dict[str, Callable[[int], str]] = {
    "decimal": str,
    "lowerRoman": lambda n: roman_numeral(n).lower(),
    "upperRoman": roman_numeral,
    "lowerLetter": lambda n: alphabetic(n).lower(),
    "upperLetter": alphabetic,
    "chicago": _chicago,
}


@dataclass(frozen=True)
class Numbering:
    """How a letter numbers its footnotes: the format and the first number."""

    format: str = "decimal"
    start: int = 1
    restart: str = "continuous"

    @classmethod
    def read(cls, settings: etree._Element | None, body: etree._Element) -> Numbering:
        """The document's footnote numbering (settings.xml), as the letter's first section
        sets it otherwise."""
        numbering = cls()
        places = [settings.find(w("footnotePr")) if settings is not None else None]
        section = next(body.iter(w("sectPr")), None)
        places.append(section.find(w("footnotePr")) if section is not None else None)
        for place in places:
            if place is None:
                continue
            found = {
                name: element.get(w("val"), "")
                for name in ("numFmt", "numStart", "numRestart")
                if (element := place.find(w(name))) is not None
            }
            try:
                start = int(found.get("numStart", numbering.start))
            except ValueError:
                start = -1
            numbering = cls(
                found.get("numFmt", numbering.format),
                start,
                found.get("numRestart", numbering.restart),
            )
        return numbering

    def problem(self) -> str | None:
        """Why a letter's footnote numbers cannot be given as marks of its own, or None."""
        if self.restart != "continuous":
            return "the template numbers its footnotes again on each page or section"
        if self.format not in FORMATS:
            return f"the template numbers its footnotes as {self.format}"
        if self.start < 1:
            return "the template's footnotes start from a number below 1"
        return None

    def label(self, count: int) -> str:
        """The mark of a letter's `count`th numbered footnote."""
        return FORMATS[self.format](self.start + count - 1)


class Footnotes:
    """The combined document's footnotes.xml: the first letter's separators, and every letter's
    footnotes under ids of their own."""

    def __init__(self, data: dict[str, bytes]) -> None:
        self.root = parse(data[FOOTNOTES]) if FOOTNOTES in data else None
        self.settings = parse(data[SETTINGS]) if SETTINGS in data else None
        self.next_id = 1
        if self.root is not None:
            for note in self.root.findall(w("footnote")):
                if note.get(w("type"), "normal") == "normal":
                    self.root.remove(note)
                else:
                    self.next_id = max(self.next_id, _number(note.get(w("id"))) + 1)

    def add(self, letter: LetterXml, notes_xml: bytes | None) -> None:
        """Put the letter's footnotes in, numbered as they are in the letter alone."""
        references = list(letter.body.iter(w("footnoteReference")))
        if not references:
            return
        if self.root is None or notes_xml is None:
            raise CannotCombine("a letter refers to footnotes that are not in its package")
        own = {
            note.get(w("id")): note
            for note in parse(notes_xml).findall(w("footnote"))
            if note.get(w("type"), "normal") == "normal"
        }
        if any(
            section.find(w("lnNumType")) is not None for section in letter.body.iter(w("sectPr"))
        ):
            raise CannotCombine(
                "the template numbers its lines and has footnotes, whose lines LibreOffice "
                "numbers over the whole document"
            )
        numbering = Numbering.read(self.settings, letter.body)
        problem = numbering.problem()
        if problem:
            raise CannotCombine(problem)
        count = 0
        for reference in references:
            note = own.get(reference.get(w("id")))
            if note is None:
                raise CannotCombine("a letter refers to a footnote it does not have")
            copied = copy.deepcopy(note)
            copied.set(w("id"), str(self.next_id))
            reference.set(w("id"), str(self.next_id))
            self.next_id += 1
            self.root.append(copied)
            if reference.get(w("customMarkFollows")) in ON:
                continue  # a mark of its own already (*), which takes no number
            count += 1
            if letter.index > 0:
                _own_mark(reference, numbering.label(count))

    def part(self) -> bytes | None:
        return serialise(self.root) if self.root is not None else None


def _own_mark(reference: etree._Element, label: str) -> None:
    """The reference shows `label` as its mark, and its section has the line above footnotes."""
    run = reference.getparent()
    if run is None or run.tag != w("r"):
        raise CannotCombine("a footnote reference outside a run")
    properties = run.find(w("rPr"))
    if properties is None or properties.find(w("rStyle")) is None:
        # LibreOffice would take the characters after it as part of the mark
        raise CannotCombine("a footnote reference without a character style")
    if any(child.tag != w("rPr") for child in run if child is not reference):
        raise CannotCombine("a footnote reference shares its run with text")
    reference.set(w("customMarkFollows"), "1")
    first, rest = label[0], label[1:]
    etree.SubElement(run, w("t")).text = first
    after = run
    for character in rest:
        more = etree.Element(w("r"))
        more.append(copy.deepcopy(properties))
        etree.SubElement(more, w("t")).text = character
        after.addnext(more)
        after = more
    separator = etree.Element(w("r"))
    etree.SubElement(etree.SubElement(separator, w("rPr")), w("vanish"))
    etree.SubElement(separator, w("separator"))
    run.addprevious(separator)


def _number(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        return 0
