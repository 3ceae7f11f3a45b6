"""Word's own mail merge (Mailings tab): MERGEFIELD, IF…THEN…ELSE, MERGEREC and MERGESEQ, with
Word's switches, resolved for each letter to what Word's merge prints, in the formatting Word
gives it. Fields of a template made with Insert Merge Field and Rules may be mixed freely with
`{{ }}` fields; Word stores them as w:fldSimple or as complex fields (see wordfields.py).

Names are matched as Word shows a workbook's columns (`Authority_type` for `Authority type`):
ignoring case, spaces, underscores and punctuation, and through `[fields]` in
letter-merge.toml (Word's Match Fields). Rules that ask a person something or skip records
cannot be part of a batch and are refused with what to do instead.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from letter_merge.template.switches import (
    as_number,
    date_picture,
    general_format,
    numeric_picture,
    plain,
)
from letter_merge.template.wordfields import WordField, word_fields
from letter_merge.template.wordxml import LocatedParagraph, paragraphs, parse, serialise, w

XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
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


class MergeError(Exception):
    """A merge field that cannot be resolved; said as a person would fix it."""


def word_name(name: str) -> str:
    """What a merge field's name is matched by: Word's `Authority_type`, `authority type` and
    our `authority_type` are the same."""
    return re.sub(r"[\W_]+", "", name.casefold())


@dataclass(frozen=True)
class MergeValues:
    """Every value a merge field may print, by Word's form of its name, and the [fields]
    mapping from the template's names to them."""

    values: Mapping[str, Any]
    mapping: Mapping[str, str] = field(default_factory=dict)
    record: int = 1

    def __post_init__(self) -> None:
        # [fields] as written: the template's name = the column or field it is
        object.__setattr__(
            self, "mapping", {word_name(k): word_name(v) for k, v in self.mapping.items()}
        )

    @classmethod
    def of(cls, fields: Mapping[str, Any], mapping: Mapping[str, str] | None = None) -> MergeValues:
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if isinstance(value, list | tuple | dict) or name == "chart":
                continue  # tables and the chart are for {{ }} templates
            values.setdefault(word_name(name), value)
        for kind in ("received", "decisions"):
            for row in fields.get(kind) or []:
                prefix = "received" if kind == "received" else "decided"
                values[word_name(f"{prefix} {row['label']}")] = row["count"]
        record = fields.get("record_number")
        return cls(values, mapping or {}, record if isinstance(record, int) else 1)

    def key(self, name: str) -> str:
        own = word_name(name)
        return self.mapping.get(own, own)

    def has(self, name: str) -> bool:
        return self.key(name) in self.values

    def get(self, name: str) -> Any:
        return self.values.get(self.key(name))


def available_names(fields: Iterable[str], received: Iterable[str] = ()) -> MergeValues:
    """The names a template may use, without values: for checking it."""
    return MergeValues({word_name(name): None for name in [*fields, *received]})


# -- what a template uses, for check -----------------------------------------------------------


@dataclass(frozen=True)
class MergeUse:
    """A Word field of the merge in a template: its kind, the names it prints, and where."""

    kind: str  # MERGEFIELD, IF, ... or a refused rule
    names: tuple[str, ...]  # MERGEFIELD names in it (nested ones too)
    kinds: tuple[str, ...]  # its kind and those of the fields nested in it
    instruction: str  # its code, as Word shows it with Alt+F9
    where: LocatedParagraph | None
    problem: str = ""  # why it cannot be merged, '' when it can


