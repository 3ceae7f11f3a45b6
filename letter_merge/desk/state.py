"""What the desk keeps between requests: where the settings are, its keys, the one running job,
the batch while its files are unchanged, the converters, and the last preview."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from letter_merge.app.inputs import BatchCache, Inputs
from letter_merge.app.letters import Converter
from letter_merge.config import Settings, load_settings
from letter_merge.desk.jobs import Jobs
from letter_merge.desk.security import DeskKeys


class Desk:
    """What the routes share: where the settings are, the keys, the one running job, and the
    converter kept warm for previews. Settings are read afresh for every request, so edits to
    the workbook, template or letter-merge.toml are seen at once."""

    def __init__(
        self,
        config_file: Path | None,
        keys: DeskKeys,
        converter: Callable[[Settings], Converter],
        previewer: Callable[[Settings], Converter],
    ) -> None:
        self.config_file = config_file
        self.keys = keys
        self.jobs = Jobs()
        self.converter = converter  # for builds: letters converted together
        self.previewer = previewer  # for one letter at a time: a LibreOffice kept running
        self.preview: dict[str, Any] = {}  # the last preview: authority, pages (paths)
        self.batch = BatchCache()

    def settings(self) -> Settings:
        return load_settings(self.config_file)

    def inputs(self) -> Inputs:
        """The settings read afresh, and the batch kept while its files are unchanged."""
        return Inputs(self.settings(), self.batch)

    def fresh_inputs(self) -> Inputs:
        """A batch of its own, for a job (previews may render from the kept one meanwhile)."""
        return Inputs(self.settings())
