"""StoredResponses alone, with fake flows: the model of input_tokens, the native channel chosen (by model, or in
priority order by id, a 404 moving on), the call passed through with the channel's key; and Route sending a
request only its own dialect's channels can serve to such a channel first."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.addons.route import Route
from proxy.addons.stored_responses import StoredResponses
from proxy.core.errors import RelayError, UpstreamError
from proxy.core.flow import ClientRequest, Flow
from proxy.gateway.state import RelayState
from rules import load_catalog
from tests.unit.addons.fakes import FakeCaches, channel, make_flow, token

OPENAI_A = channel(id=1, type=1, key="sk-a", base_url="http://a.test", priority=5, models=("gpt-4o",))
OPENAI_B = channel(id=2, type=1, key="sk-b", base_url="http://b.test", models=("gpt-4o-mini",),
                   model_mapping={"gpt-4o-mini": "gpt-4o-mini-2024"})
DEEPSEEK = channel(id=3, type=36, key="sk-d", base_url="http://d.test", priority=9, models=("gpt-4o-mini",))


def _addon() -> StoredResponses:
    return StoredResponses(load_catalog(), FakeCaches(channels=[OPENAI_A, OPENAI_B, DEEPSEEK]), 0)


def _by_id(method: str = "GET", **state: Any) -> Flow[RelayState]:
    flow = make_flow("/v1/responses/resp_1", **state)
    flow.request = ClientRequest(method, "/v1/responses/resp_1", "", flow.request.headers, b"", "127.0.0.1", {})
    return flow


async def test_by_id_goes_to_native_channels_in_priority_order() -> None:
    addon, flow = _addon(), _by_id("DELETE")
    addon.request(flow)
    await addon.route(flow)
    addon.rewrite(flow)
    call = flow.upstream
    assert call is not None and (call.method, call.url) == ("DELETE", "http://a.test/v1/responses/resp_1")
    assert call.headers["Authorization"] == "Bearer sk-a"
    flow.error, flow.upstream_error_body = UpstreamError(404, "x"), b'{"error":{"message":"No response found"}}'
    addon.upstream_error(flow)
    assert flow.error.retryable and flow.error.message == "No response found"   # the next account may know it
    await addon.route(flow)
    addon.rewrite(flow)
    assert flow.upstream is not None and flow.upstream.url.startswith("http://b.test/")   # never DeepSeek
    addon.upstream_error(flow)
    assert not flow.error.retryable   # none left: the 404 is the answer


async def test_input_tokens_by_model_with_the_mapping() -> None:
    addon = _addon()
    flow = make_flow("/v1/responses/input_tokens", {"model": "gpt-4o-mini", "input": "hi"})
    addon.request(flow)
    await addon.route(flow)
    addon.rewrite(flow)
    assert flow.state.channel is OPENAI_B and flow.upstream is not None   # DeepSeek serves the model, not this call
    assert orjson.loads(flow.upstream.body) == {"model": "gpt-4o-mini-2024", "input": "hi"}
    flow.error = UpstreamError(500, "down")
    addon.upstream_error(flow)
    assert not flow.error.retryable
    with pytest.raises(RelayError) as refused:
        addon.request(make_flow("/v1/responses/input_tokens", {"input": "hi"}))
    assert refused.value.status == 400
    with pytest.raises(RelayError) as denied:
        addon.request(make_flow("/v1/responses/input_tokens", {"model": "gpt-4o"}, token=token(models=("x",))))
    assert denied.value.status == 403


async def test_without_a_native_channel() -> None:
    addon = StoredResponses(load_catalog(), FakeCaches(channels=[DEEPSEEK]), 0)
    flow = _by_id()
    addon.request(flow)
    with pytest.raises(RelayError) as missing:
        await addon.route(flow)
    assert missing.value.status == 404 and "natively" in missing.value.message


async def test_route_prefers_the_clients_own_dialect_when_the_hub_cannot_carry_it() -> None:
    caches = FakeCaches(channels=[OPENAI_B, DEEPSEEK])
    flow = make_flow(requested_model="gpt-4o-mini", dialect="responses",
                     dialect_refusal=RelayError(400, "previous_response_id"))
    await Route(caches, catalog=load_catalog()).route(flow)
    assert flow.state.channel is OPENAI_B
    await Route(caches, catalog=load_catalog()).route(flow)
    assert flow.state.channel is DEEPSEEK   # OpenAI tried: the rest (DialectUpstream then refuses)
    plain = make_flow(requested_model="gpt-4o-mini", dialect="responses")
    await Route(caches, catalog=load_catalog()).route(plain)
    assert plain.state.channel is DEEPSEEK   # nothing to carry over: priority as always
