"""Batch settings: `letter-merge.toml`, with `LETTER_MERGE_SMTP_*` and `LETTER_MERGE_MAILBOX_*`
environment overrides."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letter_merge import environment
from letter_merge.clock import made_at
from letter_merge.errors import InputError
from letter_merge.paths import OutputPaths

CONFIG_NAME = "letter-merge.toml"
SMTP_SECURITY = ("starttls", "ssl", "none")
SMTP_AUTH = ("password", "oauth2")
OAUTH2_PROVIDERS = ("microsoft", "google")
OAUTH2_FLOWS = ("device-code", "browser", "client-credentials")
PDF_ARCHIVES = ("PDF/A-2b", "none")
MAILBOX_SECURITY = ("tls", "starttls", "none")
MAILBOX_AUTH = ("password", "oauth2", "graph")
MAILBOX_MARKS = ("", "seen")
SEND_VIA = ("smtp", "graph")
# The one place a mailbox may be read without TLS: this machine.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# Where a provider's mailbox is read, when [mailbox] host is not set: its SMTP host -> IMAP host.
IMAP_HOSTS = {
    "smtp.office365.com": "outlook.office365.com",
    "smtp-mail.outlook.com": "outlook.office365.com",
    "smtp.gmail.com": "imap.gmail.com",
}
# Where each provider signs people in, when [oauth2] authority is not set.
DEFAULT_AUTHORITIES = {
    "microsoft": "https://login.microsoftonline.com/{tenant}",
    "google": "https://oauth2.googleapis.com",
}


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    rate_per_minute: int = 30
    username: str = ""
    auth: str = "password"  # "password" | "oauth2" (XOAUTH2 with a token, see [oauth2])
    # The password is deliberately not a field: it is read from the environment or keyring
    # at the moment of sending, so it cannot end up in a repr, a log or a file.


@dataclass(frozen=True)
class SendSettings:
    """[send]: the way messages leave. "smtp" (the [smtp] server) or "graph" (Microsoft Graph,
    signed in as [oauth2] says, from [email] from: a person's own mailbox or a shared one they
    may send as); the [smtp] rate_per_minute holds either way."""

    via: str = "smtp"


@dataclass(frozen=True)
class MailboxSettings:
    """[mailbox]: the sending mailbox, read (never changed) for bounce reports and replies. Each
    key not in the file follows [smtp]; the password, like SMTP's, is never a field."""

    host: str = "localhost"
    port: int = 993
    security: str = "tls"  # "tls" (implicit, 993) | "starttls" (143) | "none" (this machine only)
    username: str = ""
    folder: str = "INBOX"
    auth: str = "password"  # "password" | "oauth2" (IMAP XOAUTH2) | "graph" (Microsoft Graph)
    # "": reading changes nothing in the mailbox; "seen": the reports and replies recorded about
    # this batch's letters are marked read (IMAP only), as asked for by name.
    mark: str = ""


@dataclass(frozen=True)
class OAuth2Settings:
    """[oauth2]: how to sign in for sending. No secret is ever a field: the client secret comes
    from LETTER_MERGE_OAUTH2_CLIENT_SECRET or the keyring, tokens from the keyring."""

    provider: str = "microsoft"
    flow: str = "device-code"
    client_id: str = ""
    tenant: str = ""
    authority: str = ""  # set: a national cloud, or a stand-in; "" -> from provider and tenant

    @property
    def authority_url(self) -> str:
        if self.authority:
            return self.authority.rstrip("/")
        return DEFAULT_AUTHORITIES[self.provider].format(tenant=self.tenant or "organizations")

    @property
    def is_app(self) -> bool:
        """An app signs in by itself (client credentials): no person, no mailbox of its own."""
        return self.flow == "client-credentials"

    @property
    def known_host(self) -> bool:
        """Whether the authority is the provider's public one (only then may the library check
        it against the provider's list of hosts)."""
        return not self.authority


