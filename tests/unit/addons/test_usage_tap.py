"""UsageTap alone, with a fake flow: usage and text read from the bytes, whole or split anywhere."""

from __future__ import annotations

import pytest

from proxy.addons.usage_tap import UsageTap
from tests.unit.addons.fakes import make_flow


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


def _chunks(n: int) -> list[bytes]:
    return [b'data: {"choices":[{"delta":{"content":"word%d "}}]}\n\n' % i for i in range(n)]


async def test_a_stream_longer_than_the_cap_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """#16: past MAX_BODY a stream used to be cut from the tap: its final usage chunk was never seen, and with
    no usage only the first MAX_BODY bytes were counted. Now the tap reads it in MAX_BODY pieces."""
    monkeypatch.setattr("proxy.addons.usage_tap.MAX_BODY", 1000)
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":600000,"total_tokens":600005}}\n\n'
    raw = b"".join(_chunks(500)) + usage + b"data: [DONE]\n\n"
    tap = UsageTap()
    flow = make_flow(billed=True)
    flow.stream = True
    for i in range(0, len(raw), 37):                       # split anywhere, events across pieces
        tap.chunk(flow, raw[i:i + 37])
    tap.done(flow)
    assert (flow.state.usage.prompt_tokens, flow.state.usage.completion_tokens) == (5, 600000)
    assert flow.state.usage_source == "upstream"
    assert "tap_body" not in flow.metadata and "tap_decoder" not in flow.metadata

    flow = make_flow(billed=True)                          # no usage at all: every piece of text is counted
    flow.stream = True
    for piece in _chunks(500):
        tap.chunk(flow, piece)
    tap.done(flow)
    assert flow.state.usage is None
    assert flow.state.completion_parts == [f"word{i} " for i in range(500)]


ANTHROPIC_STREAM = (
    b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":12,"output_tokens":1}}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hello"}}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":20}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n')


def test_a_stream_whose_converter_read_the_usage_is_not_read_again() -> None:
    """#19: an Anthropic pass-through stream's usage reader saw the usage; Billing takes it from there, and the tap
    no longer parses every event of the stream a second time (its text is not needed)."""
    from proxy.converters.dialects.anthropic_passthrough import AnthropicUsageReader

    reader = AnthropicUsageReader()
    reader.feed(ANTHROPIC_STREAM)
    flow = make_flow(path="/v1/messages", billed=True, stream_converter=reader)
    flow.stream = True
    tap = UsageTap()
    tap.chunk(flow, ANTHROPIC_STREAM)
    tap.done(flow)
    assert flow.state.completion_parts == [] and flow.state.usage is None
    assert (reader.usage.prompt_tokens, reader.usage.completion_tokens) == (12, 20)

    failed = AnthropicUsageReader()    # an error event too: the text is read (it tells whether the stream failed)
    broken = ANTHROPIC_STREAM + b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    failed.feed(broken)
    flow = make_flow(path="/v1/messages", billed=True, stream_converter=failed)
    flow.stream = True
    tap.chunk(flow, broken)
    tap.done(flow)
    assert failed.error is not None and flow.state.completion_parts == ["Hello"]
