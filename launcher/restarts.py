"""When a dead child process is started again, and when dying again and again stops the gateway.

A worker killed once (by the OOM killer, a SIGKILL, a crash in a C extension) is started again at once
and the gateway goes on; one that dies soon after every start (a port taken, a database refusing it) is a
crash loop that restarting cannot fix, so after a few tries the gateway stops and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

HEALTHY_AFTER = 10.0     # seconds: a child that lived this long before dying was not crash-looping
MAX_QUICK_DEATHS = 5     # deaths in a row, each within HEALTHY_AFTER of its start, that stop the gateway
FIRST_DELAY = 0.25       # seconds before the first restart; doubled for each quick death in a row
MAX_DELAY = 4.0


@dataclass
class RestartPolicy:
    """The restart schedule of one child (a pure state machine: the supervisor feeds it lifetimes)."""

    quick_deaths: int = 0

    def after_death(self, lived: float) -> float | None:
        """Seconds to wait before starting the child again, or None when it is crash-looping."""
        if lived >= HEALTHY_AFTER:
            self.quick_deaths = 0
        self.quick_deaths += 1
        if self.quick_deaths >= MAX_QUICK_DEATHS:
            return None
        return float(min(FIRST_DELAY * 2 ** (self.quick_deaths - 1), MAX_DELAY))


__all__ = ["HEALTHY_AFTER", "MAX_QUICK_DEATHS", "RestartPolicy"]
