"""The desk's previews as app/ sets them up for it: through a LibreOffice kept running, with a
profile of its own, or through the converter builds use; a setting naming no LibreOffice is
said before the desk opens. Nothing here starts LibreOffice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from letter_merge.app.letters import Converter
from letter_merge.app.programs import desk_previews
from letter_merge.config import Settings
from letter_merge.errors import LetterMergeError
from letter_merge.pdf.warm import WarmLibreOffice
from tests.standin import TextPdfConverter


def test_word_previews_go_through_the_converter_builds_use(settings: Settings) -> None:
    asked: list[tuple[Settings, str]] = []

    def make(current: Settings, name: str) -> Converter:
        asked.append((current, name))
        return TextPdfConverter()

    previews = desk_previews(settings, "word", make)
    assert previews.warm is None and asked == []
    later = dataclasses.replace(settings, year=2021)
    assert isinstance(previews(later), TextPdfConverter)
    assert asked == [(later, "word")]  # the settings of the request, not of the start
    previews.start()  # nothing to start or stop
    previews.close()


@pytest.mark.libreoffice  # found, not started
def test_libreoffice_previews_go_through_one_kept_running(settings: Settings) -> None:
    previews = desk_previews(settings, "libreoffice", lambda current, name: TextPdfConverter())
    warm = previews.warm
    assert isinstance(warm, WarmLibreOffice)
    assert warm.profile == settings.paths.libreoffice_profiles / "desk"
    accessible_off = dataclasses.replace(settings.pdf, accessible=False)
    assert previews(dataclasses.replace(settings, pdf=accessible_off)) is warm
    assert warm.pdf == accessible_off  # each request's [pdf], on the LibreOffice kept running


def test_a_setting_naming_no_libreoffice_is_said_before_the_desk_opens(
    settings: Settings, tmp_path: Path
) -> None:
    nowhere = dataclasses.replace(settings.pdf, soffice=str(tmp_path / "no-such-soffice"))
    with pytest.raises(LetterMergeError, match="no-such-soffice"):
        desk_previews(
            dataclasses.replace(settings, pdf=nowhere),
            "libreoffice",
            lambda current, name: TextPdfConverter(),
        )
