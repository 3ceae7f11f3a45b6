"""The pace of a send, the same over SMTP and Microsoft Graph: at most [smtp] rate_per_minute
messages a minute, each handed over no sooner than a minute's share after the one before."""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    """Called before each message is handed over: waits (with `sleep`) as long as the rate
    asks since the last one."""

    def __init__(self, rate_per_minute: int, sleep: Callable[[float], None]) -> None:
        self.interval = 60.0 / rate_per_minute
        self.sleep = sleep
        self._last_start = -float("inf")

    def __call__(self) -> None:
        wait = self._last_start + self.interval - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last_start = time.monotonic()
