"""A Word field's code read as Word reads it: its characters with their formatting, its words
(quoted texts, switches, plain words) and the fields nested in it; the merge fields letter-merge
resolves and the rules it refuses; and how a field's name is matched to a column.

Checking a template (merge_analysis.py) and filling each letter (merge_fill.py) both read field
codes through this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from letter_merge.template.wordfields import WordField
from letter_merge.template.wordxml import w

# Fields letter-merge resolves, and rules it refuses (what each does, and what to do instead).
RESOLVED = {"MERGEFIELD", "IF", "MERGEREC", "MERGESEQ"}
REFUSED = {
    "ASK": "Word's Ask rule asks a person a question for every letter, which a batch cannot do",
    "FILLIN": "Word's Fill-in rule asks a person to type something for every letter, which a "
    "batch cannot do",
    "SKIPIF": "Word's Skip Record If rule leaves letters out",
    "NEXTIF": "Word's Next Record If rule puts several records in one letter",
    "NEXT": "Word's Next Record rule puts several records in one letter",
    "SET": "Word's Set Bookmark rule keeps a value between letters",
    "DATABASE": "a DATABASE field reads a database Word connects to",
    "ADDRESSBLOCK": "Word's Address Block needs Word's own list of address fields",
    "GREETINGLINE": "Word's Greeting Line needs Word's own list of address fields",
}
INSTEAD = {
    "ASK": "put the answer in a workbook column and insert that column with Insert Merge Field",
    "FILLIN": "put the text in a workbook column and insert that column with Insert Merge Field",
    "SKIPIF": "take those councils' rows out of the workbook, or build with --only",
    "NEXTIF": "write one letter per council",
    "NEXT": "write one letter per council",
    "SET": "put the value in a workbook column, or use an IF rule",
    "DATABASE": "put the figures in the workbook",
    "ADDRESSBLOCK": "insert the fields one by one (Insert Merge Field: Title, Surname, Job_title, "
    "Authority), as the default template does",
    "GREETINGLINE": "write Dear, then insert the Salutation field (Insert Merge Field)",
}
OPERATORS = ("<=", ">=", "<>", "=", "<", ">")
PLACEHOLDER = "\ue000"  # where a nested field's result goes in an instruction's text


def word_name(name: str) -> str:
    """What a merge field's name is matched by: Word's `Authority_type`, `authority type` and
    our `authority_type` are the same."""
    return re.sub(r"[\W_]+", "", name.casefold())


@dataclass
class Atom:
    """One character of a field's instruction with its formatting, or a field nested there."""

    char: str
    formatting: etree._Element | None
    nested: WordField | None = None


@dataclass
class Token:
    """A word of an instruction: a quoted text (without its quotes), a switch or a plain word."""

    atoms: list[Atom] = field(default_factory=list)
    quoted: bool = False

    @property
    def switch(self) -> bool:
        return (
            not self.quoted
            and len(self.atoms) > 1
            and self.atoms[0].nested is None
            and self.atoms[0].char == "\\"
        )


def atoms_of(found: WordField) -> list[Atom]:
    """The field's instruction as characters with their formatting, and its nested fields."""
    if found.element is not None:
        runs = found.result_runs()
        formatting = runs[0].find(w("rPr")) if runs else None
        return [Atom(char, formatting) for char in found.instruction]
    assert found.begin is not None
    atoms: list[Atom] = []
    nested = {f.begin: f for f in found.nested if f.in_instruction and f.begin is not None}
    simple = {f.element: f for f in found.nested if f.in_instruction and f.element is not None}
    depth = 0
    root = found.begin.getroottree().getroot()
    started = False
    for element in root.iter(w("fldChar"), w("instrText"), w("fldSimple")):
        if element is found.begin:
            started = True
            continue
        if not started:
            continue
        if element.tag == w("fldSimple"):
            if depth == 0 and element in simple:
                atoms.append(Atom(PLACEHOLDER, None, simple[element]))
            continue
        if element.tag == w("instrText"):
            if depth == 0 and next(element.iterancestors(w("fldSimple")), None) is None:
                run = element.getparent()
                formatting = run.find(w("rPr")) if run is not None else None
                atoms += [Atom(char, formatting) for char in element.text or ""]
            continue
        kind = element.get(w("fldCharType"))
        if kind == "begin":
            if depth == 0 and element in nested:
                atoms.append(Atom(PLACEHOLDER, None, nested[element]))
            depth += 1
        elif kind == "end":
            if depth == 0:
                break
            depth -= 1
        elif kind == "separate" and depth == 0:
            break
    return atoms


def tokens_of(atoms: list[Atom]) -> list[Token]:
    """The instruction's words; a nested field is part of the word it stands in."""
    tokens: list[Token] = []
    current: Token | None = None
    index = 0
    while index < len(atoms):
        atom = atoms[index]
        char = atom.char if atom.nested is None else PLACEHOLDER
        if current is not None and current.quoted:
            if char == "\\" and index + 1 < len(atoms) and atoms[index + 1].char in '"\\':
                current.atoms.append(atoms[index + 1])
                index += 2
                continue
            if char == '"':
                tokens.append(current)
                current = None
            else:
                current.atoms.append(atom)
        elif char == '"':
            if current is not None:
                tokens.append(current)
            current = Token(quoted=True)
        elif char.isspace():
            if current is not None:
                tokens.append(current)
                current = None
        else:
            if current is None:
                current = Token()
            current.atoms.append(atom)
        index += 1
    if current is not None:
        tokens.append(current)
    return tokens


def operands_of(tokens: list[Token]) -> list[Token]:
    """The words after the field's name and before its first switch."""
    operands = []
    for token in tokens[1:]:
        if token.switch:
            break
        operands.append(token)
    return operands


def literal(token: Token) -> str:
    """A word's own characters, a nested field's result left out (for checking a template)."""
    return "".join(atom.char for atom in token.atoms if atom.nested is None)
