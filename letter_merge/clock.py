"""The time records are stamped with: now, in UTC, to the second, as ISO 8601 text."""

from __future__ import annotations

import datetime as dt


def now() -> str:
    """'2020-07-22T09:14:05+00:00': every approval, message, event and decision is stamped so."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
