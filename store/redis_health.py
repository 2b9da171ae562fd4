"""Whether Redis answers, as its callers see it: one warning when it stops answering, one line when it is back.

Without this every request that met a dead Redis wrote a warning (778 lines in 10 s). A caller that has
a fallback also asks `worth_trying()` first: while Redis is down one caller tries it again at most every
`retry_every` seconds and the others go straight to the fallback, so a dead or black-holed server costs
neither a log line nor a connect timeout per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class RedisHealth:
    """Shared by the callers of one Redis client in a process."""

    def __init__(self, retry_every: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_every = retry_every
        self._clock = clock
        self._down_since: float | None = None
        self._last_try = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def worth_trying(self) -> bool:
        """True while Redis answers; while it is down, True once per `retry_every` seconds (a probe)."""
        if self._down_since is None:
            return True
        now = self._clock()
        if now - self._last_try < self.retry_every:
            return False
        self._last_try = now
        return True

    def failed(self, error: BaseException, fallback: str) -> None:
        """A call failed: warn if Redis was answering until now; `fallback` says what is done instead."""
        now = self._last_try = self._clock()
        if self._down_since is None:
            self._down_since = now
            log.warning("redis unreachable (%s): %s until it answers again", str(error) or type(error).__name__,
                        fallback)

    def answered(self) -> None:
        """A call succeeded: say so once if Redis was down."""
        if self._down_since is not None:
            log.info("redis answers again (after %.1f s)", self._clock() - self._down_since)
            self._down_since = None
