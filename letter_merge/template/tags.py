"""Each `{{ }}` and `{% %}` of a template read on its own, so that every mistake is found at once.

Jinja reads a template whole and stops at its first error: one unclosed `{{` or a misspelt
filter would hide every mistake after it, and staff would fix them one `check` at a time. Here
each tag is compiled alone (a block's opening tag with its closing tag added), and the blocks'
openings and closings are matched across paragraphs; each finding names its paragraph.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import jinja2
from jinja2 import meta, nodes

from letter_merge.template.text import sandbox
from letter_merge.template.wordxml import OPENERS, LocatedParagraph, short

CURLY = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'"})
# Tags that open a block closed by {% end<name> %}.
BLOCKS = frozenset({"if", "for", "with", "macro", "call", "filter", "block", "autoescape"})
# docxtpl's forms ({%p if %}, {%tr for %}, {{r x }}, ...) are Jinja's once docxtpl has moved them.
DOCXTPL_PREFIX = re.compile(r"^\{([{%])(-?)\s*(?:p|tr|tc|r)\s")
# docxtpl's own tags, which it turns into Word's XML before Jinja sees the template.
DOCXTPL_TAGS = frozenset({"colspan", "cellbg", "vm", "hm"})
_ENVIRONMENT = sandbox(autoescape=True)
# Names Jinja gives inside loops and macros.
JINJA_NAMES = frozenset({"loop", "caller", "varargs", "kwargs"})


@dataclass(frozen=True)
class TagProblem:
    paragraph: LocatedParagraph
    message: str


@dataclass(frozen=True)
class _Tag:
    paragraph: LocatedParagraph
    written: str  # as the template has it
    text: str  # as Jinja reads it: straight quotes, docxtpl's prefix removed
    keyword: str  # a statement's first word ("if", "endfor"); "" for {{ }} and {# #}
    # Not closed before the next tag opens: "later" when a closer follows in the paragraph
    # (so the next tag's would be taken for its own), "never" when none does (template/doctor
    # says so).
    unclosed: str = ""


CLOSERS = dict(OPENERS)


def tags_of(paragraphs: Iterable[LocatedParagraph]) -> list[_Tag]:
    """Every tag, paragraph by paragraph. A tag runs to its closer, unless another tag opens
    first: then it is a tag left unclosed, and the next one is read as itself (a missing %}
    is one mistake, not a run of them)."""
    found = []
    for paragraph in paragraphs:
        text, position = paragraph.text, 0
        while (start := _next_opener(text, position)) >= 0:
            end = text.find(CLOSERS[text[start : start + 2]], start + 2)
            following = _next_opener(text, start + 2)
            whole = _tag(paragraph, text[start : end + 2]) if end >= 0 else None
            # Another opener before the closer is another tag, unless the tag reads as written
            # with it ({{ '{{' }} prints two braces).
            if whole is not None and (following < 0 or following > end or not _error(whole)):
                found.append(whole)
                position = end + 2
                continue
            stop = following if following >= 0 else len(text)
            found.append(
                _tag(paragraph, text[start:stop].rstrip(), "later" if end >= 0 else "never")
            )
            position = stop
    return found


def _next_opener(text: str, position: int) -> int:
    starts = [i for opener in CLOSERS if (i := text.find(opener, position)) >= 0]
    return min(starts, default=-1)


def _tag(paragraph: LocatedParagraph, written: str, unclosed: str = "") -> _Tag:
    text = DOCXTPL_PREFIX.sub(r"{\1\2 ", written.translate(CURLY))
    keyword = ""
    if text.startswith("{%"):
        words = text[2:].removesuffix("%}").strip("-+ \t\n").split()
        keyword = words[0] if words else ""
    return _Tag(paragraph, written, text, keyword, unclosed)


def tag_problems(paragraphs: Iterable[LocatedParagraph]) -> list[TagProblem]:
    """Every tag that Jinja cannot read, and every block opened and not closed (or closed and
    not opened), in the order they stand."""
    problems = []
    open_blocks: list[_Tag] = []
    raw = False
    for tag in tags_of(paragraphs):
        if raw:  # {% raw %}: nothing inside is a tag
            raw = tag.keyword != "endraw"
            continue
        if tag.keyword == "raw":
            raw = True
            continue
        if tag.keyword in DOCXTPL_TAGS:
            continue
        if tag.unclosed == "later":
            closer = CLOSERS[tag.written[:2]]
            problems.append(
                TagProblem(
                    tag.paragraph,
                    f"{short(tag.written)} has no {closer} before the next tag begins; add "
                    f"{closer} where it should end.",
                )
            )
        error = "" if tag.unclosed else _error(tag)  # an unclosed tag is said once, above
        if error:
            problems.append(TagProblem(tag.paragraph, f"{short(tag.written)}: {error}"))
        name = tag.keyword
        if name in BLOCKS or _set_block(tag):
            open_blocks.append(tag)
        elif name.startswith("end") and name != "end":
            opened = name[3:]
            if open_blocks and open_blocks[-1].keyword == opened:
                open_blocks.pop()
            elif open_blocks:
                inner = open_blocks[-1]
                problems.append(
                    TagProblem(
                        tag.paragraph,
                        f"{short(tag.written)} closes a {{% {opened} %}}, but the block open here is "
                        f"{short(inner.written)} ({_where(inner)}); close that one first with "
                        f"{{% end{inner.keyword} %}}.",
                    )
                )
                if any(block.keyword == opened for block in open_blocks):
                    while open_blocks and open_blocks[-1].keyword != opened:
                        open_blocks.pop()
                    open_blocks.pop()
            else:
                problems.append(
                    TagProblem(
                        tag.paragraph,
                        f"{short(tag.written)} has no {{% {opened} ... %}} before it; delete it or "
                        "add the tag that opens the block.",
                    )
                )
        elif name in ("elif", "else") and not any(b.keyword in ("if", "for") for b in open_blocks):
            problems.append(
                TagProblem(
                    tag.paragraph,
                    f"{short(tag.written)} is not inside an {{% if %}}; add the {{% if ... %}} it "
                    "belongs to, or delete it.",
                )
            )
    if raw:
        problems.append(TagProblem(tag.paragraph, "a {% raw %} is never closed: add {% endraw %}."))
    for block in open_blocks:
        problems.append(
            TagProblem(
                block.paragraph,
                f"{short(block.written)} is never closed: add {{% end{block.keyword} %}} where the "
                "text it governs ends.",
            )
        )
    return problems


def fields_in_tags(paragraphs: Iterable[LocatedParagraph]) -> frozenset[str]:
    """The fields the tags that can be read refer to, without the names the template itself
    sets ({% for row in ... %}, {% set x = ... %}): what the workbook must have, read even from a
    template that Jinja cannot read whole."""
    used: set[str] = set()
    assigned: set[str] = set()
    raw = False
    for tag in tags_of(paragraphs):
        if raw or tag.keyword == "raw":
            raw = tag.keyword != "endraw"
            continue
        if tag.keyword in DOCXTPL_TAGS or tag.keyword.startswith("end"):
            continue
        if tag.keyword in ("elif", "else") or _error(tag):
            continue
        tree = _ENVIRONMENT.parse(_alone(tag))
        used |= meta.find_undeclared_variables(tree)
        assigned |= {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
        assigned |= {n.name for n in tree.find_all(nodes.Macro)}
    return frozenset(used - assigned - JINJA_NAMES - set(_ENVIRONMENT.globals))


def _alone(tag: _Tag) -> str:
    """The tag as a template of its own: a block's opening with its closing added."""
    name = tag.keyword
    if name in BLOCKS or _set_block(tag):
        return f"{tag.text}{{% end{name} %}}"
    if name in ("elif", "else"):
        return f"{{% if true %}}{tag.text}{{% endif %}}"
    return tag.text


