"""The Microsoft Graph transport: each message made a draft from its .eml, its internetMessageId
checked to be the one queued, then the draft sent; found again by that internetMessageId when
the outcome of a send is unknown. Paced to [smtp] rate_per_minute (pacing.py), as SMTP is;
Graph's address, the token's renewal and Graph's waits are the one Graph client's (mail/graph.py).

It knows nothing of letters or the ledger; sending.py decides what may go and records what
happened, the same for this transport as for SMTP (transport.py).

Graph, as Microsoft documents it: a message is created from MIME by POSTing it base64-encoded
as text/plain to /messages (201, a draft, with its id and internetMessageId); the
internetMessageId of a draft may be updated (PATCH); POST /messages/{id}/send answers 202 and
saves the message to Sent Items; a message is found by $filter=internetMessageId eq '...'. A
request may be at most 4 MB; 429 and 503 come with Retry-After; 401 means the token expired;
403 ErrorSendAsDenied means the signed-in person (or app) may not send as the From mailbox.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from typing import Any

from letter_merge.config import Settings
from letter_merge.mail.graph import BUSY_STATUSES, BUSY_TRIES, GraphClient
from letter_merge.mail.send.pacing import Pacer
from letter_merge.mail.send.transport import (
    BACKOFF_SECONDS,
    Found,
    InDoubt,
    Reply,
    SendStopped,
    send_as_refused,
)
from letter_merge.mail.signin.oauth import Tokens
from letter_merge.steps import Next

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 120  # for each request: a 3 MB message on a slow line
REQUEST_LIMIT = 4 * 1024 * 1024  # Graph's limit on a request's size


@dataclass(frozen=True)
class _Answer:
    status: int
    data: dict[str, Any]
    code: str  # Graph's error code ("" when it gave none)
    text: str  # Graph's error message, first line


class GraphConnection:
    """Sending through Microsoft Graph as [oauth2] signs in: a person (drafts in their own
    mailbox, From the team's mailbox if [email] from names it) or an app (drafts in [email]
    from's mailbox). At most `rate_per_minute` messages a minute."""

    via = "graph"

    def __init__(
        self,
        settings: Settings,
        tokens: Tokens,
        sleep: Callable[[float], None],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.settings = settings
        self.sleep = sleep
        self.pace = Pacer(settings.smtp.rate_per_minute, sleep)
        self.mailbox = _address(settings.email_from)
        # A person's drafts are made in their own mailbox (and the sent message saved to their
        # Sent Items); an app has no mailbox of its own: it works in the one it sends from.
        self.graph = GraphClient(settings.oauth2, tokens, self.mailbox, environ, sleep=sleep)
        self.app = self.graph.app
        self.base = self.graph.base
        # Drafts already made for a Message-ID whose send did not go (sent again as they are).
        self._drafts: dict[str, str] = {}

    def __enter__(self) -> GraphConnection:
        self.graph.sign_in()  # a refused sign-in stops before anything is marked
        return self

    def __exit__(self, *exc: object) -> None:
        self.graph.close()

    @property
    def where(self) -> str:
        host = urllib.parse.urlsplit(self.base).netloc
        return f"Microsoft Graph ({host})"

    # sending

    def transmit(self, sender: str, recipients: tuple[str, ...], data: bytes) -> str:
        """One message: as a draft (made now, or left by a send that did not go), with the
        Message-ID it was queued with, then sent. Raises Reply for a refusal of this message,
        InDoubt when the send request's answer was lost, SendStopped when nothing more can go."""
        message_id = _message_id(data)
        encoded = base64.b64encode(data)
        if len(encoded) > REQUEST_LIMIT:
            raise Reply(
                552,
                f"the message is {len(data) / 1e6:.1f} MB, over Microsoft Graph's limit of 4 MB "
                "a request (3 MB before encoding): make its PDF smaller",
            )
        self.pace()
        draft = self._drafts.pop(message_id, "") or self._create(message_id, encoded)
        try:
            answer = self._request("POST", f"{self._message_url(draft)}/send", in_doubt=True)
        except SendStopped:  # it did not go, and the run stops: no draft left behind
            self._delete(draft)
            raise
        if answer.status == 404:  # the draft is gone: sent already, or deleted by someone
            raise InDoubt("Microsoft Graph no longer has the draft it was asked to send")
        if answer.status != 202:
            self._drafts[message_id] = draft  # sent as it is if tried again
            raise self._refusal(answer)
        return f"202 Accepted by Microsoft Graph; internetMessageId {message_id}"

    def _create(self, message_id: str, encoded: bytes) -> str:
        """A draft of the message; its id. Its internetMessageId is made the queued Message-ID
        if Graph gave it another, since delivery reports are matched by it."""
        answer = self._request(
            "POST",
            self.graph.url("messages"),
            body=encoded,
            content_type="text/plain",
            lost=lambda: self._existing_draft(message_id),
        )
        if answer.status != 201:
            raise self._refusal(answer)
        draft = str(answer.data.get("id", ""))
        given = str(answer.data.get("internetMessageId", ""))
        if not draft:
            raise SendStopped(
                "Microsoft Graph made the draft but did not say its id; nothing more was sent."
            )
        if given != message_id:
            fixed = self._request(
                "PATCH",
                self._message_url(draft),
                body=json.dumps({"internetMessageId": message_id}).encode(),
                content_type="application/json",
            )
            if fixed.status != 200 or fixed.data.get("internetMessageId") != message_id:
                self._delete(draft)
                raise Reply(
                    554,
                    f"Microsoft Graph would send it as {given or 'an unknown Message-ID'}, not "
                    f"as queued ({message_id}), so delivery reports could not be matched to it",
                )
        return draft

    def _existing_draft(self, message_id: str) -> _Answer | None:
        """After a lost answer to making a draft: the draft, if it was made after all."""
        found = self.look_up(message_id)
        if found.state == "draft":
            return _Answer(201, {"id": found.draft_id, "internetMessageId": message_id}, "", "")
        return None

    def _delete(self, draft: str) -> None:
        try:
            self._request("DELETE", self._message_url(draft))
        except (SendStopped, InDoubt):
            log.info("could not delete the draft %s", draft)

    # finding a message again

    def look_up(self, message_id: str) -> Found:
        """Where the message with this internetMessageId is, in any folder of the mailbox the
        drafts are made in: sent (Sent Items, or on its way), a draft (it never went), or
        nowhere (it was never made, so never sent). "unknown" when Graph cannot be asked."""
        escaped = message_id.replace("'", "''")
        try:
            answer = self._request(
                "GET",
                self.graph.url("messages"),
                params={
                    "$filter": f"internetMessageId eq '{escaped}'",
                    "$select": "id,isDraft,internetMessageId,parentFolderId",
                },
            )
        except (SendStopped, InDoubt) as error:
            return Found("unknown", reason=str(error))
        if answer.status != 200:
            return Found("unknown", reason=f"{answer.status} {answer.code}: {answer.text}")
        found = [
            m for m in answer.data.get("value", []) if m.get("internetMessageId") == message_id
        ]
        if any(not m.get("isDraft", False) for m in found):
            return Found("sent", reason="found in the mailbox's sent messages")
        if found:
            draft = str(found[0].get("id", ""))
            self._drafts[message_id] = draft
            return Found("draft", draft_id=draft, reason="found as an unsent draft")
        return Found("absent", reason="not in the mailbox: it was never sent")

    # requests

    def _message_url(self, draft: str) -> str:
        return self.graph.url(f"messages/{urllib.parse.quote(draft, safe='')}")

    def _request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        content_type: str = "",
        params: Mapping[str, str] | None = None,
        in_doubt: bool = False,  # a lost answer means the outcome is unknown
        lost: Callable[[], _Answer | None] | None = None,  # what a lost answer turned out to be
    ) -> _Answer:
        """One request, through the Graph client (a token renewed once if refused, busy
        answers waited out); a connection refused is tried once more after a pause."""
        import requests

        reconnected = False
        while True:
            try:
                response = self.graph.request(
                    method,
                    url,
                    body=body,
                    content_type=content_type,
                    params=params,
                    timeout=TIMEOUT_SECONDS,
                )
            except requests.exceptions.SSLError as error:
                raise SendStopped(
                    f"Cannot connect securely to {self.where} ({_first(str(error))}); check the "
                    "computer's clock and the network's proxy certificate "
                    "(REQUESTS_CA_BUNDLE). What was not sent stays queued."
                ) from None
            except requests.exceptions.ConnectionError as error:
                sent = _request_went(error)
                if in_doubt and sent:
                    raise InDoubt(
                        f"the connection to {self.where} was lost after the request"
                    ) from None
                if sent and lost is not None:
                    found = lost()
                    if found is not None:
                        return found
                if reconnected:
                    raise SendStopped(
                        f"Cannot reach {self.where} ({_first(str(error))}); check the network. "
                        "What was not sent stays queued."
                    ) from None
                reconnected = True
                self.sleep(BACKOFF_SECONDS)
                continue
            except requests.exceptions.Timeout:
                if in_doubt:
                    raise InDoubt(f"{self.where} did not answer the request in time") from None
                raise SendStopped(
                    f"{self.where} did not answer in time; what was not sent stays queued."
                ) from None
            return self._checked(_answer(response))

    def _checked(self, answer: _Answer) -> _Answer:
        """The answer, unless it stops the run: a sign-in refused again, Graph still busy, or
        a permission missing."""
        if answer.status == 401:
            raise SendStopped(
                f"{self.where} refused the sign-in ({answer.code or 401}: {answer.text}). "
                "Sign in again. Nothing more was sent.",
                next_step=Next.SIGN_IN,
            )
        if answer.status in BUSY_STATUSES:
            raise SendStopped(
                f"{self.where} is still busy after {BUSY_TRIES} tries ({answer.status} "
                f"{answer.code}: {answer.text}); send again later. What was not sent "
                "stays queued."
            )
        if answer.status == 403:
            raise self._forbidden(answer)
        return answer

    def _forbidden(self, answer: _Answer) -> SendStopped:
        if answer.code == "ErrorSendAsDenied":
            return SendStopped(send_as_refused(self.mailbox, via="graph", app=self.app))
        if self.app:
            grant = (
                f"Mail.Send and Mail.ReadWrite for {self.mailbox}, as the RBAC for Applications "
                "roles Application Mail.Send and Application Mail.ReadWrite scoped to it, or as "
                "Graph application permissions with an application access policy that includes it"
            )
        else:
            grant = (
                "the delegated permissions Mail.Send, Mail.Send.Shared and Mail.ReadWrite "
                "(then sign in again)"
            )
        return SendStopped(
            f"{self.where} refused ({answer.code or 403}: {answer.text}): the app lacks a "
            f"permission. An administrator grants it: {grant} (the manual, For IT: Microsoft 365 without "
            "SMTP). Nothing more was sent."
        )

    def _refusal(self, answer: _Answer) -> Reply:
        """This message refused: permanent (5xx) unless Graph says it may pass later."""
        if answer.status == 413:
            return Reply(552, f"over Microsoft Graph's 4 MB limit ({answer.code}: {answer.text})")
        code = 451 if answer.status >= 500 else 550
        return Reply(code, f"Microsoft Graph {answer.status} {answer.code}: {answer.text}".strip())


def _answer(response: Any) -> _Answer:
    try:
        data = response.json() if response.content else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    assert isinstance(error, dict)
    return _Answer(
        int(response.status_code),
        data,
        str(error.get("code", "")),
        _first(str(error.get("message", "") or response.reason or "")),
    )


def _request_went(error: Exception) -> bool:
    """Whether the request may have reached Graph before the connection failed: anything but a
    refused or unresolvable connection (nothing was sent then)."""
    words = str(error).lower()
    return not any(
        w in words
        for w in (
            "connection refused",
            "name or service not known",
            "failed to resolve",
            "newconnectionerror",
            "nodename nor servname",
        )
    )


def _message_id(data: bytes) -> str:
    header = BytesHeaderParser().parsebytes(data).get("Message-ID", "")
    return str(header).strip()


def _address(from_header: str) -> str:
    from email.utils import parseaddr

    return parseaddr(from_header)[1]


def _first(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
