"""ClientDialect and DialectUpstream alone, with fake flows: the Anthropic body becomes the hub's (or is kept with
its refusal), answers are chained after a provider transform, errors take Anthropic's shape, and a channel of the
client's own dialect gets the client's bytes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.addons.client_dialect import ClientDialect, DialectError
from proxy.addons.dialect_upstream import DialectUpstream
from proxy.core.errors import RelayError
from proxy.core.flow import BodyTransform, Flow
from proxy.gateway.state import RelayState
from rules import load_catalog
from tests.unit.addons.fakes import channel, make_flow

BODY = {"model": "gpt-4o-mini", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def _flow(body: object = BODY, **state: Any) -> Flow[RelayState]:
    flow = make_flow("/v1/messages", body, **state)
    ClientDialect().requestheaders(flow)
    return flow


def test_the_body_becomes_the_hubs_and_the_clients_is_kept() -> None:
    flow = _flow()
    raw = flow.request.body
    ClientDialect().request(flow)
    assert flow.state.dialect == "anthropic" and flow.state.client_raw == raw
    assert orjson.loads(flow.request.body)["messages"] == [{"role": "user", "content": "hi"}]


def test_a_request_the_hub_cannot_carry_is_kept_with_its_refusal() -> None:
    flow = _flow({**BODY, "tools": [{"type": "web_search_20250305", "name": "web_search"}]})
    ClientDialect().request(flow)
    assert flow.state.dialect_refusal is not None and flow.state.dialect_refusal.status == 400
    assert orjson.loads(flow.request.body)["model"] == "gpt-4o-mini"   # the stand-in still routes and reserves


def test_a_body_that_is_no_object_is_a_400() -> None:
    flow = _flow([1, 2])
    with pytest.raises(RelayError) as e:
        ClientDialect().request(flow)
    assert e.value.status == 400


def test_errors_take_anthropics_shape_and_keep_a_later_redaction() -> None:
    flow = _flow()
    flow.error = RelayError(503, "no channel")
    ClientDialect().error(flow)
    assert isinstance(flow.error, DialectError) and flow.error.status == 503
    flow.error.message = "redacted"
    body = orjson.loads(flow.error.body())
    assert body == {"type": "error", "error": {"type": "api_error", "message": "redacted"}}
    assert flow.error.stream_event().startswith(b"event: error\ndata: ")


def test_a_non_stream_answer_is_converted_after_the_providers_transform() -> None:
    flow = _flow()
    ClientDialect().request(flow)
    hub = {"id": "c", "object": "chat.completion", "model": "gpt-4o-mini", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
    flow.transform = BodyTransform(lambda data: [data.replace(b'"Hi"', b'"Hello"')], lambda: [])   # a provider's
    ClientDialect().response(flow)
    assert flow.buffer_response and flow.transform is not None
    out = flow.transform.feed(orjson.dumps(hub)) + flow.transform.flush()
    answer = orjson.loads(b"".join(out))
    assert answer["type"] == "message" and answer["content"] == [{"type": "text", "text": "Hello"}]
    assert flow.state.usage is not None and flow.state.usage.total_tokens == 4


def test_an_anthropic_channel_gets_the_clients_bytes_and_the_channel_key() -> None:
    flow = _flow(headers={"anthropic-beta": "x-2025", "x-api-key": "sk-user"})
    flow.request.query_string = "beta=true"
    ClientDialect().request(flow)
    flow.state.channel = channel(type=14, key="sk-ant", base_url="http://ant.test")
    flow.state.model = flow.state.requested_model = "gpt-4o-mini"
    DialectUpstream(load_catalog(), 0).rewrite(flow)
    call = flow.upstream
    assert flow.state.dialect_passthrough and call is not None
    assert call.url == "http://ant.test/v1/messages?beta=true" and call.body == flow.state.client_raw
    assert call.headers["x-api-key"] == "sk-ant" and call.headers["anthropic-beta"] == "x-2025"
    assert call.headers["anthropic-version"] == "2023-06-01"


def test_another_family_raises_the_kept_refusal() -> None:
    flow = _flow({**BODY, "tools": [{"type": "web_search_20250305", "name": "web_search"}]})
    ClientDialect().request(flow)
    flow.state.channel = channel(type=1)
    with pytest.raises(RelayError) as e:
        DialectUpstream(load_catalog(), 0).rewrite(flow)
    assert e.value.status == 400 and not flow.state.dialect_passthrough
