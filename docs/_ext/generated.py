"""Reference tables made from the code itself, so the manual cannot drift from it.

- ``environment-variables``: every variable of ``letter_merge.environment.VARIABLES``, in use or
  kept from an earlier version (``:deprecated:`` lists the latter).
- ``exit-codes``: the ``EXIT_*`` codes of ``letter_merge.errors``; a code there that this file
  does not explain, or one explained here that the code no longer has, fails the build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from letter_merge import environment, errors

# What each exit code means, by its name in letter_merge.errors (0 is success, not an error).
EXIT_MEANINGS = {
    "EXIT_SUCCESS": "success",
    "EXIT_PROBLEMS": "problems found in the inputs, or some letters failed",
    "EXIT_USAGE": "wrong usage, or an input that cannot be read (missing file, bad settings, "
    "no LibreOffice, a damaged or hostile file)",
    "EXIT_INTERRUPTED": "stopped with Ctrl-C: what was finished is kept, nothing half-written "
    "is left, and the same command carries on",
}

Cell: TypeAlias = str | nodes.Node


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> nodes.table:
    group = nodes.tgroup(cols=len(headers))
    group += [nodes.colspec(colwidth=1) for _ in headers]

    def row(cells: Sequence[Cell]) -> nodes.row:
        line = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            paragraph += nodes.Text(cell) if isinstance(cell, str) else cell
            entry += paragraph
            line += entry
        return line

    head = nodes.thead()
    head += row(headers)
    body = nodes.tbody()
    body += [row(cells) for cells in rows]
    group += [head, body]
    result = nodes.table()
    result += group
    return result


def code(text: str) -> Cell:
    return nodes.literal(text, text) if text else ""


class EnvironmentVariables(Directive):
    option_spec = {"deprecated": directives.flag}  # noqa: RUF012 (docutils' own spelling)

    def run(self) -> list[nodes.Node]:
        if "deprecated" in self.options:
            old = [v for v in environment.VARIABLES if v.replaced_by]
            return [
                table(
                    ("earlier name", "use instead", "what it was for"),
                    [(code(v.name), code(v.replaced_by), v.meaning) for v in old],
                )
            ]
        current = [v for v in environment.VARIABLES if not v.replaced_by]
        return [
            table(
                ("variable", "overrides", "what it sets"),
                [
                    (code(v.name), code(v.setting), ("Secret. " if v.secret else "") + v.meaning)
                    for v in current
                ],
            )
        ]


class ExitCodes(Directive):
    def run(self) -> list[nodes.Node]:
        codes = {"EXIT_SUCCESS": 0} | {
            name: value
            for name, value in vars(errors).items()
            if name.startswith("EXIT_") and isinstance(value, int)
        }
        if set(codes) != set(EXIT_MEANINGS):
            raise ExtensionError(
                f"exit codes in letter_merge.errors {sorted(codes)} and those the manual "
                f"explains {sorted(EXIT_MEANINGS)} differ: say what each means in "
                "docs/_ext/generated.py"
            )
        rows = sorted(codes.items(), key=lambda item: item[1])
        return [
            table(("code", "meaning"), [(str(value), EXIT_MEANINGS[name]) for name, value in rows])
        ]


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("environment-variables", EnvironmentVariables)
    app.add_directive("exit-codes", ExitCodes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