def _set_block(tag: _Tag) -> bool:
    """{% set x %}...{% endset %} (and {% set x | f %}), not {% set x = ... %}."""
    if tag.keyword != "set":
        return False
    try:
        _ENVIRONMENT.parse(tag.text)
    except jinja2.TemplateSyntaxError:
        return True
    return False


def _error(tag: _Tag) -> str:
    """Why Jinja cannot read `tag`, in its words with the advice; "" when it can."""
    if tag.text.startswith("{#") or tag.keyword.startswith("end"):
        return ""
    return _jinja_error(_alone(tag))


@functools.lru_cache(maxsize=4096)
def _jinja_error(source: str) -> str:
    """Why Jinja cannot compile `source` (one tag alone), with the advice; "" when it can. A
    tag's words alone decide it, so each is compiled once a run (a template's tags are read at
    every command and by the desk at every look)."""
    try:
        _ENVIRONMENT.from_string(source)
    except jinja2.TemplateSyntaxError as error:  # TemplateAssertionError too: a missing filter
        message = re.sub(r" at \d+$", "", error.message or str(error)).rstrip(".")
        unknown = re.search(r"No (filter|test) named '([^']+)'", message)
        if unknown:
            kind, name = unknown.groups()
            known = _ENVIRONMENT.filters if kind == "filter" else _ENVIRONMENT.tests
            close = difflib.get_close_matches(name, [k for k in known if not k.startswith("_")])
            hint = f"did you mean '{close[0]}'?" if close else "check its spelling"
            return f"{message}; {hint} (Jinja's {kind}s, such as 'upper' and 'round', work)."
        return f"{message}; check the tag is written as in the manual's template fields."
    return ""


def _where(tag: _Tag) -> str:
    return tag.paragraph.where
