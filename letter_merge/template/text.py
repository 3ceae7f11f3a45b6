"""Jinja's sandbox as letter-merge uses it, and the one-line and plain-text templates (the email
subject and body) rendered in it.

Templates render in the sandbox with strict undefined: a misspelt field is an error naming it,
never a blank. The Word template also autoescapes (a workbook value can never become markup).
"""

from __future__ import annotations

import contextvars
import functools
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import StrictUndefined, lexer, meta
from jinja2.exceptions import SecurityError
from jinja2.ext import Extension
from jinja2.sandbox import SandboxedEnvironment

from letter_merge.errors import LetterMergeError, Problem
from letter_merge.fields import COMPUTED_FIELDS, EMAIL_FIELDS

# What one rendering of one template part may take. A letter takes a few milliseconds, loops a
# few dozen times and makes some hundred KB; these are far beyond that and far below a hang.
SECONDS = 10.0
LOOP_STEPS = 100_000  # iterations of all its {% for %} loops together
OUTPUT = 16 * 1024 * 1024  # characters of output
SEQUENCE = 100_000  # the longest string or list `*` may make; `**` may make no number longer
POWER_DIGITS = 1000


class TemplateError(LetterMergeError):
    """A template cannot be rendered: a syntax error, a field that does not exist, or an
    expression that fails for some council. `where` names the place (the template and its
    paragraph), `what` says what is wrong there."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what


class LimitExceeded(SecurityError):
    """A template asked for more time, loop steps or output than a letter can need."""


@dataclass
class _Budget:
    deadline: float
    steps: int = LOOP_STEPS

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise LimitExceeded(
                f"its loops ran more than {LOOP_STEPS:,} times for one letter; a letter's tables "
                "need far fewer: check the {% for %} loops (one nested in another?)"
            )
        if self.steps % 256 == 0:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(
                f"rendering took longer than {SECONDS:.0f} seconds for one letter; a letter "
                "takes milliseconds: check the template's loops and expressions"
            )


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("budget", default=None)


def _current_budget() -> _Budget:
    budget = _budget.get()
    # Rendered outside render_limited: each loop, expression or call gets limits of its own.
    return budget if budget is not None else _Budget(time.monotonic() + SECONDS)


def _counted(iterable: Any) -> Iterator[Any]:
    """A loop's items, each counted against the budget (the `_counted` filter)."""
    budget = _current_budget()
    for item in iterable:
        budget.step()
        yield item


class _CountLoops(Extension):
    """Rewrites `{% for x in EXPR %}` as `{% for x in (EXPR)|_counted %}`, so that every loop,
    however nested, is counted: plain Python loops call none of the sandbox's hooks."""

    def filter_stream(self, stream: lexer.TokenStream) -> Iterator[lexer.Token]:
        in_for = False
        depth = 0
        wrapping = False
        for token in stream:
            if token.type == lexer.TOKEN_BLOCK_BEGIN:
                in_for, wrapping, depth = False, False, 0
            elif token.type == lexer.TOKEN_NAME and token.value == "for" and not in_for:
                in_for = True
            elif in_for and not wrapping and token.test("name:in"):
                yield token
                yield lexer.Token(token.lineno, lexer.TOKEN_LPAREN, "(")
                wrapping = True
                continue
            elif wrapping:
                if token.type in (lexer.TOKEN_LPAREN, lexer.TOKEN_LBRACKET, lexer.TOKEN_LBRACE):
                    depth += 1
                elif token.type in (lexer.TOKEN_RPAREN, lexer.TOKEN_RBRACKET, lexer.TOKEN_RBRACE):
                    depth -= 1
                ends = token.type == lexer.TOKEN_BLOCK_END or (
                    depth == 0 and (token.test("name:if") or token.test("name:recursive"))
                )
                if ends:
                    yield lexer.Token(token.lineno, lexer.TOKEN_RPAREN, ")")
                    yield lexer.Token(token.lineno, lexer.TOKEN_PIPE, "|")
                    yield lexer.Token(token.lineno, lexer.TOKEN_NAME, "_counted")
                    wrapping, in_for = False, False
            yield token


class _LimitedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, with limits on what one letter may take: time, loop steps, and the
    size of what `*` and `**` make."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        _current_budget().check_time()
        if operator == "**" and _digits(left, right) > POWER_DIGITS:
            raise LimitExceeded(f"{left!r} ** {right!r} makes a number too large for a letter")
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(times, int)
                    and len(sequence) * times > SEQUENCE
                ):
                    raise LimitExceeded(
                        f"'*' would make a {type(sequence).__name__} of "
                        f"{len(sequence) * times:,} items, too long for a letter"
                    )
        return super().call_binop(context, operator, left, right)

    def call(
        __self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any
    ) -> Any:
        _current_budget().check_time()
        return super().call(__context, __obj, *args, **kwargs)


