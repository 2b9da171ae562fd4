"""RetryPolicy alone, with a fake flow: another channel, or stop."""

from __future__ import annotations

from proxy.addons.retry import RetryPolicy
from proxy.core.errors import UpstreamError
from proxy.gateway.messages import say
from tests.unit.addons.fakes import FakeCaches, channel, make_flow


async def test_retry_policy() -> None:
    caches = FakeCaches(channels=[channel(id=1, priority=1), channel(id=2)])
    policy = RetryPolicy(caches, lambda: {"RetryTimes": "1"})
    flow = make_flow(requested_model="gpt-4o-mini", tried_channels=[1])
    flow.attempts, flow.error = 1, UpstreamError(503, "down")
    policy.upstream_error(flow)
    assert flow.error.retryable
    flow.attempts, flow.error = 2, UpstreamError(429, "slow")
    flow.state.tried_channels = [1, 2]
    policy.upstream_error(flow)
    assert not flow.error.retryable and flow.error.message == say("saturated")
    flow.attempts, flow.error, flow.state.tried_channels = 1, UpstreamError(400, "bad"), [1]
    policy.upstream_error(flow)
    assert not flow.error.retryable


def test_the_policy_keeps_the_error_for_the_route_that_finds_no_channel_left() -> None:
    policy = RetryPolicy(FakeCaches(channels=[channel(id=1)]), lambda: {"RetryTimes": "3"})
    flow = make_flow(requested_model="gpt-4o-mini", tried_channels=[1])
    flow.attempts, flow.error = 1, UpstreamError(503, "down")
    policy.upstream_error(flow)
    assert flow.state.last_error is flow.error and not flow.error.retryable   # no untried channel
