"""GRAPH SENDING STAND-IN: a local HTTPS server on 127.0.0.1 that answers the Microsoft Graph
requests letter-merge sends mail with, as Microsoft documents them. Microsoft's cloud cannot run
here; this stands in for it and is named so.

- POST /{who}/messages, a base64 MIME message as text/plain: 201, a draft, its internetMessageId
  the MIME's Message-ID; a request over 4 MB: 413.
- PATCH /{who}/messages/{id}: a draft's internetMessageId changed.
- POST /{who}/messages/{id}/send: 202; the draft moves to Sent Items under a new id.
- GET /{who}/messages?$filter=internetMessageId eq '...': the messages with it, in any folder.
- DELETE /{who}/messages/{id}: 204.
- GET /{who}/mailFolders/inbox/messages and /{who}/messages/{id}/$value: what arrived (bounce
  reports), for letter-merge delivery to read.
- Bearer tokens checked against the identity stand-in's (401 when expired); a From mailbox the
  signed-in person may not send as: 403 ErrorSendAsDenied; `script` answers the next send
  requests with 429 (Retry-After), 503, 403 ErrorAccessDenied, or drops the connection after
  the request (having sent the message, or not).
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from tests.helpers import StandInHandler, serving_http

LIMIT = 4 * 1024 * 1024


@dataclass
class Stored:
    id: str
    internet_message_id: str
    folder: str  # "drafts" | "sentitems"
    raw: bytes
    mailbox: str  # whose mailbox ("me" or users/<address>)
    received: str = ""  # receivedDateTime, for what arrives in the inbox

    @property
    def is_draft(self) -> bool:
        return self.folder == "drafts"

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class GraphSendStandIn:
    """GRAPH SENDING STAND-IN (see the module): one tenant's mailboxes, as Graph shows them."""

    valid: Callable[[str], bool] = lambda token: token == "graph-token"
    send_as: set[str] = field(default_factory=set)  # From addresses the sign-in may send as
    script: list[str] = field(default_factory=list)  # what the next send requests meet
    reassign: bool = False  # give drafts Graph's own internetMessageId (the client fixes it)
    retry_after: str = "2"
    delay: float = 0.0  # seconds each send takes (for a kill in the middle)
    port: int = 0
    items: dict[str, Stored] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"https://localhost:{self.port}/v1.0"

    @property
    def sent(self) -> list[Stored]:
        return [item for item in self.items.values() if item.folder == "sentitems"]

    def _new_id(self) -> str:
        self.counter += 1
        return f"AAMkAD/{self.counter:05d}+Q=="

    def deliver(self, mailbox: str, raw: bytes, received: str) -> None:
        """A message arrives in `mailbox`'s inbox (a bounce report, say)."""
        with self.lock:
            item = Stored(self._new_id(), "", "inbox", raw, mailbox, received)
            self.items[item.id] = item

    def answer(
        self, method: str, target: str, token: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes | None]:
        """(status, headers, body); body None: the connection is dropped with no answer."""
        address = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(address.query))
        parts = [urllib.parse.unquote(p) for p in address.path.removeprefix("/v1.0/").split("/")]
        with self.lock:
            self.requests.append((method, "/".join(parts)))
        if parts[0] == "users":
            who, rest = f"users/{parts[1]}", parts[2:]
        else:
            who, rest = parts[0], parts[1:]
        if not self.valid(token):
            return _error(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        if len(body) > LIMIT:
            return _error(413, "RequestEntityTooLarge", "The request is larger than 4 MB.")
        if rest == ["messages"] and method == "POST":
            try:
                raw = base64.b64decode(body, validate=True)
            except ValueError:
                return _error(
                    400,
                    "ErrorMimeContentInvalidBase64String",
                    "Invalid base64 string for MIME content.",
                )
            message = email.message_from_bytes(raw, policy=email.policy.default)
            internet_id = str(message.get("Message-ID", "")).strip()
            with self.lock:
                if self.reassign or not internet_id:
                    internet_id = f"<{self._new_id()}@eur.prod.outlook.com>"
                item = Stored(self._new_id(), internet_id, "drafts", raw, who)
                self.items[item.id] = item
            return _json(201, _resource(item))
        if rest == ["messages"] and method == "GET":
            wanted = query.get("$filter", "").removeprefix("internetMessageId eq ")
            wanted = wanted.strip("'").replace("''", "'")
            found = [
                _resource(i)
                for i in list(self.items.values())
                if i.mailbox == who and i.internet_message_id == wanted
            ]
            return _json(200, {"value": found})
        if rest == ["mailFolders", "inbox", "messages"] and method == "GET":
            listed = [
                i for i in list(self.items.values()) if i.mailbox == who and i.folder == "inbox"
            ]
            return _json(
                200, {"value": [{"id": i.id, "receivedDateTime": i.received} for i in listed]}
            )
        if len(rest) >= 2 and rest[0] == "messages":
            found_item = self.items.get(rest[1])
            if found_item is None or found_item.mailbox != who:
                return _error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            item = found_item
            if len(rest) == 2 and method == "PATCH":
                if not item.is_draft:
                    return _error(
                        400, "ErrorInvalidPropertyUpdateSentMessage", "Update is not allowed."
                    )
                item.internet_message_id = json.loads(body)["internetMessageId"]
                return _json(200, _resource(item))
            if len(rest) == 2 and method == "DELETE":
                del self.items[item.id]
                return 204, {}, b""
            if rest[2:] == ["$value"] and method == "GET":
                return 200, {"Content-Type": "message/rfc822"}, item.raw
            if rest[2:] == ["send"] and method == "POST":
                return self._send(item)
        return _error(400, "BadRequest", "Unsupported request.")

    def _send(self, item: Stored) -> tuple[int, dict[str, str], bytes | None]:
        step = self.script.pop(0) if self.script else ""
        if step == "429":
            return _error(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": self.retry_after},
            )
        if step == "503":
            return _error(
                503, "ServiceUnavailable", "Service unavailable.", {"Retry-After": self.retry_after}
            )
        if step == "403":
            return _error(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        if step == "drop-unsent":
            return 0, {}, None
        sender = getaddresses([str(item.parsed().get("From", ""))])
        address = sender[0][1].casefold() if sender else ""
        if address not in {a.casefold() for a in self.send_as}:
            return _error(
                403,
                "ErrorSendAsDenied",
                "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.",
            )
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            # Sent: saved to Sent Items, with an id of its own there.
            del self.items[item.id]
            moved = Stored(
                self._new_id(), item.internet_message_id, "sentitems", item.raw, item.mailbox
            )
            self.items[moved.id] = moved
        if step == "drop-sent":
            return 0, {}, None
        return 202, {}, b""


def _resource(item: Stored) -> dict[str, Any]:
    return {
        "id": item.id,
        "internetMessageId": item.internet_message_id,
        "isDraft": item.is_draft,
        "parentFolderId": item.folder,
    }


def _json(status: int, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps({"error": {"code": code, "message": message}}).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, data


@contextmanager
def serving(stand_in: GraphSendStandIn, context: ssl.SSLContext) -> Iterator[GraphSendStandIn]:
    """The stand-in on HTTPS at 127.0.0.1 (its certificate for localhost), until the end."""

    class Handler(StandInHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            status, headers, data = stand_in.answer(method, self.path, token, body)
            if data is None:  # the connection drops after the request, with no answer
                self.close_connection = True
                return
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serving_http(Handler, tls=context) as port:
        stand_in.port = port
        yield stand_in
