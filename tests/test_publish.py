"""Publication day: the date the letters promise (a setting and a template field), the check's
warnings about it, and `publish` (each council's letter as it last received it, the map's data,
an index page and a manifest)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from letter_merge.app.check import publication_warnings
from letter_merge.config import Settings, load_settings
from letter_merge.errors import InputError
from letter_merge.fields import letter_fields
from letter_merge.figures import compute_figures
from letter_merge.workbook import read_workbook
from tests.helpers import ROOT, docx_text


def settings_with(folder: Path, batch: str, today: dt.date = dt.date(2020, 7, 22)) -> Settings:
    path = folder / "letter-merge.toml"
    path.write_text(f"[batch]\nyear = 2020\n{batch}", encoding="utf-8")
    return load_settings(path, environ={}, today=today)


def test_the_publication_date_is_a_setting_a_week_after_the_letter_by_default(
    tmp_path: Path,
) -> None:
    assert settings_with(tmp_path, "letter_date = 2020-07-22\n").publication_date == dt.date(
        2020, 7, 29
    )
    chosen = settings_with(tmp_path, "letter_date = 2020-07-22\npublish_on = 2020-08-03\n")
    assert chosen.publication_date == dt.date(2020, 8, 3)
    with pytest.raises(InputError, match=r"publish_on = '3 August' is not a date"):
        settings_with(tmp_path, "publish_on = '3 August'\n")


def test_the_template_field_says_the_date_in_words(settings: Settings) -> None:
    council = read_workbook(settings.workbook).councils[0]
    figures = compute_figures([council])[council.authority]
    assert letter_fields(council, figures, settings)["publication_date"] == "29 July 2020"


def test_the_default_template_reads_its_publication_date_from_the_settings() -> None:
    text = docx_text(ROOT / "templates" / "letter.docx")
    assert "along with a copy of this letter on {{ publication_date }}" in text
    assert "29 July" not in text


def test_check_warns_of_a_publication_date_before_the_letter_or_gone_by(tmp_path: Path) -> None:
    early = settings_with(tmp_path, "letter_date = 2020-07-22\npublish_on = 2020-07-01\n")
    (warning,) = publication_warnings(early, today=dt.date(2020, 7, 1))
    assert warning.where == "[batch] publish_on"
    assert "1 July 2020, before their own date (22 July 2020)" in warning.message
    late = settings_with(tmp_path, "letter_date = 2020-07-22\n")
    (warning,) = publication_warnings(late, today=dt.date(2020, 7, 30))
    assert "the publication date, 29 July 2020, has passed" in warning.message
    assert publication_warnings(late, today=dt.date(2020, 7, 29)) == ()
    # a past year's batch (the sample's 2020, run again today) is dated in the past on purpose
    assert publication_warnings(late, today=dt.date(2026, 12, 7)) == ()
