"""What a command works from: the settings, the batch they name (read once, or kept between
requests by the desk), and the records with the inputs as they are now, or without them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from letter_merge.batch import Batch, load_batch
from letter_merge.config import Settings
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
