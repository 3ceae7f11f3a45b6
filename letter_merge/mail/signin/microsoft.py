"""Signing in to Microsoft 365 for sending, with MSAL (Microsoft's own library): the
device-code flow (a person signs in once, in any browser, with a code; the refresh token is kept
in the system keyring and renews access tokens silently) and client credentials (an unattended
app with its client secret)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from letter_merge.config import OAuth2Settings, Settings
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

# What the token is for, as the signed-in user (device code) or as an app (client credentials):
# sending mail (SMTP.Send, SMTP.SendAsApp), reading the mailbox with IMAP (IMAP.AccessAsUser.All,
# IMAP.AccessAsApp), or with Microsoft Graph where IMAP is turned off (Mail.Read).
SCOPES = {
    "send": {
        "device-code": ["https://outlook.office.com/SMTP.Send"],
        "client-credentials": ["https://outlook.office365.com/.default"],
    },
    "imap": {
        "device-code": ["https://outlook.office.com/IMAP.AccessAsUser.All"],
        "client-credentials": ["https://outlook.office365.com/.default"],
    },
    "graph": {
        "device-code": ["https://graph.microsoft.com/Mail.Read"],
        "client-credentials": ["https://graph.microsoft.com/.default"],
    },
    # Sending with Graph ([send] via = "graph"): each message is made a draft in the signed-in
    # person's mailbox (Mail.ReadWrite, which also finds it again by its internetMessageId),
    # then sent (Mail.Send), from the team's mailbox if [email] from names one they may send
    # as (Mail.Send.Shared). An app: Mail.Send and Mail.ReadWrite, as the administrator granted.
    "graph-send": {
        "device-code": [
            "https://graph.microsoft.com/Mail.Send",
            "https://graph.microsoft.com/Mail.Send.Shared",
            "https://graph.microsoft.com/Mail.ReadWrite",
        ],
        "client-credentials": ["https://graph.microsoft.com/.default"],
    },
}
# The permission an administrator grants for each, as Entra ID names it.
PERMISSIONS = {
    "send": "to send mail (SMTP.Send)",
    "imap": "to read mail with IMAP (IMAP.AccessAsUser.All)",
    "graph": "to read mail (Mail.Read)",
    "graph-send": "to send mail with Microsoft Graph (Mail.Send, Mail.Send.Shared, Mail.ReadWrite)",
}


class MicrosoftTokens:
    """Access tokens for one batch's [oauth2] settings: from the keyring's cache (signed-in
    user) or from the client secret (app), renewed when they expire."""

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
        *,
        purpose: str = "send",  # a key of SCOPES
    ) -> None:
        self.settings = settings
        self.purpose = purpose
        self.oauth2 = settings.oauth2
        self.environ = dict(os.environ) if environ is None else dict(environ)
        check_settings(self.oauth2)
        self._app: Any = None
        self._cache: Any = None

    # signing in and out (device code)

    def sign_in(self, show: Callable[[str], None]) -> SignedIn:
        """The device-code flow: `show` is given the address to visit and the code; this waits
        until the person has signed in (or the code expires)."""
        if self.oauth2.flow != "device-code":
            raise OAuthError(
                'Signing in is for [oauth2] flow = "device-code"; with "client-credentials" '
                "the app signs in by itself with its client secret."
            )
        app = self._public_app()
        flow = app.initiate_device_flow(scopes=self._scopes())
        if "user_code" not in flow:
            raise OAuthError(_explain(flow, "could not start signing in"))
        show(
            str(
                flow.get("message")
                or f"Visit {flow['verification_uri']} and enter {flow['user_code']}"
            )
        )
        result = app.acquire_token_by_device_flow(flow)
        if "access_token" not in result:
            raise OAuthError(_explain(result, "signing in did not finish"))
        self._save()
        return self._signed_in(result)

    def status(self) -> SignedIn | None:
        """Who is signed in (device code), without signing in or renewing anything."""
        app = self._public_app()
        accounts = app.get_accounts()
        if not accounts:
            return None
        expires = 0
        for entry in self._cache.search(self._cache.CredentialType.ACCESS_TOKEN):
            expires = max(expires, int(entry.get("expires_on", 0)))
        return SignedIn(str(accounts[0].get("username", "")), expires)

    def sign_out(self) -> bool:
        """Forget the signed-in user's tokens; False if there were none."""
        return delete(self._cache_name())

    # tokens for sending

    def token(self, *, renew: bool = False) -> tuple[str, str]:
        """(the mailbox to authenticate as, a current access token); `renew` asks for a new one
        (the server refused the last)."""
        if self.oauth2.is_app:
            app = self._confidential_app()
            if renew:  # refused by the server: MSAL would hand back the same one from its cache
                app.remove_tokens_for_client()
            result = app.acquire_token_for_client(scopes=self._scopes())
            if "access_token" not in result:
                raise OAuthError(
                    _explain(result, "the app could not get a token", PERMISSIONS[self.purpose])
                )
            if self.purpose in ("graph-send", "graph"):  # Graph names the mailbox in each request
                return "", str(result["access_token"])
            if not self.settings.smtp.username:
                raise InputError(
                    "[smtp] username must name the mailbox to send as (the app sends as it)."
                )
            return self.settings.smtp.username, str(result["access_token"])
        app = self._public_app()
        accounts = app.get_accounts()
        if not accounts:
            raise OAuthError(
                "Nobody is signed in for sending: sign in first.", next_step=Next.SIGN_IN
            )
        result = app.acquire_token_silent_with_error(
            self._scopes(), account=accounts[0], force_refresh=renew
        )
        if not result or "access_token" not in result:
            raise OAuthError(
                _explain(
                    result or {},
                    "the sign-in has expired or was withdrawn",
                    PERMISSIONS[self.purpose],
                )
                + " Sign in again.",
                next_step=Next.SIGN_IN,
            )
        self._save()
        username = self.settings.smtp.username or str(accounts[0].get("username", ""))
        return username, str(result["access_token"])

    # MSAL

    def _scopes(self) -> list[str]:
        return SCOPES[self.purpose][self.oauth2.flow]

    def _public_app(self) -> Any:
        if self._app is None:
            import msal

            self._cache = msal.SerializableTokenCache()
            stored = load(self._cache_name())
            if stored:
                self._cache.deserialize(stored)
            self._app = self._msal_app(msal.PublicClientApplication, token_cache=self._cache)
        return self._app

    def _confidential_app(self) -> Any:
        if self._app is None:
            import msal

            secret = client_secret(
                self.environ,
                self.oauth2.client_id,
                "The client-credentials flow needs the app's client secret",
            )
            self._app = self._msal_app(msal.ConfidentialClientApplication, client_credential=secret)
        return self._app

    def _msal_app(self, kind: Any, **options: Any) -> Any:
        try:
            return kind(
                self.oauth2.client_id,
                authority=self.oauth2.authority_url,
                # MSAL checks an authority against Microsoft's list of hosts; a national cloud
                # set by hand, or a stand-in, is not on it.
                instance_discovery=None if self.oauth2.known_host else False,
                http_client=http_session(self.environ),
                **options,
            )
        except ValueError as error:
            raise OAuthError(
                f"Cannot reach the sign-in service at {self.oauth2.authority_url} ({error}); "
                "check [oauth2] tenant and authority."
            ) from None

    def _cache_name(self) -> str:
        return f"oauth2:{self.oauth2.provider}:{self.oauth2.client_id}:{self.oauth2.authority_url}"

    def _save(self) -> None:
        if self._cache is not None and self._cache.has_state_changed:
            store(self._cache_name(), _slim(self._cache.serialize()))
            self._cache.has_state_changed = False

    def _signed_in(self, result: Mapping[str, Any]) -> SignedIn:
        claims = result.get("id_token_claims") or {}
        username = str(claims.get("preferred_username") or claims.get("upn") or "")
        return SignedIn(username, int(time.time()) + int(result.get("expires_in", 0)))


