"""What a template asks of Word's merge, for `check`: every merge field and rule (Mailings tab) with
its place and why it cannot be merged, if it cannot; and text typed to look like a field
(«Authority» pasted from a merged preview), which every letter would print as it is.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from lxml import etree

from letter_merge.template.fieldcode import (
    INSTEAD,
    OPERATORS,
    REFUSED,
    RESOLVED,
    atoms_of,
    literal,
    operands_of,
    tokens_of,
    word_name,
)
from letter_merge.template.wordfields import WordField, word_fields
from letter_merge.template.wordxml import LocatedParagraph, paragraphs, w


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
        for atom in atoms_of(found)
    )
    return " ".join(text.split())


def _kinds(found: WordField) -> Iterator[str]:
    yield found.name
    for nested in found.nested:
        yield from _kinds(nested)


def _names(found: WordField) -> Iterator[str]:
    if found.name == "MERGEFIELD":
        tokens = tokens_of(atoms_of(found))
        if len(tokens) > 1:
            yield literal(tokens[1])
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
    tokens = tokens_of(atoms_of(found))
    if found.name == "MERGEFIELD" and len(tokens) < 2:
        return "the merge field has no name; insert it again with Insert Merge Field"
    if found.name == "IF":
        operands = operands_of(tokens)
        if len(operands) < 4 or literal(operands[1]) not in OPERATORS:
            return (
                'the IF rule cannot be read; it should read IF field = "text" "if so" '
                '"if not" (Mailings › Rules › If…Then…Else makes one)'
            )
    return ""


# -- what looks like a field and is not one ----------------------------------------------------

TYPED = re.compile(r"«([^«»]{1,60})»|<<([^<>]{1,60})>>|(?<!\{)\{(\w[\w ]{0,40})\}(?!\})")
IDENTIFIER = re.compile(r"[^\W\d]\w*")
# Languages that quote with « » or ‹ ›: CLDR's delimiters (quotationStart or
# alternateQuotationStart), with Swiss German, whose typesetting uses them (CLDR before 2023 too).
GUILLEMET_LANGUAGES = frozenset(
    "fr ru uk be it es pt pl ro nb nn no el ca eu gl hy kk ky fa ps am ti sq rm gsw uz".split()
) | {"de-ch", "de-li"}


@dataclass(frozen=True)
class TypedField:
    """Text in a template that looks like a field but is typed: «Authority» pasted from a
    merged preview, <<Authority>>, {authority} with one brace."""

    where: LocatedParagraph
    typed: str
    name: str


def typed_fields(
    part_name: str,
    root: etree._Element,
    field_names: Collection[str] = (),
    document_language: str = "",
) -> list[TypedField]:
    """What a template shows as a field but holds as plain text (a field's own result, such as
    «Authority» in a real merge field, is not counted). Text in « » is a quotation, not a field,
    unless it is a field's name (`field_names`, in word_name's form) or a word without spaces;
    and never in a paragraph or document whose language quotes with « » (French, Russian, ...)."""
    in_results: set[etree._Element] = set()
    for found in word_fields(root):
        runs = found.result_runs() if found.separate is not None or found.simple else []
        for run in runs:
            in_results.update(run.iter(w("t")))
    found_typed = []
    quotes_so = quotes_with_guillemets(document_language)
    for paragraph in paragraphs(part_name, root):
        text = "".join(t.text or "" for t in paragraph.texts if t not in in_results)
        for match in TYPED.finditer(text):
            name = next(group for group in match.groups() if group).strip()
            if match.group().startswith("«") and (
                quotes_so
                or any(quotes_with_guillemets(lang) for lang in languages(paragraph.element))
                or (word_name(name) not in field_names and not IDENTIFIER.fullmatch(name))
            ):
                continue
            found_typed.append(TypedField(paragraph, match.group(), name))
    return found_typed


def quotes_with_guillemets(language: str) -> bool:
    """Whether a language (a w:lang value: 'fr-FR', 'ru-RU', 'de-CH') writes « » as quotation marks."""
    tag = language.strip().lower().replace("_", "-")
    return tag in GUILLEMET_LANGUAGES or tag.split("-")[0] in GUILLEMET_LANGUAGES


def languages(paragraph: etree._Element) -> set[str]:
    """The languages a paragraph's text is marked in: its runs' and its mark's w:lang (the
    right-to-left language only for right-to-left runs; Word marks every run with one)."""
    found = set()
    for lang in paragraph.iter(w("lang")):
        properties = lang.getparent()
        right_to_left = properties is not None and properties.find(w("rtl")) is not None
        for attribute in ("val", "bidi") if right_to_left else ("val",):
            value = lang.get(w(attribute))
            if value:
                found.add(value)
    return found


def document_language(styles: etree._Element | None, settings: etree._Element | None) -> str:
    """The language a document's text is in unless marked otherwise: the default run properties
    in styles.xml, else the theme's language in settings.xml; '' if neither says."""
    for root, path in (
        (styles, f"{w('docDefaults')}/{w('rPrDefault')}/{w('rPr')}/{w('lang')}"),
        (settings, w("themeFontLang")),
    ):
        lang = root.find(path) if root is not None else None
        if lang is not None and lang.get(w("val")):
            return str(lang.get(w("val")))
    return ""
