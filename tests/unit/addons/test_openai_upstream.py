"""OpenAIUpstream alone (after ModelMapping, as in the list), with a fake flow: byte-exact pass-through,
one changed field, upstream URLs and One API's error shape."""

from __future__ import annotations

import orjson
import pytest

from proxy.addons.mapping import ModelMapping
from proxy.addons.openai_upstream import OpenAIUpstream, azure_url, openai_style_error
from proxy.core.errors import RelayError
from rules import load_catalog
from tests.unit.addons.fakes import channel, make_flow

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "seed": 0, "x_extra": [1]}


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
