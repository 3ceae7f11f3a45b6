"""What a command works from: the settings, the files they name, the batch made from them (read
once, or kept between requests by the desk), and the records with the inputs as they are now,
or without them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from letter_merge.batch import Batch, load_batch
from letter_merge.config import Settings
from letter_merge.decisions import decisions_file
from letter_merge.errors import LetterMergeError, Problem, ProblemsFound
from letter_merge.records.join import Records


@dataclass
class Inputs:
    """The settings and the batch they name; `load` reads the batch (the desk passes one that
    keeps it while its files are unchanged)."""

    settings: Settings
    load: Callable[[Settings], Batch] = load_batch
    _batch: Batch | None = field(default=None, repr=False)

    def batch(self) -> Batch:
        """The workbook, template and figures checked together; ProblemsFound when they have
        problems, naming each."""
        if self._batch is None:
            self._batch = self.load(self.settings)
        return self._batch

    def records(self) -> Records:
        """Everything recorded about the year's letters, joined with the inputs as they are
        now. When the inputs cannot be read, the records alone, with the problems that say why
        (which letters are out of date is then unknown, and `Records.unknown_because` says
        so): never a silent "nothing to do"."""
        try:
            batch = self.batch()
        except ProblemsFound as found:
            return Records.load(self.settings, None, unknown_because=found.problems)
        except LetterMergeError as error:
            return Records.load(self.settings, None, unknown_because=[Problem("", str(error))])
        return Records.load(self.settings, batch)


@dataclass(frozen=True)
class InputFile:
    """One of the files a batch is made from, as the desk lists them."""

    label: str  # "Workbook", "Letter template", "Email template", "Settings"
    path: Path


def input_files(settings: Settings) -> list[InputFile]:
    """The files the office edits that a batch is made from (the settings file when there is
    one)."""
    files = [
        InputFile("Workbook", settings.workbook),
        InputFile("Letter template", settings.template),
        InputFile("Email template", settings.email_template),
    ]
    if settings.config_file:
        files.append(InputFile("Settings", settings.config_file))
    return files


class BatchCache:
    """The batch, read again only when one of its files has changed since (the desk's previews
    come one after another while a template is being edited)."""

    def __init__(self) -> None:
        self._batch: tuple[tuple[object, ...], Batch] | None = None

    def __call__(self, settings: Settings) -> Batch:
        # decisions.json too: a decision to keep an average changes the figures the batch gives.
        files = [file.path for file in input_files(settings)] + [decisions_file(settings.paths)]
        key = (settings, *(file_stamp(path) for path in files))
        if self._batch is None or self._batch[0] != key:
            self._batch = (key, load_batch(settings))
        return self._batch[1]


def file_stamp(path: Path) -> tuple[int, int]:
    """When a file was last changed and its size ((0, 0): it cannot be read)."""
    try:
        status = path.stat()
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)
