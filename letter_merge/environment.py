"""Every environment variable letter-merge reads, in one table: its name, the setting it overrides
(if any), and what it is for. The settings, the mail clients and the PDF converter read their
variables by these names; the manual's reference is generated from this table."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str
    # The letter-merge.toml setting this overrides, as "[section] key"; "" where none.
    setting: str = ""
    secret: bool = False
    # For a name kept from an earlier version: the name to use now.
    replaced_by: str = ""


def override(section: str, key: str) -> str:
    """The variable that overrides [section] key: LETTER_MERGE_<SECTION>_<KEY>."""
    return f"LETTER_MERGE_{section.upper()}_{key.upper()}"


def _overrides(section: str, keys: Mapping[str, str]) -> tuple[Variable, ...]:
    return tuple(
        Variable(override(section, key), meaning, f"[{section}] {key}")
        for key, meaning in keys.items()
    )


SMTP_PASSWORD = "LETTER_MERGE_SMTP_PASSWORD"
MAILBOX_PASSWORD = "LETTER_MERGE_MAILBOX_PASSWORD"
OAUTH2_CLIENT_SECRET = "LETTER_MERGE_OAUTH2_CLIENT_SECRET"
SEND_VIA = "LETTER_MERGE_SEND_VIA"
GRAPH_URL = "LETTER_MERGE_GRAPH_URL"
SOFFICE = "LETTER_MERGE_SOFFICE"
LIBREOFFICE_MALLOC = "LETTER_MERGE_LIBREOFFICE_MALLOC"
STATE_DIR = "LETTER_MERGE_STATE_DIR"
SYNCED = "LETTER_MERGE_SYNCED"
SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"

VARIABLES: tuple[Variable, ...] = (
    *_overrides(
        "smtp",
        {
            "host": "The SMTP server letters are sent through.",
            "port": "Its port.",
            "security": "How the connection is encrypted: starttls, ssl or none.",
            "rate_per_minute": "How many messages a minute at the most.",
            "username": "The account that signs in to send.",
            "auth": "How it signs in: password or oauth2.",
        },
    ),
    Variable(
        SMTP_PASSWORD,
        "The SMTP password (else the system's keyring is asked). Never in a file.",
        secret=True,
    ),
    Variable(
        SEND_VIA,
        "How messages leave: smtp, or graph (Microsoft Graph).",
        setting="[send] via",
    ),
    *_overrides(
        "mailbox",
        {
            "host": "The IMAP server of the mailbox read for bounces and replies.",
            "port": "Its port.",
            "security": "tls, starttls, or none (this machine only).",
            "username": "The mailbox's account.",
            "folder": "The folder read, e.g. INBOX.",
            "auth": "How it signs in: password, oauth2 (IMAP) or graph (Microsoft Graph).",
            "mark": 'Whether reports read are marked read: "" or seen.',
        },
    ),
    Variable(
        MAILBOX_PASSWORD,
        "The mailbox's password (else the keyring's, else the SMTP password). Never in a file.",
        secret=True,
    ),
    *_overrides(
        "oauth2",
        {
            "provider": "Who signs in: microsoft or google.",
            "flow": "How: device-code, browser or client-credentials.",
            "client_id": "The registered app's client ID.",
            "tenant": "The Microsoft 365 tenant (its ID or domain).",
            "authority": "Where sign-in happens, for a national cloud; an https:// address.",
        },
    ),
    Variable(
        OAUTH2_CLIENT_SECRET,
        "The app's client secret, or a Google service account's key file "
        "(else the keyring's). Never in a file.",
        secret=True,
    ),
    Variable(
        GRAPH_URL,
        "Microsoft Graph's address, for a national cloud "
        "(default https://graph.microsoft.com/v1.0); an https:// address.",
    ),
    Variable(
        "LETTER_MERGE_SEND_GRAPH_URL",
        "The earlier name of LETTER_MERGE_GRAPH_URL, for sending.",
        replaced_by=GRAPH_URL,
    ),
    Variable(
        "LETTER_MERGE_MAILBOX_GRAPH_URL",
        "The earlier name of LETTER_MERGE_GRAPH_URL, for reading the mailbox.",
        replaced_by=GRAPH_URL,
    ),
    Variable(
        SOFFICE,
        "LibreOffice's soffice program (or its folder), where it is not found by itself.",
        setting="[pdf] soffice",
    ),
    Variable(
        LIBREOFFICE_MALLOC,
        "On Linux, how LibreOffice allocates memory: jemalloc (the default where it is "
        "installed, Debian's libjemalloc2: LibreOffice converts about a tenth faster) or system.",
    ),
    Variable(
        STATE_DIR,
        "Where this computer keeps its local copies of records kept in a synced folder.",
    ),
    Variable(
        SYNCED,
        "A folder to treat as synced (OneDrive, Dropbox…), beside those found by themselves.",
    ),
    Variable(
        SOURCE_DATE_EPOCH,
        "The time every .docx and PDF a build makes says it was made, in seconds since 1970 "
        "(as reproducible builds set it); else the template's own dates and the letter date.",
    ),
)

BY_NAME: dict[str, Variable] = {variable.name: variable for variable in VARIABLES}


_said: set[str] = set()  # earlier names whose deprecation has been said in this run


def read(environ: Mapping[str, str], name: str) -> tuple[str, str]:
    """The value of the variable `name` ("" when unset) and the name it was found under:
    `name` itself, else an earlier name of it, whose deprecation is said once a run."""
    if environ.get(name):
        return name, environ[name]
    for earlier in VARIABLES:
        if earlier.replaced_by == name and environ.get(earlier.name):
            if earlier.name not in _said:
                _said.add(earlier.name)
                log.warning(
                    "%s is deprecated: it is read as %s, the one name for it now; rename it, "
                    "as a later version will not read %s.",
                    earlier.name,
                    name,
                    earlier.name,
                )
            return earlier.name, environ[earlier.name]
    return name, ""
