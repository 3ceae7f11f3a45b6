"""Filling one letter with Word's own mail merge (Mailings tab): MERGEFIELD, IF…THEN…ELSE, MERGEREC
and MERGESEQ, with Word's switches, resolved for each letter to what Word's merge prints, in the
formatting Word gives it. Fields made with Insert Merge Field and Rules may be mixed freely with
`{{ }}` fields; Word stores them as w:fldSimple or as complex fields (see wordfields.py).

Names are matched as Word shows a workbook's columns (`Authority_type` for `Authority type`):
ignoring case, spaces, underscores and punctuation, and through `[fields]` in
letter-merge.toml (Word's Match Fields). A letter is a plain letter: Word's link to its data
source is taken out of it.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from letter_merge.template.fieldcode import (
    OPERATORS,
    RESOLVED,
    Token,
    atoms_of,
    operands_of,
    tokens_of,
    word_name,
)
from letter_merge.template.switches import (
    as_number,
    date_picture,
    general_format,
    numeric_picture,
    plain,
)
from letter_merge.template.wordfields import WordField, word_fields
from letter_merge.template.wordxml import parse, serialise, w

XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


class MergeError(Exception):
    """A merge field that cannot be resolved; said as a person would fix it."""


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


# -- resolving, for each letter ----------------------------------------------------------------


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
    atoms = atoms_of(found)
    tokens = tokens_of(atoms)
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
    operands = operands_of(tokens)
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
    atoms = [a for a in atoms_of(found) if a.nested is None and not a.char.isspace()]
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
