"""Channel selection: priority tiers from the top, weighted random inside a tier, never a channel twice."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from proxy.addons.auth import auth_error
from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.gateway.cache import Caches
from proxy.gateway.messages import say
from proxy.gateway.records import ChannelRecord
from proxy.gateway.state import RelayState
from rules import Catalog
from store.models import CHANNEL_ENABLED, ROLE_ROOT


def pick(candidates: Sequence[ChannelRecord], exclude: Sequence[int],
         rand: Callable[[], float] = random.random) -> ChannelRecord | None:
    """The highest priority tier with an untried channel; inside it, weight-proportional (weight ≤ 0 counts 1)."""
    if len(candidates) == 1:                     # the common case: one channel serves the model
        return None if candidates[0].id in exclude else candidates[0]
    left = [c for c in candidates if c.id not in exclude]
    if not left:
        return None
    top = max(c.priority for c in left)
    tier = [c for c in left if c.priority == top]
    weights = [c.weight if c.weight > 0 else 1 for c in tier]
    point = rand() * sum(weights)
    for channel, weight in zip(tier, weights, strict=True):
        point -= weight
        if point < 0:
            return channel
    return tier[-1]


class Route:
    def __init__(self, caches: Caches, rand: Callable[[], float] = random.random,
                 catalog: Catalog | None = None) -> None:
        """`catalog`: to send a request only a channel of the client's own dialect can serve (one the hub cannot
        carry, e.g. a Responses `previous_response_id`) to such a channel first."""
        self.caches = caches
        self.rand = rand
        self.catalog = catalog

    async def route(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        if state.pinned_channel_id is not None:
            is_root = state.user is not None and state.user.role >= ROLE_ROOT
            state.channel = await self._pinned(state.pinned_channel_id, allow_disabled=is_root)
        else:
            candidates = self._own_dialect_first(state, self.caches.index.candidates(state.group,
                                                                                      state.requested_model))
            channel = pick(candidates, state.tried_channels, self.rand)
            if channel is None:
                if state.last_error is not None:
                    raise state.last_error
                raise self._none_left(state)
            state.channel = channel
        state.tried_channels.append(state.channel.id)

    def _none_left(self, state: RelayState) -> RelayError:
        """OpenAI's 404 model_not_found for a model no channel of the group has (an SDK does not retry it);
        One API's 503 when some channel has it but all are disabled or failed (worth retrying later)."""
        if not self.caches.index.serves(state.group, state.requested_model):
            return RelayError(404, say("model_not_found", model=state.requested_model, group=state.group),
                              type="invalid_request_error", code="model_not_found", param="model")
        return auth_error(503, say("no_channel", group=state.group, model=state.requested_model))

    def _own_dialect_first(self, state: RelayState, candidates: list[ChannelRecord]) -> list[ChannelRecord]:
        """Only the channels that speak the client's dialect when the request needs one (and some are left)."""
        if state.dialect_refusal is None or self.catalog is None:
            return candidates
        catalog = self.catalog
        own = [c for c in candidates if c.type in catalog and catalog.get(c.type).speaks(state.dialect)]
        return own if any(c.id not in state.tried_channels for c in own) else candidates

    async def _pinned(self, channel_id: int, allow_disabled: bool) -> ChannelRecord:
        """Root may pin a disabled channel: that is how admin_api's channel test reaches one (to re-enable it)."""
        channel = await self.caches.channel(channel_id)
        if channel is None:
            raise auth_error(400, say("invalid_channel_id"))
        if channel.status != CHANNEL_ENABLED and not allow_disabled:
            raise auth_error(403, say("channel_disabled"))
        return channel
