"""The settings file and its LETTER_MERGE_SMTP_*, _MAILBOX_* and _OAUTH2_* environment overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from letter_merge.config import load_settings
from letter_merge.errors import InputError

TODAY = dt.date(2021, 7, 1)


def write(folder: Path, text: str) -> Path:
    path = folder / "letter-merge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_repository_s_settings_file_reads_as_documented() -> None:
    root = Path(__file__).resolve().parent.parent
    settings = load_settings(root / "letter-merge.toml", environ={}, today=TODAY)
    assert (settings.year, settings.letter_date) == (2020, dt.date(2020, 7, 22))
    assert settings.workbook == root / "input" / "councils.xlsx"
    assert settings.template == root / "templates" / "letter.docx"
    assert settings.paths.letters == root / "output" / "2020" / "letters"
    assert settings.paths.ledger == root / "output" / "2020" / "ledger.sqlite"
    assert settings.email_subject == "Annual Review letter {{ year }} – {{ authority }}"
    smtp = settings.smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.rate_per_minute, smtp.username) == (
        "localhost",
        587,
        "starttls",
        30,
        "",
    )


def test_defaults_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "batch").mkdir()
    path = write(tmp_path / "batch", '[paths]\nworkbook = "../shared/book.xlsx"\n')
    settings = load_settings(path, environ={}, today=TODAY)
    assert (settings.year, settings.letter_date) == (2021, TODAY)
    assert settings.workbook == tmp_path / "shared" / "book.xlsx"
    assert settings.output == tmp_path / "batch" / "output"
    assert (settings.period_start, settings.period_end) == (
        dt.date(2020, 4, 1),
        dt.date(2021, 3, 31),
    )


def test_environment_variables_override_every_smtp_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[smtp]\nhost = "mail.example.org"\nport = 25\nusername = "file"\n')
    environ = {
        "LETTER_MERGE_SMTP_HOST": "smtp.office365.com",
        "LETTER_MERGE_SMTP_PORT": "587",
        "LETTER_MERGE_SMTP_SECURITY": "ssl",
        "LETTER_MERGE_SMTP_RATE_PER_MINUTE": "10",
        "LETTER_MERGE_SMTP_USERNAME": " reviews@ombudsman.example ",
    }
    smtp = load_settings(path, environ=environ, today=TODAY).smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.rate_per_minute, smtp.username) == (
        "smtp.office365.com",
        587,
        "ssl",
        10,
        "reviews@ombudsman.example",
    )
    # without the variables, the file's values
    smtp = load_settings(path, environ={}, today=TODAY).smtp
    assert (smtp.host, smtp.port, smtp.username) == ("mail.example.org", 25, "file")


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        (
            "[batch]\nyear = 'twenty'\n",
            {},
            "letter-merge.toml: [batch] year = 'twenty' is not a year",
        ),
        (
            "[batch]\nletter_date = '22/07/2020'\n",
            {},
            "letter-merge.toml: [batch] letter_date = '22/07/2020' is not a date; write it "
            "without quotes, e.g. letter_date = 2020-07-22.",
        ),
        ("[smtp]\nport = 'x'\n", {}, "letter-merge.toml: [smtp] port = 'x' is not a whole number."),
        ("", {"LETTER_MERGE_SMTP_PORT": "0"}, "LETTER_MERGE_SMTP_PORT = 0 must be more than 0."),
        (
            "",
            {"LETTER_MERGE_SMTP_SECURITY": "tls"},
            "[smtp] security = 'tls': use one of starttls, ssl, none.",
        ),
        ("[batch\n", {}, "letter-merge.toml: not valid TOML"),
        ("[chart]\ndpi = 50\n", {}, "letter-merge.toml: [chart] dpi = 50: write a whole number"),
    ],
)
def test_a_wrong_setting_names_itself(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_settings(path, environ=environ, today=TODAY)
    assert str(caught.value).startswith(message)
    assert caught.value.exit_code == 2


def test_a_missing_settings_file_given_with_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such settings file; check the --config path"):
        load_settings(tmp_path / "nowhere.toml", environ={}, today=TODAY)


def test_environment_variables_override_every_oauth2_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[oauth2]\nclient_id = "from-file"\ntenant = "file.example"\n')
    environ = {
        "LETTER_MERGE_OAUTH2_PROVIDER": "google",
        "LETTER_MERGE_OAUTH2_FLOW": " browser ",
        "LETTER_MERGE_OAUTH2_CLIENT_ID": "from-environment",
        "LETTER_MERGE_OAUTH2_AUTHORITY": "https://login.example",
    }
    oauth2 = load_settings(path, environ=environ, today=TODAY).oauth2
    assert (oauth2.provider, oauth2.flow, oauth2.client_id, oauth2.tenant, oauth2.authority) == (
        "google",
        "browser",
        "from-environment",
        "file.example",
        "https://login.example",
    )
    with pytest.raises(InputError, match=r"\[oauth2\] provider = 'yahoo': use one of"):
        load_settings(path, environ={"LETTER_MERGE_OAUTH2_PROVIDER": "yahoo"}, today=TODAY)