@dataclass(frozen=True)
class PdfSettings:
    """[pdf]: what kind of PDF every letter is, and the LibreOffice that makes it. By default
    tagged for screen readers (PDF/UA-1) and archival (PDF/A-2b), since the letters are
    published and kept for years."""

    accessible: bool = True
    archive: str = "PDF/A-2b"  # "PDF/A-2b" | "none"
    # LibreOffice's soffice program (or its folder) where it is not found by itself; "" -> look
    # on PATH and in the usual install folders. LETTER_MERGE_SOFFICE overrides it.
    soffice: str = ""
    # When every PDF says it was made (clock.made_at: the letter date, or SOURCE_DATE_EPOCH),
    # in place of the moment LibreOffice made it; "" keeps the converter's own. Not what kind
    # of PDF it is, so not compared.
    made_at: str = field(default="", compare=False, metadata={"setting": False})

    @property
    def pdfa(self) -> bool:
        return self.archive != "none"

    def describe(self) -> str:
        kinds = [k for k, on in (("PDF/UA-1", self.accessible), (self.archive, self.pdfa)) if on]
        return " + ".join(kinds) if kinds else "plain PDF"

    def in_words(self) -> str:
        """What the letters are, as staff say it, the standards' names after: 'accessible,
        archival PDF (PDF/UA-1, PDF/A-2b)'."""
        words = [w for w, on in (("accessible", self.accessible), ("archival", self.pdfa)) if on]
        if not words:
            return "plain PDF"
        standards = [
            k for k, on in (("PDF/UA-1", self.accessible), (self.archive, self.pdfa)) if on
        ]
        return f"{', '.join(words)} PDF ({', '.join(standards)})"


DEFAULT_PDF = PdfSettings()


@dataclass(frozen=True)
class Settings:
    config_file: Path | None
    year: int
    letter_date: dt.date
    workbook: Path
    template: Path
    email_template: Path
    output: Path
    email_from: str = "Annual Review <annual.review@ombudsman.example>"
    email_subject: str = "Annual Review letter {{ year }} – {{ authority }}"
    smtp: SmtpSettings = SmtpSettings()
    send: SendSettings = SendSettings()
    oauth2: OAuth2Settings = OAuth2Settings()
    mailbox: MailboxSettings = MailboxSettings()
    pdf: PdfSettings = DEFAULT_PDF
    # proof: the page counts a letter may have, and how many points a figure may move from
    # last year's before the proof lists it
    proof_pages: tuple[int, int] = (1, 4)
    proof_change_points: int = 10
    # chart: pixels per inch of the letter's chart (LibreOffice's PDF export slows with more)
    chart_dpi: int = 200
    # [fields]: a Word merge field's name in the template -> the column or field it prints
    # (Word's Match Fields), for templates that name fields otherwise than the workbook does
    field_map: Mapping[str, str] = field(default_factory=dict)
    # [batch] publish_on: the day the letters and their data go on the website (None: a week
    # after the letter date, as the office has always done)
    publish_on: dt.date | None = None

    @functools.cached_property
    def paths(self) -> OutputPaths:
        """Where this batch's outputs go."""
        return OutputPaths(self.output, self.year)

    @property
    def publication_date(self) -> dt.date:
        """The day the letters promise their data and a copy of them go on the website."""
        return self.publish_on or self.letter_date + dt.timedelta(days=7)

    @property
    def period_start(self) -> dt.date:
        return dt.date(self.year - 1, 4, 1)

    @property
    def period_end(self) -> dt.date:
        return dt.date(self.year, 3, 31)


