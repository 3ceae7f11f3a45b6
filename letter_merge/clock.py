"""The time records are stamped with: now, in UTC, to the second, as ISO 8601 text; and the time
the documents a build makes say they were made, which is never now (see `made_at`)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

from letter_merge.environment import SOURCE_DATE_EPOCH


def now() -> str:
    """'2020-07-22T09:14:05+00:00': every approval, message, event and decision is stamped so."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def source_date(environ: Mapping[str, str] | None = None) -> dt.datetime | None:
    """SOURCE_DATE_EPOCH (seconds since 1970, as reproducible builds set it) as a UTC time; None
    when it is not set or is not a whole number."""
    value = (os.environ if environ is None else environ).get(SOURCE_DATE_EPOCH, "").strip()
    if not value.isdigit():
        return None
    return dt.datetime.fromtimestamp(int(value), dt.UTC)


def made_at(day: dt.date, environ: Mapping[str, str] | None = None) -> dt.datetime:
    """When a letter's files say they were made: SOURCE_DATE_EPOCH, else the start of `day` (the
    letter date) in UTC. Never the clock, so that the same inputs build the same bytes."""
    return source_date(environ) or dt.datetime.combine(day, dt.time(), dt.UTC)
