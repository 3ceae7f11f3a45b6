"""What keeps the desk a page for the person who started it, and no one else: a local server is
still a server.

- It listens on 127.0.0.1 only, and answers only requests whose Host is that address (or
  localhost) and its port, so a web page elsewhere cannot reach it through DNS rebinding.
- The address it opens carries a random key; the first request with it gets a cookie (HttpOnly,
  SameSite=Strict) and is sent on without the key in the address. Every request needs the cookie.
- Every request that changes anything is a POST with the page's CSRF token in a header, from the
  desk's own origin. No CORS headers are ever sent, so no other site can read an answer.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "letter_merge_desk"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD")
# Sent with every answer: no caching of letters or status, no address (with its key) passed on
# to another site, no framing by another site, no guessing of content types.
HEADERS = [
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
]
# The desk's own page runs only its own script; the proof page (one self-contained file of ours,
# with its script inside) is allowed inline script, and nothing else from anywhere.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)
INLINE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; "
    "object-src 'none'"
)


class DeskKeys:
    """The desk's secrets, made afresh at every start: the key in the address, the session in
    the cookie, and the CSRF token in the page."""

    def __init__(self) -> None:
        self.address_key = secrets.token_urlsafe(32)
        self.session = secrets.token_urlsafe(32)
        self.csrf = secrets.token_urlsafe(32)


class DeskGuard:
    """ASGI middleware in front of the desk: Host, key or cookie, and CSRF for every request."""

    def __init__(self, app: ASGIApp, keys: DeskKeys, port: int, inline: Callable[[str], bool]):
        self.app = app
        self.keys = keys
        self.hosts = {f"127.0.0.1:{port}".encode(), f"localhost:{port}".encode()}
        self.origins = {b"http://" + host for host in self.hosts}
        self.inline = inline  # paths whose page may run its own inline script
        self.desk: object = None  # the application's shared state (set by create_app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        path = scope.get("path", "")
        if headers.get(b"host") not in self.hosts:
            await _answer(send, 421, "This address is not the desk's. Open the one it printed.")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        key = query.get("token", [""])[0]
        if key and hmac.compare_digest(key, self.keys.address_key):
            # The key once, for a cookie; the address then loses it (history, screen shares).
            rest = {k: v for k, v in query.items() if k != "token"}
            location = path + (f"?{urlencode(rest, doseq=True)}" if rest else "")
            cookie = (f"{COOKIE}={self.keys.session}; Path=/; HttpOnly; SameSite=Strict").encode()
            await _answer(
                send, 303, "", [(b"location", location.encode()), (b"set-cookie", cookie)]
            )
            return
        if not self._has_session(headers):
            await _answer(
                send,
                403,
                "This page needs the address the desk printed when it started "
                "(it carries a key). Start the desk again if you have lost it.",
            )
            return
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get(b"origin")
            token = headers.get(CSRF_HEADER.encode(), b"").decode("latin-1")
            if (origin is not None and origin not in self.origins) or not hmac.compare_digest(
                token, self.keys.csrf
            ):
                await _answer(send, 403, "Refused: this request did not come from the desk's page.")
                return
        policy = INLINE_POLICY if self.inline(path) else PAGE_POLICY

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if not name.lower().startswith(b"access-control-")
                ]
                message["headers"] = [
                    *kept,
                    *HEADERS,
                    (b"content-security-policy", policy.encode()),
                ]
            await send(message)

        await self.app(scope, receive, guarded_send)

    def _has_session(self, headers: dict[bytes, bytes]) -> bool:
        raw = headers.get(b"cookie", b"").decode("latin-1")
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(raw)
        except Exception:  # a malformed cookie header: no session
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value, self.keys.session)


async def _answer(
    send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *HEADERS,
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
