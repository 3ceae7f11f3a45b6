"""Reading the sending mailbox for bounce reports and replies, strictly read-only: IMAP (with a
password or OAuth 2.0), or Microsoft Graph for Microsoft 365 tenants that have turned IMAP off.
Each message comes back whole, with a key that names it in the mailbox; what it says is for
another stage to work out.

Reading changes nothing in the mailbox (mail/inbox/imap.py: EXAMINE and BODY.PEEK[]; mail/inbox/graph.py:
GET only); `mark_seen` is the one change, made only when [mailbox] mark = "seen" asks for it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

from letter_merge.config import Settings
from letter_merge.mail.inbox.common import Fetched, MailboxError, mailbox_password
from letter_merge.mail.inbox.graph import read_graph
from letter_merge.mail.inbox.imap import mark_seen_imap, read_imap

__all__ = ["Fetched", "MailboxError", "mailbox_password", "mark_seen", "read_mailbox"]


def read_mailbox(
    settings: Settings,
    *,
    since: dt.date | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Fetched]:
    """Every message in [mailbox] folder (received on or after `since`, when given), oldest
    first, without changing anything in the mailbox."""
    environ = os.environ if environ is None else environ
    if settings.mailbox.auth == "graph":
        return read_graph(settings, since, environ)
    return read_imap(settings, since, environ)


def mark_seen(settings: Settings, keys: list[str], environ: Mapping[str, str] | None = None) -> int:
    """Mark these messages (keys from `read_mailbox`) as read: only when [mailbox] mark =
    "seen" asks for it by name, only over IMAP, and only in the folder as it was read (the same
    UIDVALIDITY). The one change letter-merge ever makes in a mailbox. How many it marked."""
    mailbox = settings.mailbox
    if mailbox.mark != "seen" or mailbox.auth == "graph" or not keys:
        return 0
    environ = os.environ if environ is None else environ
    return mark_seen_imap(settings, keys, environ)
