"""Route, ModelMapping, OpenAIUpstream, UsageTap, Billing and RetryPolicy alone, with a fake flow."""

from __future__ import annotations

import orjson
import pytest

from proxy.addons.billing import Billing
from proxy.addons.reservation import Reservation
from proxy.addons.mapping import ModelMapping
from proxy.addons.openai_upstream import OpenAIUpstream, azure_url, openai_style_error
from proxy.addons.retry import SATURATED, RetryPolicy
from proxy.addons.route import Route
from proxy.addons.usage_tap import UsageTap
from proxy.core.errors import RelayError, UpstreamError
from proxy.gateway.tokenizer import Tokenizer
from rules import load_catalog, load_max_output, load_prices
from tests.unit.addons.fakes import FakeCaches, FakeLedger, channel, make_flow, token, user

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
    assert info.value.status == 503 and "无可用渠道" in info.value.message
    flow = make_flow(body=CHAT, requested_model="gpt-4o-mini")
    await Route(caches).route(flow)
    assert flow.state.channel.id == 1 and flow.state.tried_channels == [1]


async def _rewrite(flow, ch, enforce: bool = False) -> None:
    flow.state.channel = ch
    ModelMapping().rewrite(flow)
    OpenAIUpstream(load_catalog(), 0, enforce).rewrite(flow)


