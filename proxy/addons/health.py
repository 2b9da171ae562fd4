"""Channel health: auto-disable on fatal upstream errors (§6.2) and the success-rate rule (§6.3).

A disabled channel leaves this worker's routing table at once; the change
event carries it to the other workers and nodes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from proxy.core.flow import Flow
from proxy.gateway.cache import Caches
from proxy.gateway.scrub import scrub, secret_parts
from proxy.gateway.state import RelayState
from rules import load_auto_disable
from store import Database, as_bool
from store import relay_queries as q
from store.models import CHANNEL_AUTO_DISABLED

log = logging.getLogger(__name__)


def should_disable(status: int, type: Any, code: Any, message: str) -> bool:
    """Whether a relay error disables its channel (rules/auto_disable.toml, shared with "test all")."""
    return load_auto_disable().matches(status, type, code, message)


def log_upstream_error(flow: Flow[RelayState]) -> None:
    """One warning line per failed upstream call, for the operator: the channel, the status, the model and the
    upstream's own message (before a retry rewords it; the channel's keys redacted)."""
    channel, err = flow.state.channel, flow.error
    assert channel is not None and err is not None
    log.warning("upstream error: channel #%d (%s) answered %d for model %s (attempt %d): %s [request %s]",
                channel.id, channel.name, err.status, flow.state.model, flow.attempts,
                scrub(err.message, secret_parts(channel.key)), flow.request_id)


class ChannelHealth:
    def __init__(self, db: Database, caches: Caches, options: Callable[[], Mapping[str, str]],
                 metric_enabled: bool = False, queue_size: int = 10, threshold: float = 0.8,
                 announce: Callable[[], Awaitable[None]] | None = None) -> None:
        self.db = db
        self.caches = caches
        self.options = options
        self.metric_enabled = metric_enabled
        self.queue_size = queue_size
        self.threshold = threshold
        self.announce = announce
        self.outcomes: dict[int, deque[bool]] = defaultdict(lambda: deque(maxlen=queue_size))
        self._tasks: set[asyncio.Task[None]] = set()

    def upstream_error(self, flow: Flow[RelayState]) -> None:
        channel, error = flow.state.channel, flow.error
        if channel is None or error is None:
            return
        log_upstream_error(flow)
        if as_bool(self.options().get("AutomaticDisableChannelEnabled")) and \
                should_disable(error.status, error.type, error.code, error.message):
            self.disable(channel.id, f"upstream error {error.status}: {error.message}")
        elif self.metric_enabled:
            self._record(channel.id, False)

    def done(self, flow: Flow[RelayState]) -> None:
        if self.metric_enabled and flow.error is None and flow.attempts == 1 and flow.state.channel is not None:
            self._record(flow.state.channel.id, True)

    def _record(self, channel_id: int, ok: bool) -> None:
        window = self.outcomes[channel_id]
        window.append(ok)
        if not ok and len(window) >= self.queue_size:
            rate = sum(window) / len(window)
            if rate < self.threshold:
                window.clear()
                self.disable(channel_id, f"success rate {rate:.2f} below {self.threshold}")

    def disable(self, channel_id: int, reason: str) -> None:
        self.caches.forget_channel(channel_id)   # this worker stops routing there now
        task = asyncio.create_task(self._persist(channel_id, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _persist(self, channel_id: int, reason: str) -> None:
        try:
            async with self.db.session() as s:
                if await q.set_channel_status(s, channel_id, CHANNEL_AUTO_DISABLED, reason):
                    log.warning("channel #%d disabled automatically: %s", channel_id, reason)
                    if self.announce is not None:
                        await self.announce()
        except Exception:
            log.exception("could not persist the disable of channel #%d", channel_id)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