def _digits(base: Any, exponent: Any) -> float:
    """Roughly how many digits base ** exponent has (0 for anything but whole numbers)."""
    if not (isinstance(base, int) and isinstance(exponent, int)) or abs(base) < 2 or exponent < 1:
        return 0
    return exponent * len(str(abs(base)))


def sandbox(*, autoescape: bool, keep_trailing_newline: bool = True) -> SandboxedEnvironment:
    environment = _LimitedSandbox(
        autoescape=autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=keep_trailing_newline,
        extensions=[_CountLoops],
    )
    environment.filters["_counted"] = _counted
    return environment


def render_limited(template: jinja2.Template, fields: Mapping[str, Any]) -> str:
    """Render within the limits above; LimitExceeded when one is crossed. The output is built
    piece by piece, so that a template cannot make gigabytes before it is stopped."""
    token = _budget.set(_Budget(time.monotonic() + SECONDS))
    try:
        pieces: list[str] = []
        size = 0
        for piece in template.generate(fields):
            size += len(piece)
            if size > OUTPUT:
                raise LimitExceeded(
                    f"it made more than {OUTPUT // (1024 * 1024)} MB for one letter; check "
                    "the template's loops"
                )
            pieces.append(piece)
        return "".join(pieces)
    finally:
        _budget.reset(token)


# The email: plain text, not markup.
_TEXT_ENVIRONMENT = sandbox(autoescape=False, keep_trailing_newline=False)


def render_text(source: str, fields: Mapping[str, Any], where: str) -> str:
    """A text template such as the email subject or body. No HTML escaping: it is not markup."""
    try:
        return render_limited(_text_template(source), fields)
    except Exception as error:  # a misspelt field, or e.g. a filter given an undefined rate
        raise TemplateError(where, describe(error)) from None


@functools.lru_cache(maxsize=32)
def _text_template(source: str) -> jinja2.Template:
    """Compiled once: the same subject is rendered for every letter of a batch."""
    return _TEXT_ENVIRONMENT.from_string(source)


def text_template_fields(source: str) -> set[str]:
    """The fields a text template (subject, email body) uses; raises on a syntax error."""
    return set(meta.find_undeclared_variables(_TEXT_ENVIRONMENT.parse(source)))


def check_text_template(source: str, available: Iterable[str], where: str) -> list[Problem]:
    """Problems with a text template: its syntax, and fields that do not exist."""
    try:
        used = text_template_fields(source)
    except jinja2.TemplateSyntaxError as error:
        return [Problem(where, f"template syntax error: {error.message}")]
    unknown = used - set(available) - COMPUTED_FIELDS - EMAIL_FIELDS
    problems = [
        Problem(where, f"{{{{ {name} }}}} is not a field; check its spelling.")
        for name in sorted(unknown)
    ]
    if "chart" in used:
        problems.append(Problem(where, "{{ chart }} is a picture: it can only be in the letter."))
    return problems


def describe(error: Exception) -> str:
    """What went wrong in a template, in words a template's author can act on."""
    if isinstance(error, LimitExceeded):
        return f"the template went beyond what a letter can need: {error}"
    if isinstance(error, SecurityError):
        return (
            f"the template tried something the sandbox forbids ({error}); templates may use "
            "fields, filters and tests, not Python's internals"
        )
    if isinstance(error, RecursionError):
        return "the template calls itself without end (a macro that calls itself?)"
    if not isinstance(error, jinja2.TemplateError):
        failed = f"the template's expression failed ({type(error).__name__}: {error})"
        if "NoneType" in str(error):  # a rate that is undefined for this council
            return (
                f"{failed}; check that it allows for a missing value, e.g. "
                "{% if upheld_rate is none %}."
            )
        return f"{failed}; check the expression."
    message = error.message or str(error)
    match = re.fullmatch(r"'(\w+)' is undefined", message)
    if match:
        return f"{{{{ {match.group(1)} }}}} is not a field; check its spelling against the manual's template fields."
    match = re.fullmatch(r"'[^']*' (?:object )?has no attribute '(\w+)'", message)
    if match:
        return f"'{match.group(1)}' is not a field of that item; check its spelling."
    return message
