"""Whether a failed attempt may go to another channel (one-api.md §6.1, fixed).

Unlike One API, retries walk down the priority tiers and never re-pick a
channel that already failed; never after the first byte, never on 400, never
for a pinned channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from proxy.core.flow import Flow
from proxy.gateway.cache import Caches
from proxy.gateway.messages import say
from proxy.gateway.state import RelayState
from store import as_int


class RetryPolicy:
    def __init__(self, caches: Caches, options: Callable[[], Mapping[str, str]]) -> None:
        self.caches = caches
        self.options = options

    def upstream_error(self, flow: Flow[RelayState]) -> None:
        state, error = flow.state, flow.error
        if error is None:   # the core sets it before this hook
            return
        retries = as_int(self.options().get("RetryTimes"), 0)
        untried = [c for c in self.caches.index.candidates(state.group, state.requested_model)
                   if c.id not in state.tried_channels]
        error.retryable = (error.retryable and state.pinned_channel_id is None and error.status != 400
                           and not 200 <= error.status < 300 and flow.attempts <= retries and bool(untried))
        if not error.retryable and error.status == 429:
            error.message = say("saturated")
        state.last_error = error
