"""The one Microsoft Graph client, which sending (send/graph.py) and reading the mailbox
(inbox/graph.py) both speak through: Graph's address (LETTER_MERGE_GRAPH_URL, for a national
cloud), the mailbox requests go to ("me", or users/<mailbox> for an app), the bearer token renewed
once when refused, and Graph's requests to slow down (429, 503, 504) waited out as its
Retry-After asks. What a refusal means is said by each use of it, in its own words."""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from letter_merge.config import OAuth2Settings
from letter_merge.environment import GRAPH_URL, read
from letter_merge.errors import InputError
from letter_merge.mail.signin.common import http_session
from letter_merge.mail.signin.oauth import Tokens

log = logging.getLogger(__name__)

DEFAULT_URL = "https://graph.microsoft.com/v1.0"
BUSY_STATUSES = (429, 503, 504)  # Graph asking for a wait (Retry-After) before trying again
BUSY_TRIES = 6  # a request answered busy is tried this many times in all
BACKOFF_SECONDS = 2.0  # the first wait when Graph gives no Retry-After; it doubles each time
LONGEST_WAIT_SECONDS = 120.0  # the longest Retry-After obeyed


def graph_url(environ: Mapping[str, str]) -> tuple[str, str]:
    """Graph's address (no trailing slash), and the variable that set it ("" for the default).
    Only https://: the bearer token goes nowhere in clear."""
    name, value = read(environ, GRAPH_URL)
    base = (value or DEFAULT_URL).rstrip("/")
    if not base.startswith("https://"):
        raise InputError(f"{name} = {base!r} must be an https:// address.")
    return base, name if value else ""


def retry_after(value: str | None, tries: int) -> float:
    """How long to wait before trying again after Graph's `tries`-th busy answer: its
    Retry-After in seconds (at most LONGEST_WAIT_SECONDS), else a doubling wait."""
    doubling = float(BACKOFF_SECONDS * 2 ** (tries - 1))
    try:
        wait = float(value) if value is not None else doubling
    except ValueError:
        wait = doubling
    return max(0.0, min(wait, LONGEST_WAIT_SECONDS))


class GraphClient:
    """Requests to one mailbox in Microsoft Graph. An app (client credentials) has no mailbox of
    its own and names `mailbox`; a signed-in person works in their own ("me")."""

    def __init__(
        self,
        oauth2: OAuth2Settings,
        tokens: Tokens,
        mailbox: str,
        environ: Mapping[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base, self.variable = graph_url(environ)
        self.tokens = tokens
        self.sleep = sleep
        self.session = http_session(environ)
        self.app = oauth2.is_app
        self.who = f"users/{urllib.parse.quote(mailbox, safe='@')}" if self.app else "me"
        self.token = ""

    def url(self, path: str) -> str:
        """The address of `path` in the mailbox: "messages" -> .../me/messages."""
        return f"{self.base}/{self.who}/{path}"

    def sign_in(self) -> None:
        """A token now: a refused sign-in stops before anything is asked of Graph."""
        _, self.token = self.tokens.token()

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        body: bytes | None = None,
        content_type: str = "",
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Graph's answer (a requests Response) to one request, with the token renewed once if
        it is refused (401) and busy answers waited out, BUSY_TRIES times in all; the answer
        after that is the caller's to word. requests' own errors (no connection, a timeout, a
        certificate refused) are the caller's too."""
        renewed = False
        busy = 0
        while True:
            if not self.token:
                self.sign_in()
            headers = {"Authorization": f"Bearer {self.token}"}
            if content_type:
                headers["Content-Type"] = content_type
            answer = self.session.request(
                method,
                url,
                data=body,
                params=params,
                headers=headers,
                timeout=timeout,
                # As given: requests would otherwise let the process's REQUESTS_CA_BUNDLE
                # override the bundle the session was made with.
                verify=self.session.verify,
            )
            if answer.status_code == 401 and not renewed:
                log.info("Microsoft Graph refused the token; renewing it once")
                _, self.token = self.tokens.token(renew=True)
                renewed = True
                continue
            if answer.status_code in BUSY_STATUSES and busy < BUSY_TRIES - 1:
                busy += 1
                self.sleep(retry_after(answer.headers.get("Retry-After"), busy))
                continue
            return answer