def merge_uses(part_name: str, root: etree._Element) -> list[MergeUse]:
    """Every merge field and rule in a part (parsed for this: its runs are split at fields),
    outermost first, with its place."""
    found_fields = word_fields(root)
    located = {p.element: p for p in paragraphs(part_name, root)}
    uses = []
    for found in found_fields:
        kind = found.name
        if kind not in RESOLVED and kind not in REFUSED:
            continue
        if found.parent is not None and found.parent.name in RESOLVED | set(REFUSED):
            continue  # counted with its outer field
        paragraph = found.paragraph()
        anchor = found.begin if found.begin is not None else found.element
        where = located.get(
            paragraph
            if paragraph is not None
            else next(anchor.iterancestors(w("p")), None)
            if anchor is not None
            else None  # type: ignore[arg-type]
        )
        problem = ""
        if kind in REFUSED:
            problem = f"{REFUSED[kind]}; {INSTEAD[kind]}"
        elif paragraph is None:
            problem = (
                f"the {kind} field runs over several paragraphs, which letter-merge cannot "
                "merge; keep each rule within one paragraph, or use {% if %} … {% endif %}"
            )
        else:
            problem = _static_problem(found)
        uses.append(
            MergeUse(kind, tuple(_names(found)), tuple(_kinds(found)), _code(found), where, problem)
        )
    return uses


def _code(found: WordField) -> str:
    """The field's code as Word shows it with Alt+F9, nested fields in braces."""
    text = "".join(
        atom.char if atom.nested is None else "{ " + _code(atom.nested) + " }"
        for atom in _atoms(found)
    )
    return " ".join(text.split())


def _kinds(found: WordField) -> Iterator[str]:
    yield found.name
    for nested in found.nested:
        yield from _kinds(nested)


def _names(found: WordField) -> Iterator[str]:
    if found.name == "MERGEFIELD":
        tokens = _tokens(_atoms(found))
        if len(tokens) > 1:
            yield _plain_text(tokens[1], None)
    for nested in found.nested:
        yield from _names(nested)


def _static_problem(found: WordField) -> str:
    """What is wrong with a merge field's shape, whatever the council."""
    for nested in found.nested:
        if nested.name not in RESOLVED:
            if nested.name in REFUSED:
                return f"{REFUSED[nested.name]}; {INSTEAD[nested.name]}"
            return (
                f"the {found.name} field uses a {nested.name or 'blank'} field, which only Word "
                "can work out; compare workbook fields (Insert Merge Field) only"
            )
        problem = _static_problem(nested)
        if problem:
            return problem
    tokens = _tokens(_atoms(found))
    if found.name == "MERGEFIELD" and len(tokens) < 2:
        return "the merge field has no name; insert it again with Insert Merge Field"
    if found.name == "IF":
        operands = _operands(tokens)
        if len(operands) < 4 or _plain_text(operands[1], None) not in OPERATORS:
            return (
                'the IF rule cannot be read; it should read IF field = "text" "if so" '
                '"if not" (Mailings › Rules › If…Then…Else makes one)'
            )
    return ""


# -- resolving, for each letter ----------------------------------------------------------------


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


Segment = tuple[str, "etree._Element | None"]  # text, and the run properties it is printed in


def resolve(root: etree._Element, values: MergeValues) -> None:
    """Replace every merge field of a part with what Word's merge prints for these values; a
    merge field nested in another kind of field (= 2 * { MERGEFIELD x }) is replaced by its
    value, leaving the outer field as it is."""
    for found in word_fields(root):
        if found.parent is not None:
            continue
        if found.name in RESOLVED:
            runs = _runs(_evaluate(found, values))
            if not found.replace_with_runs(runs):
                raise MergeError(f"the {found.name} field runs over several paragraphs")
        elif any(_contains_merge(n) for n in found.nested):
            _resolve_within(found, values)


def _contains_merge(found: WordField) -> bool:
    return found.name in RESOLVED or any(_contains_merge(n) for n in found.nested)


def _resolve_within(found: WordField, values: MergeValues) -> None:
    for nested in found.nested:
        if nested.name in RESOLVED:
            text = "".join(text for text, _ in _evaluate(nested, values))
            if nested.in_instruction:
                nested.replace_with_instruction_text(text)
            else:
                nested.replace_with_runs(_runs(_evaluate(nested, values)))
        elif any(_contains_merge(n) for n in nested.nested):
            _resolve_within(nested, values)


