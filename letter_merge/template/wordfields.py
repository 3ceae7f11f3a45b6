"""Word's fields as they are stored: `w:fldSimple`, and complex fields made of `w:fldChar` begin,
separate and end with the instruction in `w:instrText` runs between (often split over several
runs, and with fields nested inside). ECMA-376 Part 1, §17.16.

A field is found with its instruction, read into a name, arguments and switches, and can be given
a new instruction or replaced by plain text in the formatting of its result.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from letter_merge.template.wordxml import w

# An instruction's words: a quoted argument ("a \"b\""), a switch (\* or \@ and the like), or a
# plain word.
INSTRUCTION_WORD = re.compile(r'"((?:[^"\\]|\\.)*)"|(\\[^\s"]+)|([^\s"]+)')


@dataclass(frozen=True)
class Instruction:
    """A field's instruction read into its parts: `PAGEREF _Ref12 \\h` -> name 'PAGEREF',
    arguments ['_Ref12'], switches [('\\h', None)]."""

    name: str  # upper case, e.g. 'NUMPAGES'; '' for an empty instruction
    arguments: tuple[str, ...]
    switches: tuple[tuple[str, str | None], ...]  # ('\\*', 'MERGEFORMAT'), ('\\h', None)

    def switch(self, name: str) -> str | None:
        """The argument of the first switch `name` ('\\@'), '' when it has none, None if absent."""
        for switch, value in self.switches:
            if switch.lower() == name.lower():
                return value or ""
        return None


# Switches that take an argument: general format, date and numeric pictures, and the few
# field-specific ones that do.
SWITCHES_WITH_ARGUMENT = {"\\*", "\\@", "\\#", "\\b", "\\f", "\\l", "\\r", "\\o", "\\t", "\\s"}


def read_instruction(text: str) -> Instruction:
    words: list[tuple[str, bool]] = []  # (word, is a switch)
    for match in INSTRUCTION_WORD.finditer(text):
        quoted, switch, plain = match.groups()
        if switch is not None:
            words.append((switch, True))
        elif quoted is not None:
            words.append((re.sub(r"\\(.)", r"\1", quoted), False))
        else:
            words.append((plain, False))
    if not words:
        return Instruction("", (), ())
    name = words[0][0].upper()
    arguments: list[str] = []
    switches: list[tuple[str, str | None]] = []
    position = 1
    while position < len(words):
        word, is_switch = words[position]
        if is_switch:
            takes = word.lower() in SWITCHES_WITH_ARGUMENT or word.lower() == "\\c"
            following = words[position + 1] if position + 1 < len(words) else None
            if takes and following is not None and not following[1]:
                switches.append((word, following[0]))
                position += 2
                continue
            switches.append((word, None))
        elif switches:
            arguments.append(word)  # a word after a switch without argument
        else:
            arguments.append(word)
        position += 1
    return Instruction(name, tuple(arguments), tuple(switches))


@dataclass(eq=False)
class WordField:
    """One field of a part. Simple: `element` is the w:fldSimple. Complex: `begin`, `separate`
    (None when it has no result) and `end` are its w:fldChar elements."""

    instruction: str
    element: etree._Element | None = None
    begin: etree._Element | None = None
    separate: etree._Element | None = None
    end: etree._Element | None = None
    parent: WordField | None = None
    in_instruction: bool = False  # nested in its parent's instruction, not its result
    nested: list[WordField] = field(default_factory=list)
    _instruction_texts: list[etree._Element] = field(default_factory=list)

    @property
    def simple(self) -> bool:
        return self.element is not None

    @property
    def read(self) -> Instruction:
        return read_instruction(self.instruction)

    @property
    def name(self) -> str:
        return self.read.name

    def paragraph(self) -> etree._Element | None:
        """The paragraph the field lies in; None when it runs over several."""
        if self.element is not None:
            return _paragraph_of(self.element)
        assert self.begin is not None
        first = _paragraph_of(self.begin)
        last = _paragraph_of(self.end) if self.end is not None else None
        return first if first is not None and first is last else None

    def set_instruction(self, text: str) -> bool:
        """Give the field a new instruction; False when it cannot be (fields nested in it)."""
        if any(child.in_instruction for child in self.nested):
            return False
        if self.element is not None:
            self.element.set(w("instr"), text)
        else:
            if not self._instruction_texts:
                return False
            self._instruction_texts[0].text = text
            _preserve_space(self._instruction_texts[0])
            for extra in self._instruction_texts[1:]:
                extra.text = ""
        self.instruction = text
        return True

    def result_runs(self) -> list[etree._Element]:
        """The runs of the field's result, in order (nested fields' runs included)."""
        if self.element is not None:
            return list(self.element.iter(w("r")))
        paragraph = self.paragraph()
        if paragraph is None or self.separate is None or self.end is None:
            return []
        runs = list(paragraph.iter(w("r")))
        start = runs.index(_run_of(self.separate))
        stop = runs.index(_run_of(self.end))
        return runs[start + 1 : stop]

    def replace_with_text(self, text: str) -> bool:
        """Put plain `text` where the field is, in the formatting of its result (or, without
        one, of the field's first run); False when the field runs over several paragraphs."""
        formatting = _formatting(
            self.result_runs(), self.begin if self.begin is not None else self.element
        )
        run = etree.Element(w("r"))
        if formatting is not None:
            run.append(copy.deepcopy(formatting))
        text_element = etree.SubElement(run, w("t"))
        text_element.text = text
        _preserve_space(text_element)
        return self.replace_with_runs([run])

    def replace_with_runs(self, runs: list[etree._Element]) -> bool:
        """Put `runs` where the field is (all of it: begin to end); False when the field runs
        over several paragraphs."""
        paragraph = self.paragraph()
        if paragraph is None:
            return False
        if self.element is not None:
            _replace_with(self.element, runs)
            return True
        assert self.begin is not None and self.end is not None
        all_runs = list(paragraph.iter(w("r")))
        first, last = all_runs.index(_run_of(self.begin)), all_runs.index(_run_of(self.end))
        _replace_with(all_runs[first], runs)
        emptied = set()
        for old in all_runs[first + 1 : last + 1]:
            parent = old.getparent()
            if parent is not None:
                parent.remove(old)
                if parent.tag == w("fldSimple"):
                    emptied.add(parent)
        for simple in emptied:  # a simple field nested in the one replaced
            holder = simple.getparent()
            if holder is not None and simple.find(w("r")) is None:
                holder.remove(simple)
        return True

    def replace_with_instruction_text(self, text: str) -> bool:
        """A field nested in another's instruction, replaced by `text` as part of that
        instruction (what Word does when it works out the outer field)."""
        run = etree.Element(w("r"))
        instruction = etree.SubElement(run, w("instrText"))
        instruction.text = text
        _preserve_space(instruction)
        return self.replace_with_runs([run])


def word_fields(root: etree._Element) -> list[WordField]:
    """Every field in a part, outer fields before those nested in them, in document order.

    Runs that hold a field character beside other content are first split, each field character
    and instruction into a run of its own with the same formatting (which changes nothing a
    reader sees), so that a field's runs can be told from the text around it."""
    split_field_runs(root)
    found: list[WordField] = []
    open_fields: list[WordField] = []
    simple_parents: dict[etree._Element, WordField] = {}
    for element in root.iter(w("fldChar"), w("instrText"), w("fldSimple")):
        if element.tag == w("fldSimple"):
            outer = _simple_parent(element, simple_parents) or (
                open_fields[-1] if open_fields else None
            )
            made = WordField(element.get(w("instr"), ""), element=element, parent=outer)
            if outer is not None:
                made.in_instruction = outer is (open_fields[-1] if open_fields else None) and (
                    outer.separate is None
                )
                outer.nested.append(made)
            simple_parents[element] = made
            found.append(made)
            continue
        if element.tag == w("instrText"):
            if next(element.iterancestors(w("fldSimple")), None) is not None:
                continue  # the result of a simple field (nested in an instruction, Word writes it so)
            if open_fields and open_fields[-1].separate is None:
                current = open_fields[-1]
                current.instruction += element.text or ""
                current._instruction_texts.append(element)
            continue
        kind = element.get(w("fldCharType"))
        if kind == "begin":
            outer = open_fields[-1] if open_fields else None
            made = WordField("", begin=element, parent=outer)
            if outer is not None:
                made.in_instruction = outer.separate is None
                outer.nested.append(made)
            open_fields.append(made)
            found.append(made)
        elif kind == "separate" and open_fields:
            open_fields[-1].separate = element
        elif kind == "end" and open_fields:
            open_fields.pop().end = element
    # A field never ended (a damaged template) is left out: nothing can be done with it safely.
    return [f for f in found if f.simple or f.end is not None]


FIELD_PARTS = (w("fldChar"), w("instrText"))


def split_field_runs(root: etree._Element) -> None:
    runs = {
        run: None
        for part in root.iter(*FIELD_PARTS)
        if (run := part.getparent()) is not None and run.tag == w("r")
    }
    for run in runs:
        content = [child for child in run if child.tag != w("rPr")]
        if len(content) < 2:
            continue
        groups: list[list[etree._Element]] = []
        for child in content:
            if child.tag in FIELD_PARTS or not groups or groups[-1][-1].tag in FIELD_PARTS:
                groups.append([child])
            else:
                groups[-1].append(child)
        properties = run.find(w("rPr"))
        parent = run.getparent()
        if parent is None or len(groups) < 2:
            continue
        at = parent.index(run)
        for offset, group in enumerate(groups):
            piece = etree.Element(w("r"), {str(k): str(v) for k, v in run.attrib.items()})
            if properties is not None:
                piece.append(copy.deepcopy(properties))
            piece.extend(group)
            parent.insert(at + 1 + offset, piece)
        parent.remove(run)


def _simple_parent(
    element: etree._Element, simple: dict[etree._Element, WordField]
) -> WordField | None:
    for ancestor in element.iterancestors(w("fldSimple")):
        return simple.get(ancestor)
    return None


def _paragraph_of(element: etree._Element) -> etree._Element | None:
    return next(element.iterancestors(w("p")), None)


def _run_of(element: etree._Element) -> etree._Element:
    run = element if element.tag == w("r") else next(element.iterancestors(w("r")), None)
    if run is None:
        raise ValueError("a field character outside a run")
    return run


def _formatting(
    result: list[etree._Element], first: etree._Element | None
) -> etree._Element | None:
    """The run properties a replaced field's text takes: its result's first run with text, as
    Word keeps a result's formatting (\\* MERGEFORMAT), else the field's own first run."""
    for run in result:
        if run.find(w("t")) is not None:
            return run.find(w("rPr"))
    if first is not None:
        owner = first if first.tag == w("r") else next(first.iterancestors(w("r")), None)
        if owner is not None:
            return owner.find(w("rPr"))
    return None


def _replace_with(old: etree._Element, new: list[etree._Element]) -> None:
    parent = old.getparent()
    if parent is None:
        raise ValueError("a field without a parent")
    at = parent.index(old)
    parent.remove(old)
    for offset, element in enumerate(new):
        parent.insert(at + offset, element)


def _preserve_space(text: etree._Element) -> None:
    text.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")


def fields_named(root: etree._Element, *names: str) -> Iterator[WordField]:
    wanted = {name.upper() for name in names}
    return (f for f in word_fields(root) if f.name in wanted)
