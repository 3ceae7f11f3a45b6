"""How long work tells the command line (or the desk) how far it has got."""

from __future__ import annotations

from collections.abc import Callable

# (stage, done, total), e.g. ("Making PDFs", 120, 343): the CLI turns these into progress bars.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """For callers that do not show progress."""
