"""Reading the sending mailbox through Microsoft Graph, for Microsoft 365 tenants that have turned
IMAP off: GET requests only, through the one Graph client (mail/graph.py)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Mapping
from typing import Any

from letter_merge.config import Settings
from letter_merge.environment import GRAPH_URL
from letter_merge.mail.graph import GraphClient
from letter_merge.mail.inbox.common import TIMEOUT_SECONDS, Fetched, MailboxError, server_words
from letter_merge.mail.signin.oauth import token_source
from letter_merge.steps import Next

GRAPH_PAGE = 50  # messages one page of Graph's list holds
# Graph's names for the folders every mailbox has; any other folder is looked up by its name.
GRAPH_FOLDERS = ("inbox", "junkemail", "archive", "deleteditems", "sentitems", "drafts", "outbox")


def read_graph(
    settings: Settings, since: dt.date | None, environ: Mapping[str, str]
) -> list[Fetched]:
    graph = _Graph(settings, environ)
    folder = graph.folder(settings.mailbox.folder)
    listed = graph.message_ids(folder, since)
    return [Fetched(f"graph:{message_id}", graph.mime(message_id)) for message_id in listed]


class _Graph:
    """GET requests to one mailbox in Microsoft Graph, with a bearer token renewed once if
    refused, and Graph's requests to slow down obeyed."""

    def __init__(self, settings: Settings, environ: Mapping[str, str]) -> None:
        self.mailbox = settings.mailbox
        # An app (client credentials) names the mailbox; a signed-in person reads their own.
        user = self.mailbox.username or settings.smtp.username
        self.client = GraphClient(
            settings.oauth2, token_source(settings, purpose="graph"), user, environ
        )
        self.base = self.client.base
        self.name = user or "the signed-in user"

    def folder(self, name: str) -> str:
        """Graph's id for [mailbox] folder: a name every mailbox has (inbox), a top-level
        folder's display name, a path of display names ("Inbox/Bounces"), or a folder directly
        under the inbox (where a mailbox rule files reports) found by its name alone."""
        parts = [part.strip() for part in name.split("/") if part.strip()]
        found = self._top(parts[0]) if parts else None
        if found is None and len(parts) == 1:
            found = self._child("inbox", parts[0])
        for part in parts[1:]:
            found = None if found is None else self._child(found, part)
        if found is not None:
            return found
        listed = self.get_json(
            self.client.url("mailFolders"), {"$select": "displayName", "$top": "100"}
        )
        names = [str(entry.get("displayName", "")) for entry in listed.get("value", [])]
        raise MailboxError(
            f"There is no folder {name!r} in the mailbox of {self.name} (Microsoft Graph). Check "
            f"[mailbox] folder: a folder's name, a path such as Inbox/Bounces, or one of "
            f"{', '.join(GRAPH_FOLDERS)}; the top-level folders there: "
            f"{', '.join(names) or 'none listed'}."
        )

    def _top(self, name: str) -> str | None:
        if name.lower() in GRAPH_FOLDERS:
            return name.lower()
        return self._named(self.client.url("mailFolders"), name)

    def _child(self, parent: str, name: str) -> str | None:
        quoted = urllib.parse.quote(parent, safe="")
        return self._named(self.client.url(f"mailFolders/{quoted}/childFolders"), name)

    def _named(self, url: str, name: str) -> str | None:
        escaped = name.replace("'", "''")
        found = self.get_json(
            url, {"$filter": f"displayName eq '{escaped}'", "$select": "id,displayName"}
        )
        return next((str(entry["id"]) for entry in found.get("value", [])), None)

    def message_ids(self, folder: str, since: dt.date | None) -> list[str]:
        """The ids of the folder's messages (received on or after `since`), oldest first."""
        params = {"$select": "id,receivedDateTime", "$top": str(GRAPH_PAGE)}
        if since:
            params["$filter"] = f"receivedDateTime ge {since.isoformat()}T00:00:00Z"
        url: str | None = self.client.url(f"mailFolders/{folder}/messages")
        found: list[tuple[str, str]] = []
        while url:
            page = self.get_json(url, params)
            params = {}  # the next page's address carries them
            for entry in page.get("value", []):
                received = str(entry.get("receivedDateTime", ""))
                if since is None or received[:10] >= since.isoformat():
                    found.append((received, str(entry["id"])))
            url = page.get("@odata.nextLink")
            if url and not url.startswith(self.base + "/"):
                # The token goes only where it was meant for.
                raise MailboxError(
                    f"Microsoft Graph sent the next page of {self.name}'s messages elsewhere "
                    f"({urllib.parse.urlsplit(url).netloc}); nothing more was read."
                )
        return [message_id for _, message_id in sorted(found)]

    def mime(self, message_id: str) -> bytes:
        quoted = urllib.parse.quote(message_id, safe="")
        return bytes(self.get(self.client.url(f"messages/{quoted}/$value")).content)

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        answer = self.get(url, params)
        try:
            data = answer.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise MailboxError(
                f"Microsoft Graph's answer from {urllib.parse.urlsplit(url).path} was not what "
                f"it sends; check {GRAPH_URL} if it is set."
            )
        return data

    def get(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        import requests

        try:
            answer = self.client.request("GET", url, params=params, timeout=TIMEOUT_SECONDS)
        except requests.exceptions.SSLError as error:
            raise MailboxError(
                f"Cannot connect securely to Microsoft Graph at {self.base} "
                f"({server_words(error, self.client.token)}); an inspecting proxy's certificate "
                "authority belongs in REQUESTS_CA_BUNDLE."
            ) from None
        except requests.RequestException as error:
            raise MailboxError(
                f"Cannot reach Microsoft Graph at {self.base} ({type(error).__name__}); "
                "check the network and try again. Nothing was changed."
            ) from None
        if answer.status_code == 200:
            return answer
        raise self._refused(answer, url)

    def _refused(self, answer: Any, url: str) -> MailboxError:
        try:
            error = answer.json().get("error", {})
            said = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
        except (ValueError, AttributeError):
            said = ""
        said = server_words(said or answer.reason or "no reason given", self.client.token)
        status = answer.status_code
        if status == 401:
            return MailboxError(
                f"Microsoft Graph refused the sign-in for {self.name} ({status} {said}). Sign in "
                "again.",
                next_step=Next.SIGN_IN,
            )
        if status == 403:
            return MailboxError(
                f"Microsoft Graph may not read the mailbox of {self.name} ({status} {said}): the "
                "app needs the permission Mail.Read, which an administrator grants in Entra ID "
                "(the manual, For IT: Microsoft 365 with OAuth 2.0)."
            )
        if status == 404 and "/mailFolders/" in url:
            return MailboxError(
                f"There is no folder {self.mailbox.folder!r} in the mailbox of {self.name} "
                f"({status} {said}). Check [mailbox] folder."
            )
        return MailboxError(
            f"Microsoft Graph could not read the mailbox of {self.name} ({status} {said}). "
            "Nothing was changed; try again later."
        )