def _evaluate(found: WordField, values: MergeValues) -> list[Segment]:
    atoms = _atoms(found)
    tokens = _tokens(atoms)
    kind = found.name
    switches = _switches(tokens, values)
    if kind == "MERGEFIELD":
        if len(tokens) < 2:
            raise MergeError("a merge field without a name")
        name = _plain_text(tokens[1], values)
        if not values.has(name):
            raise MergeError(f"«{name}» is not a field")
        text = _formatted(values.get(name), switches)
        return [(text, _result_formatting(found, switches))] if text else []
    if kind in ("MERGEREC", "MERGESEQ"):
        return [(_formatted(values.record, switches), _result_formatting(found, switches))]
    # IF left operator right "if so" "if not"
    operands = _operands(tokens)
    if len(operands) < 4:
        raise MergeError("an IF rule that cannot be read")
    left, operator, right = (_plain_text(t, values) for t in operands[:3])
    if _compare(left, operator, right):
        chosen: Token | None = operands[3]
    else:
        chosen = operands[4] if len(operands) > 4 else None
    segments = _segments(chosen, values)
    cases = [argument for name, argument in switches if name == "\\*"]
    for case in cases:
        segments = [(general_format(text, case), formatting) for text, formatting in segments]
    return segments


def _atoms(found: WordField) -> list[Atom]:
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


def _tokens(atoms: list[Atom]) -> list[Token]:
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


def _operands(tokens: list[Token]) -> list[Token]:
    """The words after the field's name and before its first switch."""
    operands = []
    for token in tokens[1:]:
        if token.switch:
            break
        operands.append(token)
    return operands


def _plain_text(token: Token, values: MergeValues | None) -> str:
    out = ""
    for atom in token.atoms:
        if atom.nested is None:
            out += atom.char
        elif values is not None:
            out += "".join(text for text, _ in _evaluate(atom.nested, values))
    return out


def _segments(token: Token | None, values: MergeValues) -> list[Segment]:
    """A quoted text of an IF rule as printed: its own characters in their formatting, nested
    fields as they print."""
    segments: list[Segment] = []
    for atom in token.atoms if token is not None else []:
        if atom.nested is not None:
            segments += _evaluate(atom.nested, values)
        elif segments and segments[-1][1] is atom.formatting:
            segments[-1] = (segments[-1][0] + atom.char, atom.formatting)
        else:
            segments.append((atom.char, atom.formatting))
    return segments


def _switches(tokens: list[Token], values: MergeValues) -> list[tuple[str, str]]:
    """The field's switches and their arguments: [('\\\\*', 'Upper'), ('\\\\b', 'Dear ')]."""
    found = []
    for index, token in enumerate(tokens):
        if not token.switch:
            continue
        name = _plain_text(token, values)
        argument = ""
        takes = name.lower() in ("\\*", "\\#", "\\@", "\\b", "\\f")
        if takes and index + 1 < len(tokens) and not tokens[index + 1].switch:
            argument = _plain_text(tokens[index + 1], values)
        found.append((name.lower(), argument))
    return found


def _formatted(value: Any, switches: list[tuple[str, str]]) -> str:
    """A value as Word prints it with the field's switches: a numeric or date picture, the
    general formats, then the text before and after when there is something to print."""
    text = plain(value)
    for name, argument in switches:
        if name == "\\#" and argument:
            pictured = numeric_picture(value if value is not None else text, argument)
            text = pictured if pictured is not None else text
        elif name == "\\@" and argument:
            pictured = date_picture(value if value is not None else text, argument)
            text = pictured if pictured is not None else text
    for name, argument in switches:
        if name == "\\*":
            text = general_format(text, argument)
    if text:
        before = next((a for n, a in switches if n == "\\b"), "")
        after = next((a for n, a in switches if n == "\\f"), "")
        text = before + text + after
    return text


def _result_formatting(found: WordField, switches: list[tuple[str, str]]) -> etree._Element | None:
    """How a merge field's result looks, as in Word: with \\* MERGEFORMAT, as the field's last
    result (its first run, «Authority» as Word shows it); otherwise, as the first character of
    the field code."""
    merge_format = any(
        name == "\\*" and argument.lower() == "mergeformat" for name, argument in switches
    )
    result = found.result_runs()
    if found.element is not None or (merge_format and result):
        for run in result:
            if run.find(w("t")) is not None:
                return run.find(w("rPr"))
    atoms = [a for a in _atoms(found) if a.nested is None and not a.char.isspace()]
    if atoms:
        return atoms[0].formatting
    return result[0].find(w("rPr")) if result else None


