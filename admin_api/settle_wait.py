"""Before an admin sets a balance to an absolute value: let the proxies write the consumption they hold.

Proxies write balance changes as additive deltas in background batches, at most one settle interval
(0.2 s, or BATCH_UPDATE_INTERVAL) after the request that caused them. An admin who sets a quota means the
balance from then on; a delta of earlier consumption written after the set would land on top of it (a
quota set to 0 ending below 0, or refunds of finished requests making it positive again and serving
more). So such a write first waits until every node has written what it held when the write was asked.
"""

from __future__ import annotations

import asyncio

from settings import Settings

FLUSH_TIME = 0.2    # the flush itself: one short transaction after the interval
MAX_WAIT = 1.5      # with BATCH_UPDATE_ENABLED (5 s batches) an edit waits this long at most


def settle_wait(settings: Settings) -> float:
    """Seconds after which every delta gathered before now has been written (on a healthy database)."""
    return min(settings.settle_interval + FLUSH_TIME, MAX_WAIT)


async def after_pending_settlements(settings: Settings) -> None:
    """Wait for the proxies' pending balance deltas to be written (call before an absolute balance write)."""
    await asyncio.sleep(settle_wait(settings))


__all__ = ["after_pending_settlements", "settle_wait"]
