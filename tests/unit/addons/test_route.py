"""Route alone, with a fake flow: pinned, missing and chosen channels."""

from __future__ import annotations

import pytest

from proxy.addons.route import Route
from proxy.core.errors import RelayError
from tests.unit.addons.fakes import FakeCaches, channel, make_flow, user

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "seed": 0, "x_extra": [1]}


async def test_route_pinned_and_missing() -> None:
    caches = FakeCaches(channels=[channel(id=1), channel(id=2, status=2)])
    flow = make_flow(body=CHAT, requested_model="gpt-4o-mini", pinned_channel_id=2)
    with pytest.raises(RelayError) as info:
        await Route(caches).route(flow)
    assert (info.value.status, info.value.message) == (403, "该渠道已被禁用")
    flow = make_flow(body=CHAT, requested_model="gpt-4o-mini", pinned_channel_id=2, user=user(role=100))
    await Route(caches).route(flow)
    assert flow.state.channel.id == 2          # root may pin a disabled channel (admin_api's channel test)
    flow = make_flow(body=CHAT, requested_model="nope")
    with pytest.raises(RelayError) as info:
        await Route(caches).route(flow)
    assert (info.value.status, info.value.type, info.value.code) == (404, "invalid_request_error", "model_not_found")
    down = FakeCaches(channels=[channel(id=1, models=("a",)), channel(id=2, status=2, models=("only-disabled",))])
    flow = make_flow(body=CHAT, requested_model="only-disabled")
    with pytest.raises(RelayError) as info:
        await Route(down).route(flow)
    assert info.value.status == 503 and "无可用渠道" in info.value.message
    flow = make_flow(body=CHAT, requested_model="gpt-4o-mini")
    await Route(caches).route(flow)
    assert flow.state.channel.id == 1 and flow.state.tried_channels == [1]


async def test_when_no_channel_is_left_the_last_attempts_error_is_the_answer() -> None:
    caches = FakeCaches(channels=[channel(id=1)])
    flow = make_flow(body=CHAT, requested_model="gpt-4o-mini", tried_channels=[1])
    flow.state.last_error = RelayError(502, "upstream down")
    with pytest.raises(RelayError) as info:
        await Route(caches).route(flow)
    assert info.value is flow.state.last_error