def _compare(left: str, operator: str, right: str) -> bool:
    """Word's IF: numbers compared as numbers, anything else as text (case counts); with = and
    <>, the right side may use the wildcards * and ?."""
    if operator not in OPERATORS:
        raise MergeError(f"an IF rule with the comparison {operator!r}")
    a, b = as_number(left), as_number(right)
    if a is not None and b is not None:
        return _ordered(a, operator, b)
    if operator in ("=", "<>") and ("*" in right or "?" in right):
        matched = fnmatch.fnmatchcase(left, right.replace("[", "[[]"))
        return matched if operator == "=" else not matched
    return _ordered(left, operator, right)


def _ordered(a: Decimal | str, operator: str, b: Decimal | str) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        sign = (a > b) - (a < b)
    else:
        first, second = str(a), str(b)
        sign = (first > second) - (first < second)
    outcomes = {"=": sign == 0, "<>": sign != 0, "<": sign < 0, ">": sign > 0}
    outcomes.update({"<=": sign <= 0, ">=": sign >= 0})
    return outcomes[operator]


def _runs(segments: list[Segment]) -> list[etree._Element]:
    runs = []
    for text, formatting in segments:
        run = etree.Element(w("r"))
        if formatting is not None:
            run.append(copy.deepcopy(formatting))
        for number, line in enumerate(re.split(r"\r\n|\r|\n|\v", text)):
            if number:
                etree.SubElement(run, w("br"))
            for piece_number, piece in enumerate(line.split("\t")):
                if piece_number:
                    etree.SubElement(run, w("tab"))
                if piece:
                    element = etree.SubElement(run, w("t"))
                    element.text = piece
                    element.set(XML_SPACE, "preserve")
        runs.append(run)
    return runs


# -- letters are plain letters -----------------------------------------------------------------

SETTINGS = "word/settings.xml"
SETTINGS_RELATIONSHIPS = "word/_rels/settings.xml.rels"
DATA_SOURCE_RELATIONSHIPS = re.compile(rb"/(mailMergeSource|mailMergeHeaderSource|recipientData)\b")


def without_data_source(part: str, data: bytes) -> bytes:
    """A letter's settings without Word's mail-merge settings (w:mailMerge: the data source,
    its query and field map), and its relationships without the link to the data source: a
    council opening its letter is never asked to run an SQL command against our workbook."""
    if part == SETTINGS and b"mailMerge" in data:
        root = parse(data)
        for settings in root.findall(w("mailMerge")):
            root.remove(settings)
        return serialise(root)
    if part == SETTINGS_RELATIONSHIPS and DATA_SOURCE_RELATIONSHIPS.search(data):
        root = parse(data)
        for relationship in list(root):
            if DATA_SOURCE_RELATIONSHIPS.search(relationship.get("Type", "").encode()):
                root.remove(relationship)
        return serialise(root)
    return data


# -- what looks like a field and is not one ----------------------------------------------------

TYPED = re.compile(r"«([^«»]{1,60})»|<<([^<>]{1,60})>>|(?<!\{)\{(\w[\w ]{0,40})\}(?!\})")


@dataclass(frozen=True)
class TypedField:
    """Text in a template that looks like a field but is typed: «Authority» pasted from a
    merged preview, <<Authority>>, {authority} with one brace."""

    where: LocatedParagraph
    typed: str
    name: str


def typed_fields(part_name: str, root: etree._Element) -> list[TypedField]:
    """What a template shows as a field but holds as plain text (a field's own result, such as
    «Authority» in a real merge field, is not counted)."""
    in_results: set[etree._Element] = set()
    for found in word_fields(root):
        runs = found.result_runs() if found.separate is not None or found.simple else []
        for run in runs:
            in_results.update(run.iter(w("t")))
    found_typed = []
    for paragraph in paragraphs(part_name, root):
        text = "".join(t.text or "" for t in paragraph.texts if t not in in_results)
        for match in TYPED.finditer(text):
            name = next(group for group in match.groups() if group)
            found_typed.append(TypedField(paragraph, match.group(), name.strip()))
    return found_typed
