"""What signing in for sending (OAuth 2.0) shares across providers: the errors, the XOAUTH2
response, HTTPS that trusts the user's CA bundle, and the system keyring, where sign-ins and
client secrets are kept (never a file, the ledger, a log or a message)."""

from __future__ import annotations

import base64
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from letter_merge.environment import OAUTH2_CLIENT_SECRET
from letter_merge.errors import LetterMergeError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "letter-merge"
SECRET_VARIABLE = OAUTH2_CLIENT_SECRET
# Windows Credential Manager keeps at most 2,560 bytes a credential: a sign-in is compressed
# and, if still too long, kept in numbered pieces.
PIECE = 1200


class OAuthError(LetterMergeError):
    """Signing in, or getting a token, failed; the message says what to do."""


@dataclass(frozen=True)
class SignedIn:
    username: str  # the mailbox messages are sent as
    expires_at: int  # the current access token's end, in seconds since the epoch (0: unknown)


def xoauth2(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, as Microsoft and Google take it."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


def http_session(environ: Mapping[str, str]) -> Any:
    """requests, trusting the CA bundle the user set (REQUESTS_CA_BUNDLE, SSL_CERT_FILE), as an
    office behind an inspecting proxy needs; otherwise requests' own."""
    import requests

    session = requests.Session()
    bundle = environ.get("REQUESTS_CA_BUNDLE") or environ.get("SSL_CERT_FILE")
    if bundle:
        session.verify = bundle
    return session


# The system keyring: Windows Credential Manager, macOS Keychain, Secret Service.


def _keyring() -> Any:
    import keyring
    import keyring.errors

    return keyring


def store(name: str, text: str) -> None:
    packed = base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")
    pieces = [packed[i : i + PIECE] for i in range(0, len(packed), PIECE)] or [""]
    ring = _keyring()
    try:
        delete(name)
        for number, piece in enumerate(pieces):
            ring.set_password(KEYRING_SERVICE, f"{name}#{number}", piece)
        ring.set_password(KEYRING_SERVICE, name, str(len(pieces)))
    except Exception as error:  # keyring.errors.KeyringError and the backends' own errors
        raise OAuthError(
            f"The system keyring could not keep the sign-in ({type(error).__name__}); on Linux, "
            "a Secret Service (GNOME Keyring, KWallet) must be running. Nothing was written "
            "to a file."
        ) from None


def load(name: str) -> str:
    ring = _keyring()
    try:
        count = ring.get_password(KEYRING_SERVICE, name)
        if not count:
            return ""
        packed = "".join(
            ring.get_password(KEYRING_SERVICE, f"{name}#{number}") or ""
            for number in range(int(count))
        )
        return zlib.decompress(base64.b64decode(packed)).decode("utf-8")
    except Exception as error:  # a missing backend, or a damaged entry: sign in again
        log.info("no usable sign-in in the keyring: %s", type(error).__name__)
        return ""


def delete(name: str) -> bool:
    ring = _keyring()
    try:
        count = ring.get_password(KEYRING_SERVICE, name)
    except Exception:
        return False
    if not count:
        return False
    for number in range(int(count)):
        try:
            ring.delete_password(KEYRING_SERVICE, f"{name}#{number}")
        except Exception:
            log.info("a piece of the sign-in was already gone")
    ring.delete_password(KEYRING_SERVICE, name)
    return True


def client_secret(environ: Mapping[str, str], client_id: str, needed_for: str) -> str:
    """The app's secret (a client secret, or a service account's key) from the environment, else
    the system keyring; an error saying where to put it when it is in neither."""
    secret = environ.get(SECRET_VARIABLE) or _stored_secret(client_id)
    if not secret:
        raise OAuthError(
            f"{needed_for}: set {SECRET_VARIABLE} for the run, or store it in the system keyring "
            f"(keyring set {KEYRING_SERVICE} oauth2-client-secret:{client_id})."
        )
    return secret


def _stored_secret(client_id: str) -> str:
    try:
        return str(
            _keyring().get_password(KEYRING_SERVICE, f"oauth2-client-secret:{client_id}") or ""
        )
    except Exception:
        return ""
