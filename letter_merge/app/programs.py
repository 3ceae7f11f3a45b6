"""The programs letter-merge starts for the front ends: a LibreOffice kept running for the
desk's previews, the file manager and the browser, and stopping every one of them on Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from letter_merge.config import Settings
from letter_merge.pdf.convert import Converter
from letter_merge.pdf.soffice import find_libreoffice
from letter_merge.pdf.warm import WarmLibreOffice
from letter_merge.process import open_folder as open_folder
from letter_merge.process import open_in_browser as open_in_browser
from letter_merge.process import stop_all_programs as stop_all_programs


@dataclass
class Previews:
    """What makes the desk's previews, one letter at a time: a LibreOffice kept running, with
    a profile of its own, or (without one) the converter builds use."""

    converter: Callable[[Settings], Converter]
    warm: WarmLibreOffice | None = None

    def __call__(self, settings: Settings) -> Converter:
        if self.warm is None:
            return self.converter(settings)
        self.warm.pdf = settings.pdf
        return self.warm

    def start(self) -> None:
        """Start the LibreOffice kept running (the desk does so as it opens)."""
        if self.warm is not None:
            self.warm.start()

    def close(self) -> None:
        if self.warm is not None:
            self.warm.close()


def desk_previews(
    settings: Settings, name: str, converter: Callable[[Settings, str], Converter]
) -> Previews:
    """The desk's previews through the converter `name` names: for "libreoffice", one kept
    running. A [pdf] soffice or LETTER_MERGE_SOFFICE naming no LibreOffice is said now."""

    def current(now: Settings) -> Converter:
        return converter(now, name)

    program = find_libreoffice(settings.pdf.soffice) if name == "libreoffice" else None
    if program is None:
        return Previews(current)
    profile = settings.paths.libreoffice_profiles / "desk"
    return Previews(
        current, WarmLibreOffice(program, profile, converter(settings, name), settings.pdf)
    )
