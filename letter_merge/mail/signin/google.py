"""Signing in to Gmail or Google Workspace for sending, with Google's own libraries (google-auth,
google-auth-oauthlib): in the browser on this machine (Google allows no device-code sign-in for
mail), or unattended as a Workspace service account with domain-wide delegation."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from letter_merge.config import Settings
from letter_merge.errors import InputError
from letter_merge.mail.signin.common import (
    SECRET_VARIABLE,
    OAuthError,
    SignedIn,
    client_secret,
    delete,
    http_session,
    load,
    store,
)
from letter_merge.steps import Next

SCOPES = ["https://mail.google.com/"]  # the one scope Gmail's SMTP and IMAP take
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


class GoogleTokens:
    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.oauth2 = settings.oauth2
        self.environ = dict(os.environ) if environ is None else dict(environ)
        if not self.oauth2.client_id and not self.oauth2.is_app:
            raise InputError(
                "[oauth2] client_id is not set: the OAuth client ID of the Google Cloud project "
                "your administrator set up (the manual, For IT: Gmail and Google Workspace)."
            )
        if not settings.smtp.username:
            raise InputError("[smtp] username must be the Gmail or Workspace address to send as.")
        # The stand-in in the tests (or a proxy) has both endpoints under one address.
        base = self.oauth2.authority.rstrip("/")
        self.auth_uri = f"{base}/auth" if base else GOOGLE_AUTH_URI
        self.token_uri = f"{base}/token" if base else GOOGLE_TOKEN_URI

    # the signed-in user (browser)

    def sign_in(self, show: Callable[[str], None]) -> SignedIn:
        if self.oauth2.flow != "browser":
            raise OAuthError(
                'Signing in is for [oauth2] flow = "browser"; with "client-credentials" the '
                "service account signs in by itself."
            )
        from google_auth_oauthlib.flow import InstalledAppFlow

        config = {
            "installed": {
                "client_id": self.oauth2.client_id,
                "client_secret": self._client_secret(),
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "redirect_uris": ["http://localhost"],
            }
        }
        flow = InstalledAppFlow.from_client_config(config, SCOPES)
        flow.oauth2session.verify = http_session(self.environ).verify
        try:
            credentials = flow.run_local_server(
                host="localhost",
                port=0,
                open_browser=True,
                authorization_prompt_message=(
                    "Sign in with Google in the browser that opens. If none opens, visit:\n{url}"
                ),
                success_message="Signed in for letter-merge. You may close this window.",
                timeout_seconds=600,
            )
        except Exception as error:  # oauthlib's many error kinds, never with the token in them
            raise OAuthError(_explain(error, "signing in did not finish")) from None
        if credentials is None:
            raise OAuthError("Signing in took too long; sign in again.", next_step=Next.SIGN_IN)
        show("")
        self._save(credentials)
        return SignedIn(self.settings.smtp.username, _expiry(credentials))

    def status(self) -> SignedIn | None:
        credentials = self._stored()
        if credentials is None:
            return None
        return SignedIn(self.settings.smtp.username, _expiry(credentials))

    def sign_out(self) -> bool:
        return delete(self._name())

    # tokens for sending

    def token(self, *, renew: bool = False) -> tuple[str, str]:
        from google.auth.transport.requests import Request

        request = Request(session=http_session(self.environ))
        if self.oauth2.is_app:
            credentials = self._service_account()
            try:
                credentials.refresh(request)
            except Exception as error:
                raise OAuthError(
                    _explain(error, "the service account could not get a token")
                ) from None
            return self.settings.smtp.username, str(credentials.token)
        credentials = self._stored()
        if credentials is None:
            raise OAuthError(
                "Nobody is signed in for sending: sign in first.", next_step=Next.SIGN_IN
            )
        if renew or not credentials.valid:
            try:
                credentials.refresh(request)
            except Exception as error:
                raise OAuthError(
                    _explain(error, "the sign-in has expired or was withdrawn") + " Sign in again.",
                    next_step=Next.SIGN_IN,
                ) from None
            self._save(credentials)
        return self.settings.smtp.username, str(credentials.token)

    def _client_secret(self) -> str:
        return client_secret(
            self.environ,
            self.oauth2.client_id,
            "Signing in with Google needs the OAuth client's secret",
        )

    def _service_account(self) -> Any:
        from google.oauth2 import service_account

        key = client_secret(
            self.environ,
            self.oauth2.client_id,
            "The client-credentials flow needs the service account's key (its JSON)",
        )
        try:
            info = json.loads(key)
            return service_account.Credentials.from_service_account_info(
                info, scopes=SCOPES, subject=self.settings.smtp.username
            )
        except (ValueError, KeyError) as error:
            raise OAuthError(
                f"The service account key is not a Google key file ({type(error).__name__}); "
                "paste the whole JSON the Google Cloud console gave."
            ) from None

    def _name(self) -> str:
        return f"oauth2:google:{self.oauth2.client_id}:{self.settings.smtp.username}"

    def _stored(self) -> Any:
        from google.oauth2.credentials import Credentials

        text = load(self._name())
        if not text:
            return None
        try:
            info = json.loads(text)
            expiry = info.get("expiry")
            # Built here rather than with from_authorized_user_info, which always renews at
            # Google's public address: the settings' authority may name another.
            return Credentials(
                token=info.get("token"),
                refresh_token=info["refresh_token"],
                token_uri=self.token_uri,
                client_id=info["client_id"],
                client_secret=info["client_secret"],
                scopes=SCOPES,
                expiry=dt.datetime.strptime(expiry.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S")
                if expiry
                else None,
            )
        except (ValueError, KeyError):
            return None

    def _save(self, credentials: Any) -> None:
        store(self._name(), credentials.to_json())


def _expiry(credentials: Any) -> int:
    expiry = getattr(credentials, "expiry", None)
    if expiry is None:
        return 0
    return int(expiry.replace(tzinfo=dt.UTC).timestamp())


def _explain(error: Exception, what: str) -> str:
    """A sentence for a Google error (never the token or the whole response)."""
    text = str(error)
    if "unauthorized_client" in text:
        return (
            f"Sign-in refused: {what}, because the service account may not send as this "
            "address. A Workspace administrator must allow its client ID the scope "
            "https://mail.google.com/ under domain-wide delegation (the manual, For IT: Gmail and Google "
            "Workspace)."
        )
    if "access_denied" in text:
        return f"Sign-in refused: {what}, because the access was declined in the browser."
    if "invalid_client" in text:
        return (
            f"Sign-in refused: {what}, because the OAuth client ID or secret is wrong; check "
            f"[oauth2] client_id and {SECRET_VARIABLE}."
        )
    if "invalid_grant" in text:
        return f"Sign-in refused: {what} (the sign-in is no longer valid)."
    # The library's words name the endpoint and the server's error, never a token.
    detail = str(error).splitlines()[0][:200] if str(error) else ""
    return f"Sign-in failed: {what} ({type(error).__name__}{': ' + detail if detail else ''})."