def load_settings(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> Settings:
    """Read the settings file (default `./letter-merge.toml`); paths in it are relative to it."""
    environ = os.environ if environ is None else environ
    today = today or dt.date.today()
    config_file = _settings_file(config_file)
    base = config_file.resolve().parent
    raw: dict[str, Any] = _read_toml(config_file)
    where = config_file.name

    batch = _table(raw, "batch", where)
    paths = _table(raw, "paths", where)
    email = _table(raw, "email", where)
    smtp = _smtp_settings(_table(raw, "smtp", where), environ, where)
    oauth2 = _oauth2_settings(_table(raw, "oauth2", where), environ, where)
    proof = _table(raw, "proof", where)
    dpi = _chart_dpi(_table(raw, "chart", where), where)
    pages = _proof_pages(proof, where)
    change = _change_points(proof, where)
    year = _year(batch, where, today)
    letter_date = _letter_date(batch, where, today)

    def path(key: str, default: str) -> Path:
        value = paths.get(key, default)
        if not isinstance(value, str) or not value:
            raise InputError(f"{where}: [paths] {key} must be a file or folder name in quotes.")
        return (base / value).resolve()

    return Settings(
        config_file=config_file,
        year=year,
        letter_date=letter_date,
        workbook=path("workbook", "input/councils.xlsx"),
        template=path("template", "templates/letter.docx"),
        email_template=path("email_template", "templates/email.txt"),
        output=path("output", "output"),
        email_from=str(email.get("from", Settings.email_from)),
        email_subject=str(email.get("subject", Settings.email_subject)),
        smtp=smtp,
        send=_send_settings(_table(raw, "send", where), environ, where, oauth2),
        oauth2=oauth2,
        mailbox=_mailbox_settings(_table(raw, "mailbox", where), environ, where, smtp, oauth2),
        pdf=dataclasses.replace(
            _pdf_settings(_table(raw, "pdf", where), where, base),
            made_at=made_at(letter_date, environ).isoformat().replace("+00:00", "Z"),
        ),
        proof_pages=pages,
        proof_change_points=change,
        chart_dpi=dpi,
        field_map=_field_map(_table(raw, "fields", where), where),
        publish_on=_publish_on(batch, where),
    )


def _settings_file(config_file: Path | None) -> Path:
    """The settings file named with --config, else the working folder's."""
    if config_file is None:
        config_file = Path.cwd() / CONFIG_NAME
        if not config_file.is_file():
            raise InputError(
                f"There is no {CONFIG_NAME} in {Path.cwd()}, so this is not a working folder. "
                f"Run letter-merge in the folder that has {CONFIG_NAME} (cd there first), or name "
                "the settings file: letter-merge --config PATH/letter-merge.toml ..."
            )
    elif not config_file.is_file():
        raise InputError(f"{config_file}: no such settings file; check the --config path.")
    return config_file


def _year(batch: Mapping[str, Any], where: str, today: dt.date) -> int:
    year = batch.get("year", today.year)
    if not isinstance(year, int) or not 1900 < year < 3000:
        raise InputError(f"{where}: [batch] year = {year!r} is not a year; write e.g. year = 2020.")
    return year


def _letter_date(batch: Mapping[str, Any], where: str, today: dt.date) -> dt.date:
    letter_date = batch.get("letter_date", today)
    if isinstance(letter_date, dt.datetime):
        letter_date = letter_date.date()
    if not isinstance(letter_date, dt.date):
        raise InputError(
            f"{where}: [batch] letter_date = {letter_date!r} is not a date; "
            "write it without quotes, e.g. letter_date = 2020-07-22."
        )
    return letter_date


def _proof_pages(proof: Mapping[str, Any], where: str) -> tuple[int, int]:
    """[proof] pages: the fewest and most pages a letter may have."""
    pages = proof.get("pages", [1, 4])
    if not (
        isinstance(pages, list)
        and len(pages) == 2
        and all(isinstance(p, int) and p > 0 for p in pages)
        and pages[0] <= pages[1]
    ):
        raise InputError(
            f"{where}: [proof] pages = {pages!r}: write the fewest and most, e.g. [1, 4]."
        )
    return pages[0], pages[1]


def _change_points(proof: Mapping[str, Any], where: str) -> int:
    change = proof.get("change_points", 10)
    if not isinstance(change, int) or change < 0:
        raise InputError(f"{where}: [proof] change_points = {change!r} must be a whole number.")
    return change


def _chart_dpi(chart: Mapping[str, Any], where: str) -> int:
    dpi = chart.get("dpi", Settings.chart_dpi)
    if not isinstance(dpi, int) or not 100 <= dpi <= 600:
        raise InputError(f"{where}: [chart] dpi = {dpi!r}: write a whole number from 100 to 600.")
    return dpi


def _publish_on(batch: Mapping[str, Any], where: str) -> dt.date | None:
    """[batch] publish_on: a date, written as the letter date is (None when not given)."""
    day = batch.get("publish_on")
    if isinstance(day, dt.datetime):
        day = day.date()
    if day is not None and not isinstance(day, dt.date):
        raise InputError(
            f"{where}: [batch] publish_on = {day!r} is not a date; "
            "write it without quotes, e.g. publish_on = 2020-07-29."
        )
    return day


def _field_map(table: Mapping[str, Any], where: str) -> dict[str, str]:
    """[fields]: each a merge field's name in the template = the column or field it prints."""
    mapping = {}
    for name, target in table.items():
        if not isinstance(target, str) or not target.strip():
            raise InputError(
                f"{where}: [fields] {name} = {target!r}: write the column it is, in quotes, e.g. "
                f'{name} = "Authority".'
            )
        mapping[str(name)] = target.strip()
    return mapping


def _smtp_settings(
    table: Mapping[str, Any], environ: Mapping[str, str], where: str
) -> SmtpSettings:
    """File values, each overridden by LETTER_MERGE_SMTP_<KEY> when that is set."""
    _refuse_secrets("smtp", table, where, ("password",), environment.SMTP_PASSWORD)
    values, source = _overridden("smtp", SmtpSettings(), table, environ, where)
    for key, default in vars(SmtpSettings()).items():
        if not isinstance(default, int):
            continue
        values[key] = _whole_number(values[key], source[key])
        if values[key] <= 0:
            raise InputError(f"{source[key]} = {values[key]} must be more than 0.")
    if values["security"] not in SMTP_SECURITY:
        raise InputError(
            f"[smtp] security = {values['security']!r}: use one of {', '.join(SMTP_SECURITY)}."
        )
    if values["auth"] not in SMTP_AUTH:
        raise InputError(f"[smtp] auth = {values['auth']!r}: use one of {', '.join(SMTP_AUTH)}.")
    return SmtpSettings(**values)


def _send_settings(
    table: Mapping[str, Any], environ: Mapping[str, str], where: str, oauth2: OAuth2Settings
) -> SendSettings:
    """[send] via, overridden by LETTER_MERGE_SEND_VIA when that is set."""
    source = environment.SEND_VIA if environment.SEND_VIA in environ else f"{where}: [send] via"
    via = str(environ.get(environment.SEND_VIA, table.get("via", SendSettings.via))).strip()
    if via not in SEND_VIA:
        raise InputError(
            f"{source} = {via!r}: use " + " or ".join(f'"{v}"' for v in SEND_VIA) + "."
        )
    if via == "graph" and oauth2.provider != "microsoft":
        raise InputError(
            f'{source} = "graph" sends through Microsoft 365, but [oauth2] provider is '
            f'{oauth2.provider!r}: for Gmail send with [smtp] auth = "oauth2".'
        )
    return SendSettings(via=via)


def _mailbox_settings(
    table: Mapping[str, Any],
    environ: Mapping[str, str],
    where: str,
    smtp: SmtpSettings,
    oauth2: OAuth2Settings,
) -> MailboxSettings:
    """[mailbox], each key overridden by LETTER_MERGE_MAILBOX_<KEY> when that is set; a key set
    in neither follows [smtp]: the provider's IMAP host, the same username, OAuth 2.0 if sending
    uses it, and the port that goes with the security."""
    _refuse_secrets("mailbox", table, where, ("password",), environment.MAILBOX_PASSWORD)
    follows_smtp: dict[str, Any] = {
        "host": IMAP_HOSTS.get(smtp.host.lower(), smtp.host),
        "username": smtp.username,
        "auth": "oauth2" if smtp.auth == "oauth2" else "password",
    }
    values, source = _overridden("mailbox", MailboxSettings(), table, environ, where, follows_smtp)
    for key, allowed in (
        ("security", MAILBOX_SECURITY),
        ("auth", MAILBOX_AUTH),
        ("mark", MAILBOX_MARKS),
    ):
        if values[key] not in allowed:
            raise InputError(
                f"{source[key]} = {values[key]!r}: use one of "
                + ", ".join(f'"{a}"' for a in allowed)
                + "."
            )
    if values["mark"] and values["auth"] == "graph":
        raise InputError(
            f"{source['mark']} = {values['mark']!r}: marking read works over IMAP only (reading "
            "through Microsoft Graph asks only to read); remove it, or use IMAP."
        )
    if "port" not in table and environment.override("mailbox", "port") not in environ:
        values["port"] = 993 if values["security"] == "tls" else 143
    values["port"] = _whole_number(values["port"], source["port"])
    if not 0 < values["port"] < 65536:
        raise InputError(f"{source['port']} = {values['port']} must be from 1 to 65535.")
    for key, example in (("host", "outlook.office365.com"), ("folder", "INBOX")):
        if not values[key]:
            raise InputError(f'{source[key]} is empty: write it in quotes, e.g. "{example}".')
    if values["security"] == "none" and values["host"].lower() not in LOCAL_HOSTS:
        raise InputError(
            f'{source["security"]} = "none" would send the password unencrypted, which is allowed '
            f"only to this machine (127.0.0.1 or localhost), not to {values['host']!r}: use "
            '"tls" (port 993) or "starttls" (port 143).'
        )
    if values["auth"] == "graph" and oauth2.provider != "microsoft":
        raise InputError(
            f'{source["auth"]} = "graph" reads a Microsoft 365 mailbox, but [oauth2] provider is '
            f'{oauth2.provider!r}: for Gmail use "oauth2" (IMAP).'
        )
    return MailboxSettings(**values)


def _pdf_settings(table: Mapping[str, Any], where: str, base: Path) -> PdfSettings:
    accessible = table.get("accessible", PdfSettings.accessible)
    if not isinstance(accessible, bool):
        raise InputError(
            f"{where}: [pdf] accessible = {accessible!r}: write true or false, without quotes."
        )
    archive = table.get("archive", PdfSettings.archive)
    # Written by hand as "pdf/a-2b" or "PDF/A-2B": the same thing.
    chosen = next((a for a in PDF_ARCHIVES if str(archive).lower() == a.lower()), None)
    if chosen is None:
        raise InputError(
            f"{where}: [pdf] archive = {archive!r}: use "
            + " or ".join(f'"{a}"' for a in PDF_ARCHIVES)
            + "."
        )
    soffice = table.get("soffice", "")
    if not isinstance(soffice, str):
        raise InputError(
            f"{where}: [pdf] soffice = {soffice!r}: write the path of LibreOffice's soffice "
            "program in quotes."
        )
    # Written as Windows' "Copy as path" gives it, in quotes of its own; relative to this file.
    soffice = soffice.strip().strip('"').strip()
    if soffice:
        soffice = str(base / Path(soffice).expanduser())
    return PdfSettings(accessible=accessible, archive=chosen, soffice=soffice)


def _oauth2_settings(
    table: Mapping[str, Any], environ: Mapping[str, str], where: str
) -> OAuth2Settings:
    """[oauth2], each key overridden by LETTER_MERGE_OAUTH2_<KEY> when that is set."""
    secrets = ("client_secret", "secret", "password", "refresh_token", "access_token")
    _refuse_secrets("oauth2", table, where, secrets, environment.OAUTH2_CLIENT_SECRET)
    values, _ = _overridden("oauth2", OAuth2Settings(), table, environ, where)
    for key, allowed in (("provider", OAUTH2_PROVIDERS), ("flow", OAUTH2_FLOWS)):
        if values[key] not in allowed:
            raise InputError(
                f"{where}: [oauth2] {key} = {values[key]!r}: use one of {', '.join(allowed)}."
            )
    if values["provider"] == "google" and values["flow"] == "device-code":
        raise InputError(
            f'{where}: [oauth2] flow = "device-code": Google does not allow signing in to Gmail '
            'with a device code; use flow = "browser" (letter-merge login opens the browser on '
            'this machine) or "client-credentials" (a Workspace service account).'
        )
    if values["provider"] == "microsoft" and values["flow"] == "browser":
        raise InputError(
            f'{where}: [oauth2] flow = "browser" is for Google; for Microsoft 365 use '
            '"device-code" (sign in from any browser with a code) or "client-credentials".'
        )
    if values["authority"] and not values["authority"].startswith("https://"):
        raise InputError(
            f"{where}: [oauth2] authority = {values['authority']!r} must be an https:// address."
        )
    return OAuth2Settings(**values)


def _overridden(
    section: str,
    defaults: object,
    table: Mapping[str, Any],
    environ: Mapping[str, str],
    where: str,
    follows: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each field of `defaults` (a settings dataclass) from LETTER_MERGE_<SECTION>_<KEY> when that
    is set, else from the file's [section], else from `follows`, else its default; text trimmed
    (numbers are the caller's to read). With, for each key, where its value came from."""
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for key, default in vars(defaults).items():
        env_name = environment.override(section, key)
        source[key] = env_name if env_name in environ else f"{where}: [{section}] {key}"
        value = environ.get(env_name, table.get(key, (follows or {}).get(key, default)))
        values[key] = value if isinstance(default, int) else str(value).strip()
    return values, source


def _refuse_secrets(
    section: str, table: Mapping[str, Any], where: str, secrets: tuple[str, ...], variable: str
) -> None:
    """A secret is never in the settings file: it comes from `variable` or the keyring."""
    for secret in secrets:
        if secret in table:
            raise InputError(
                f"{where}: [{section}] {secret} must not be in the settings file; remove it and "
                f"set {variable} or store it in the system keyring."
            )


def _whole_number(value: Any, source: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"{source} = {value!r} is not a whole number.") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path.name}: not valid TOML ({error}); fix that line.") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror}).") from None


def _table(raw: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    table = raw.get(name, {})
    if not isinstance(table, Mapping):
        raise InputError(f"{where}: [{name}] must be a table of settings.")
    return table
