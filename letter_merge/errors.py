"""The application's one error type and the few kinds a caller must tell apart.

Every message says what is wrong, where, and what to do; the CLI prints it and exits with `exit_code`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from letter_merge.steps import Next
from letter_merge.words import counted

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # stopped with Ctrl-C, as shells report it


class LetterMergeError(Exception):
    """A failure the user can act on. Exit code 1 unless a subclass says otherwise. The message
    names no command: where the fix is a step of letter-merge's own, `next_step` says which, and
    each front end words it (a command, or the desk's own step)."""

    exit_code = EXIT_PROBLEMS

    def __init__(self, message: str = "", *, next_step: Next | None = None) -> None:
        super().__init__(message)
        self.next_step = next_step


class InputError(LetterMergeError):
    """An input that cannot be read at all, a wrong setting, or a wrong command-line value."""

    exit_code = EXIT_USAGE


class ConverterUnavailable(InputError):
    """No program that can turn .docx into PDF is installed."""


class AlreadyRunning(LetterMergeError):
    """Another run holds the lock on what this one would write (a build, a send)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inputs, located as precisely as we can (`Statistics!C14`)."""

    where: str
    message: str
    file: str = ""  # the file it is in, as named in the settings ("" for none in particular)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ProblemsFound(LetterMergeError):
    """The inputs have problems; nothing was built. Carries every problem, not just the first."""

    def __init__(
        self, problems: Iterable[Problem], heading: str = "", warnings: Iterable[Problem] = ()
    ) -> None:
        self.problems = list(problems)
        self.warnings = list(warnings)  # shown too, counted apart: they stop nothing
        count = len(self.problems)
        heading = heading or f"{counted(count, 'problem')} must be fixed first:"
        lines = [heading, *(f"  - {p}" for p in self.problems)]
        if self.warnings:
            lines.append(f"and {counted(len(self.warnings), 'warning')} (these stop nothing):")
            lines += [f"  - {w}" for w in self.warnings]
        super().__init__("\n".join(lines))
