"""ConverterUpstream alone, with a fake flow: OpenAI-style channels are left to OpenAIUpstream; a converted one
gets its provider's call (with this attempt's body changes), a transform, JSON allowed for a stream, and its
error answers read in the provider's shape."""

from __future__ import annotations

import orjson
import pytest

from proxy.addons.converter_upstream import ConverterUpstream
from proxy.core.errors import RelayError, UpstreamError
from proxy.core.flow import Flow
from proxy.gateway.state import RelayState
from rules import load_catalog
from tests.unit.addons.fakes import channel, make_flow

CHAT = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
ANTHROPIC = 14


def chat_flow(ctype: int, stream: bool = False, mode: str = "chat") -> Flow[RelayState]:
    flow = make_flow(mode=mode, model="claude-3-haiku", requested_model="claude-3-haiku", stream=stream,
                     channel=channel(type=ctype, key="sk-ant", base_url="http://anthropic.test"))
    flow.state.body = dict(CHAT)
    flow.stream = stream
    return flow


def addon() -> ConverterUpstream:
    return ConverterUpstream(load_catalog(), lambda: None, {}, 0)  # type: ignore[arg-type,return-value]


async def test_an_openai_channel_is_left_to_the_pass_through() -> None:
    flow = chat_flow(1)
    await addon().rewrite(flow)
    assert flow.upstream is None and flow.state.converter is None and not flow.stream_may_be_json


async def test_a_converted_channel_gets_its_providers_call_with_this_attempts_changes() -> None:
    flow = chat_flow(ANTHROPIC, stream=True)
    flow.state.body_changes = {"max_tokens": 7}     # a capped output limit (Reservation)
    await addon().rewrite(flow)
    call = flow.upstream
    assert call is not None and call.url == "http://anthropic.test/v1/messages"
    assert call.headers["x-api-key"] == "sk-ant" and orjson.loads(call.body)["max_tokens"] == 7
    assert flow.state.converter is not None and flow.state.stream_converter is not None
    assert flow.transform is not None and flow.stream_may_be_json


async def test_an_error_answer_is_read_in_the_providers_shape() -> None:
    flow = chat_flow(ANTHROPIC)
    converter = addon()
    await converter.rewrite(flow)
    flow.error = UpstreamError(529, "bad response status code 529")
    flow.upstream_error_body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    converter.upstream_error(flow)
    assert flow.error is not None
    assert (flow.error.status, flow.error.message, flow.error.code) == (529, "Overloaded", "overloaded_error")
    assert flow.error.retryable


async def test_a_mode_the_converter_lacks_is_a_400() -> None:
    flow = chat_flow(ANTHROPIC, mode="speech")
    with pytest.raises(RelayError) as e:
        await addon().rewrite(flow)
    assert (e.value.status, e.value.code) == (400, "convert_request_failed")
