"""OAuth 2.0 sign-in for sending (SMTP AUTH XOAUTH2): the provider named in [oauth2] chosen.

Microsoft 365 (microsoft.py, with MSAL) and Gmail / Google Workspace (google.py, with Google's
libraries) each sign a person in once, or an app in by itself, and hand `send` fresh tokens.
What they share is in signin.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from letter_merge.config import Settings
from letter_merge.mail.signin.common import SignedIn
from letter_merge.mail.signin.google import GoogleTokens
from letter_merge.mail.signin.microsoft import MicrosoftTokens


class Tokens(Protocol):
    def sign_in(self, show: Callable[[str], None]) -> SignedIn: ...

    def status(self) -> SignedIn | None: ...

    def sign_out(self) -> bool: ...

    def token(self, *, renew: bool = False) -> tuple[str, str]: ...


def token_source(settings: Settings, *, purpose: str = "send") -> Tokens:
    """Tokens for `purpose`: "send" (SMTP, or Microsoft Graph's sending when [send] via =
    "graph"), "imap" or "graph" (reading the mailbox). Google's one scope serves sending and
    IMAP alike."""
    if settings.oauth2.provider == "google":
        return GoogleTokens(settings)
    if purpose == "send" and settings.send.via == "graph":
        purpose = "graph-send"
    return MicrosoftTokens(settings, purpose=purpose)
