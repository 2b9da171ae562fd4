"""/v1/responses as a client dialect with fake flows: the hub body and the kept client bytes, the pass-through
call to a channel that speaks Responses (OpenAI) and only the fields the gateway must change, a refusal raised
for any other channel, errors in OpenAI's shape and in the stream."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.addons.client_dialect import ClientDialect, DialectError
from proxy.addons.dialect_upstream import DialectUpstream
from proxy.addons.openai_upstream import OpenAIUpstream
from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.gateway.state import RelayState
from rules import load_catalog
from tests.unit.addons.fakes import channel, make_flow

BODY = {"model": "gpt-4o-mini", "input": [{"role": "developer", "content": "be brief"},
                                          {"role": "user", "content": "hi"}], "store": False, "stream": True}


def _flow(body: object = BODY, **state: Any) -> Flow[RelayState]:
    flow = make_flow("/v1/responses", body, headers={"Authorization": "Bearer sk-user"}, **state)
    ClientDialect().requestheaders(flow)
    ClientDialect().request(flow)
    flow.state.model = flow.state.requested_model = "gpt-4o-mini"
    flow.stream = True
    return flow


def test_the_body_becomes_the_hubs_and_the_clients_is_kept() -> None:
    flow = _flow()
    hub = orjson.loads(flow.request.body)
    assert flow.state.dialect == "responses" and flow.state.client_body == BODY
    assert hub["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert hub["stream"] is True and hub["stream_options"] == {"include_usage": True}


def test_an_openai_channel_gets_the_clients_bytes_and_the_channel_key() -> None:
    flow = _flow()
    flow.state.channel = channel(type=1, key="sk-openai", base_url="http://openai.test")
    OpenAIUpstream(load_catalog(), 0, False).rewrite(flow)
    assert flow.upstream is None   # not chat: the Responses call is DialectUpstream's
    DialectUpstream(load_catalog(), 0).rewrite(flow)
    call = flow.upstream
    assert flow.state.dialect_passthrough and call is not None
    assert call.url == "http://openai.test/v1/responses" and call.body == flow.state.client_raw
    assert call.headers["Authorization"] == "Bearer sk-openai" and "x-api-key" not in call.headers


def test_only_the_fields_the_gateway_changes_differ() -> None:
    flow = _flow()
    flow.state.channel = channel(type=1, system_prompt="You are the operator's bot.")
    flow.state.model, flow.state.output_cap, flow.state.system_prompt_reset = "gpt-4o-mini-2024", 77, True
    DialectUpstream(load_catalog(), 0).rewrite(flow)
    assert flow.upstream is not None
    sent = orjson.loads(flow.upstream.body)
    assert sent == {**BODY, "model": "gpt-4o-mini-2024", "max_output_tokens": 77,
                    "instructions": "You are the operator's bot."}


def test_state_on_openais_servers_is_refused_elsewhere_before_any_call() -> None:
    flow = _flow({**BODY, "previous_response_id": "resp_1", "max_output_tokens": 50})
    assert flow.state.dialect_refusal is not None
    stand_in = orjson.loads(flow.request.body)
    assert stand_in["max_tokens"] == 50 and "be brief" in stand_in["messages"][0]["content"]
    flow.state.channel = channel(type=36)   # DeepSeek: converted
    with pytest.raises(RelayError) as e:
        DialectUpstream(load_catalog(), 0).rewrite(flow)
    assert e.value.status == 400 and "previous_response_id" in e.value.message and flow.upstream is None
    flow.state.channel = channel(type=1)
    DialectUpstream(load_catalog(), 0).rewrite(flow)   # OpenAI keeps the state: passed through
    assert flow.upstream is not None and b"resp_1" in flow.upstream.body


def test_other_channels_are_converted() -> None:
    flow = _flow()
    flow.state.channel = channel(type=36)
    DialectUpstream(load_catalog(), 0).rewrite(flow)
    assert not flow.state.dialect_passthrough and flow.upstream is None


def test_errors_take_openais_shape_and_a_converted_stream_fails_in_it() -> None:
    flow = _flow()
    flow.error = RelayError(503, "no channel", code="x")
    ClientDialect().error(flow)
    assert isinstance(flow.error, DialectError) and flow.error.status == 503
    assert orjson.loads(flow.error.body())["error"]["message"] == "no channel"
    assert flow.error.stream_event().startswith(b"event: error\ndata: ")   # no stream converter yet
    ClientDialect().response(flow)   # the hub stream's converter (ResponsesStream)
    assert flow.transform is not None
    flow.transform.feed(b'data: {"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"H"}}]}'
                        b'\n\n')
    flow.error = RelayError(502, "cut")
    ClientDialect().error(flow)
    assert isinstance(flow.error, DialectError)
    event = flow.error.stream_event("rid")
    assert event.startswith(b"event: response.failed\ndata: ")
    failed = orjson.loads(event.split(b"data: ", 1)[1])
    assert failed["response"]["id"] == "resp_c1" and failed["response"]["error"]["message"] == "cut (request id: rid)"