def check_settings(oauth2: OAuth2Settings) -> None:
    if not oauth2.client_id:
        raise InputError(
            "[oauth2] client_id is not set: it is the Application (client) ID of the app your "
            "administrator registered (the manual, For IT: Microsoft 365 with OAuth 2.0)."
        )
    if oauth2.provider == "microsoft" and not oauth2.tenant and not oauth2.authority:
        raise InputError(
            "[oauth2] tenant is not set: the directory (tenant) ID or domain of your Microsoft "
            "365 organisation (the manual, For IT: Microsoft 365 with OAuth 2.0)."
        )


def _explain(result: Mapping[str, Any], what: str, permission: str = PERMISSIONS["send"]) -> str:
    """A sentence for an MSAL error (never the token or the whole response)."""
    error = str(result.get("error", "") or "")
    description = str(result.get("error_description", "") or "")
    code = description.split(":", 1)[0] if description.startswith("AADSTS") else ""
    if code in ("AADSTS65001", "AADSTS90094") or error == "consent_required":
        return (
            f"Sign-in refused: {what}, because the app's permission {permission} has not been "
            "granted. An administrator must grant it in Entra ID (the manual, For IT: Microsoft 365 with OAuth 2.0)."
        )
    if code == "AADSTS7000218" or error == "unauthorized_client":
        return (
            f"Sign-in refused: {what}, because the app does not allow this sign-in. An "
            'administrator must set "Allow public client flows" (device code) or give the app a '
            "client secret (client credentials) in Entra ID (the manual, For IT: Microsoft 365 with OAuth 2.0)."
        )
    if code in ("AADSTS7000215", "AADSTS7000222") or error == "invalid_client":
        return (
            f"Sign-in refused: {what}, because the client secret is wrong or expired. Ask your "
            f"administrator for a new one and set {SECRET_VARIABLE}."
        )
    if error == "expired_token":
        return "Signing in took too long and the code expired; sign in again."
    if error == "authorization_declined":
        return "Signing in was declined in the browser; sign in again."
    first_line = description.splitlines()[0] if description else error or "no reason given"
    return f"Sign-in failed: {what} ({first_line})."


def _slim(serialized: str) -> str:
    """The cache without what can be had again (ID tokens); access tokens kept while valid."""
    data = json.loads(serialized)
    data.pop("IdToken", None)
    return json.dumps(data, separators=(",", ":"))