async def test_pass_through_is_byte_exact_and_mapping_changes_one_field() -> None:
    raw = b'{"model":"gpt-4o-mini",  "messages":[{"role":"user","content":"hi"}]}'
    flow = make_flow(raw=raw)
    flow.state.body, flow.state.requested_model, flow.state.mode, flow.state.relay_path = (
        orjson.loads(raw), "gpt-4o-mini", "chat", "/v1/chat/completions")
    await _rewrite(flow, channel())
    assert flow.upstream.body is raw
    assert flow.upstream.url == "http://up.test/v1/chat/completions"
    assert flow.upstream.headers["Authorization"] == "Bearer sk-up"

    flow = make_flow(body=CHAT, requested_model="gpt-4o-mini", mode="chat", relay_path="/v1/chat/completions")
    flow.state.body = dict(CHAT)
    await _rewrite(flow, channel(model_mapping={"gpt-4o-mini": "gpt-4o"}, system_prompt="be brief"))
    sent = orjson.loads(flow.upstream.body)
    assert sent == {**CHAT, "model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                                            {"role": "user", "content": "hi"}]}
    assert flow.state.model == "gpt-4o" and flow.state.system_prompt_reset


async def test_enforce_include_usage_changes_only_stream_options() -> None:
    body = {**CHAT, "stream": True}
    flow = make_flow(body=body, requested_model="gpt-4o-mini", mode="chat", relay_path="/v1/chat/completions", stream=True)
    flow.state.body = dict(body)
    await _rewrite(flow, channel(), enforce=True)
    assert orjson.loads(flow.upstream.body) == {**body, "stream_options": {"include_usage": True}}


async def test_url_quirks() -> None:
    assert azure_url("https://r.openai.azure.com", "gpt-3.5-turbo", "/v1/chat/completions", "", "2024-03-01-preview") == \
        "https://r.openai.azure.com/openai/deployments/gpt-35-turbo/chat/completions?api-version=2024-03-01-preview"
    for ctype, base, url in [(50, "https://api.example.com/v4", "https://api.example.com/v4/chat/completions"),
                             (40, "https://ark.test", "https://ark.test/api/v3/chat/completions"),
                             (47, "https://qianfan.test", "https://qianfan.test/v2/chat/completions")]:
        flow = make_flow(body=CHAT, requested_model="gpt-4o-mini", mode="chat", relay_path="/v1/chat/completions")
        flow.state.body = dict(CHAT)
        await _rewrite(flow, channel(type=ctype, base_url=base))
        assert flow.upstream.url == url
    flow = make_flow("/v1/embeddings", {"model": "m", "input": "x"}, requested_model="m", mode="embeddings",
                     relay_path="/v1/embeddings")
    flow.state.body = {"model": "m", "input": "x"}
    with pytest.raises(RelayError) as info:
        await _rewrite(flow, channel(type=27, base_url="https://minimax.test"))
    assert info.value.status == 400


def test_openai_style_error_follows_one_api() -> None:
    e = openai_style_error(429, b'{"error":{"message":"slow","type":"rate","code":"x"}}')
    assert (e.status, e.message, e.type, e.code) == (429, "slow", "rate", "x")
    e = openai_style_error(500, b'{"msg":"boom"}')
    assert (e.message, e.type, e.code, e.param) == ("boom", "upstream_error", "bad_response_status_code", "500")
    assert openai_style_error(502, b"<html>").message == "bad response status code 502"


def test_usage_tap_keeps_a_whole_answer_as_is_and_caps_what_it_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = b'{"choices":[{"message":{"content":"Hi"}}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}'
    flow = make_flow(billed=True)
    tap = UsageTap()
    tap.chunk(flow, answer)
    assert flow.metadata["tap_body"] is answer            # one piece: kept without a copy
    tap.done(flow)
    assert (flow.state.usage.prompt_tokens, flow.state.usage.completion_tokens) == (2, 1)

    monkeypatch.setattr("proxy.addons.usage_tap.MAX_BODY", 10)
    flow = make_flow(billed=True)
    for piece in (b"0123", b"4567", b"89ab"):              # the third piece would pass the cap: left out
        tap.chunk(flow, piece)
    assert bytes(flow.metadata["tap_body"]) == b"01234567"
    flow = make_flow(billed=True)
    tap.chunk(flow, b"x" * 11)                               # a first piece over the cap is not kept either
    assert not flow.metadata["tap_body"]


async def test_usage_tap_reads_streams_split_anywhere() -> None:
    events = (b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
              b'data: {"choices":[{"delta":{"reasoning_content":"think","tool_calls":[{"function":{"arguments":"{\\"a\\":1}"}}]}}]}\n\n'
              b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}\n\ndata: [DONE]\n\n')
    flow = make_flow(billed=True)
    flow.stream = True
    tap = UsageTap()
    for i in range(len(events)):
        tap.chunk(flow, events[i:i + 1])
    tap.done(flow)
    assert (flow.state.usage.prompt_tokens, flow.state.usage.completion_tokens) == (3, 4)
    assert flow.state.completion_parts == []      # usage came: the text is never parsed

    flow = make_flow(billed=True)
    flow.stream = True
    without_usage = events[: events.index(b'data: {"choices":[],')]
    for i in range(0, len(without_usage), 7):
        tap.chunk(flow, without_usage[i:i + 7])
    tap.done(flow)
    assert flow.state.usage is None
    assert flow.state.completion_parts == ["Hel", "think", '{"a":1}']


def _money(ledger: FakeLedger, options: dict[str, str]) -> tuple[Reservation, Billing]:
    return (Reservation(ledger, load_prices, lambda: options, Tokenizer(), load_max_output()),
            Billing(ledger, load_prices, lambda: options, Tokenizer()))


async def test_billing_reserves_settles_and_refunds() -> None:
    ledger = FakeLedger()
    reservation, billing = _money(ledger, {"PreConsumedQuota": "500"})
    flow = make_flow(body=CHAT, token=token(), user=user(), mode="chat", model="gpt-4o-mini", channel=channel())
    flow.state.body = dict(CHAT, max_tokens=100)
    await reservation.rewrite(flow)
    reserved = flow.state.reserved
    assert reserved > 0 and ledger.events == [("reserve", reserved)]
    flow.state.completion_parts = ["Hello there!"]
    await billing.done(flow)
    assert ledger.events[-1] == ("settle", (reserved, flow.state.quota)) and flow.state.usage_source == "counted"

    ledger = FakeLedger(token_balance=5)
    reservation, billing = _money(ledger, {"PreConsumedQuota": "500"})
    flow = make_flow(body=CHAT, token=token(), user=user(), mode="chat", model="gpt-4o-mini", channel=channel())
    flow.state.body = dict(CHAT)
    with pytest.raises(RelayError) as info:
        await reservation.rewrite(flow)
    assert (info.value.status, info.value.message) == (403, "令牌额度不足")

    ledger = FakeLedger()
    reservation, billing = _money(ledger, {})
    flow = make_flow(body=CHAT, token=token(), user=user(), mode="chat", model="gpt-4o-mini", channel=channel())
    flow.state.body = dict(CHAT)
    await reservation.rewrite(flow)
    flow.error = UpstreamError(500, "x")
    await billing.done(flow)
    assert ledger.events[-1] == ("refund", flow.state.reserved)


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
    assert not flow.error.retryable and flow.error.message == SATURATED
    flow.attempts, flow.error, flow.state.tried_channels = 1, UpstreamError(400, "bad"), [1]
    policy.upstream_error(flow)
    assert not flow.error.retryable
