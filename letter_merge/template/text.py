"""Jinja's sandbox as letter-merge uses it, and the one-line and plain-text templates (the email
subject and body) rendered in it.

Templates render in the sandbox with strict undefined: a misspelt field is an error naming it,
never a blank. The Word template also autoescapes (a workbook value can never become markup).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import jinja2
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment

from letter_merge.errors import LetterMergeError, Problem
from letter_merge.fields import COMPUTED_FIELDS


class TemplateError(LetterMergeError):
    """A template cannot be rendered: a syntax error, a field that does not exist, or an
    expression that fails for some council."""


def sandbox(*, autoescape: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True
    )


_TEXT_ENVIRONMENT = sandbox(autoescape=False)


def render_text(source: str, fields: Mapping[str, Any], where: str) -> str:
    """A text template such as the email subject or body. No HTML escaping: it is not markup."""
    try:
        return _text_template(source).render(fields)
    except jinja2.TemplateError as error:
        raise TemplateError(f"{where}: {describe(error)}") from None
    except Exception as error:  # e.g. a filter given an undefined rate: the user's expression
        raise TemplateError(f"{where}: {describe(error)}") from None


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
    unknown = used - set(available) - COMPUTED_FIELDS
    problems = [
        Problem(where, f"{{{{ {name} }}}} is not a field; check its spelling.")
        for name in sorted(unknown)
    ]
    if "chart" in used:
        problems.append(Problem(where, "{{ chart }} is a picture: it can only be in the letter."))
    return problems


def describe(error: Exception) -> str:
    """What went wrong in a template, in words a template's author can act on."""
    if not isinstance(error, jinja2.TemplateError):
        return (
            f"the template's expression failed ({type(error).__name__}: {error}); check that "
            "it allows for a missing value, e.g. {% if upheld_rate is none %}."
        )
    message = error.message or str(error)
    match = re.fullmatch(r"'(\w+)' is undefined", message)
    if match:
        return f"{{{{ {match.group(1)} }}}} is not a field; check its spelling against the README."
    match = re.fullmatch(r"'[^']*' (?:object )?has no attribute '(\w+)'", message)
    if match:
        return f"'{match.group(1)}' is not a field of that item; check its spelling."
    return message
