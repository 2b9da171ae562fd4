"""UsageTap alone, with a fake flow: usage and text read from the bytes, whole or split anywhere."""

from __future__ import annotations

import asyncio

import pytest

from proxy.addons.usage_tap import UsageTap, rerank_usage, usage_in_tail, word_cut
from proxy.converters.base import Usage
from proxy.gateway.tokenizer import Tokenizer
from tests.unit.addons.fakes import make_flow


def test_usage_tap_keeps_a_whole_answer_as_is_and_past_the_cap_only_its_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = b'{"choices":[{"message":{"content":"Hi"}}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}'
    flow = make_flow(billed=True)
    tap = UsageTap()
    tap.chunk(flow, answer)
    assert flow.metadata["tap"].held is answer            # one piece: kept without a copy
    tap.done(flow)
    assert (flow.state.usage.prompt_tokens, flow.state.usage.completion_tokens) == (2, 1)

    # a non-stream answer past MAX_BODY (embeddings of many inputs): only its last WINDOW bytes are held, and
    # its usage (written last) read from there; before, its first MAX_BODY bytes were counted as text
    monkeypatch.setattr("proxy.addons.usage_tap.MAX_BODY", 100)
    monkeypatch.setattr("proxy.addons.usage_tap.WINDOW", 80)
    big = b'{"data":[' + b",".join(b'{"embedding":[0.1,0.2,0.3]}' for _ in range(50)) + \
        b'],"usage":{"prompt_tokens":9,"total_tokens":9,"x":{"a":"}"}}}'
    flow = make_flow(billed=True)
    for i in range(0, len(big), 30):
        tap.chunk(flow, big[i:i + 30])
        reading = flow.metadata["tap"]
        assert len(reading.held or b"") <= 100 and len(reading.tail or b"") <= 80
    tap.done(flow)
    assert (flow.state.usage.prompt_tokens, flow.state.usage_source) == (9, "upstream")
    assert flow.state.completion_parts == []


def test_usage_in_a_tail() -> None:
    assert usage_in_tail(b'0.1]}],"usage": {"prompt_tokens":4,"total_tokens":4}}').prompt_tokens == 4
    assert usage_in_tail(b'"usage":{"prompt_tokens":4,') is None       # cut: nothing made up
    assert usage_in_tail(b'"text":"no usage here"}') is None


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


async def test_a_stream_longer_than_the_window_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """#16: past the cap a stream used to be cut from the tap: its final usage chunk was never seen, and with
    no usage only the first bytes were counted. Now the tap parses it as it goes past WINDOW."""
    monkeypatch.setattr("proxy.addons.usage_tap.WINDOW", 1000)
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":600000,"total_tokens":600005}}\n\n'
    raw = b"".join(_chunks(500)) + usage + b"data: [DONE]\n\n"
    tap = UsageTap()
    flow = make_flow(billed=True)
    flow.stream = True
    for i in range(0, len(raw), 37):                       # split anywhere, events across pieces
        tap.chunk(flow, raw[i:i + 37])
        assert len(flow.metadata["tap"].held or b"") <= 1000
    tap.done(flow)
    assert (flow.state.usage.prompt_tokens, flow.state.usage.completion_tokens) == (5, 600000)
    assert flow.state.usage_source == "upstream"
    assert "tap" not in flow.metadata

    flow = make_flow(billed=True)                          # no usage at all: every piece of text is counted
    flow.stream = True
    for piece in _chunks(500):
        tap.chunk(flow, piece)
    tap.done(flow)
    assert flow.state.usage is None
    assert flow.state.completion_parts == [f"word{i} " for i in range(500)]


async def test_a_long_streams_text_is_counted_in_pieces_and_let_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """#16: the text of a stream without usage is not held whole: past TEXT_KEEP characters it is counted (off
    the loop) up to a word boundary and let go; the pieces' counts add up to the whole text's count."""
    monkeypatch.setattr("proxy.addons.usage_tap.WINDOW", 500)
    monkeypatch.setattr("proxy.addons.usage_tap.TEXT_KEEP", 300)
    tokenizer = Tokenizer()
    tap = UsageTap(tokenizer.count_text)
    flow = make_flow(billed=True, model="gpt-4o-mini")
    flow.stream = True
    chunks = _chunks(2000)
    for piece in chunks:
        tap.chunk(flow, piece)
        assert sum(map(len, flow.state.completion_parts)) <= 300 + 12    # one event's text past the bound
    tap.done(flow)
    counted = flow.state.completion_counted + sum(await asyncio.gather(*flow.state.completion_counting))
    remainder = tokenizer.count_text("".join(flow.state.completion_parts), "gpt-4o-mini")
    whole = "".join(f"word{i} " for i in range(2000))
    assert counted > 0 and counted + remainder == tokenizer.count_text(whole, "gpt-4o-mini")


def test_a_word_cut_keeps_the_count() -> None:
    text = "Hello  there, world! 12345 abc"
    cut = word_cut(text)
    assert text[cut:] == " abc"
    assert word_cut("nospaceshere") == len("nospaceshere")
    assert word_cut("a  ") == 3                           # no single space starting a word


def test_rerank_usage_in_each_providers_shape() -> None:
    jina = {"results": [], "usage": {"total_tokens": 42}}
    siliconflow = {"results": [], "meta": {"billed_units": {"input_tokens": 30, "output_tokens": 2, "search_units": 0},
                                           "tokens": {"input_tokens": 30, "output_tokens": 2}}}
    tokens_only = {"results": [], "meta": {"tokens": {"input_tokens": 7}}}
    cohere = {"results": [], "meta": {"billed_units": {"search_units": 1}}}
    assert rerank_usage(jina) == Usage(42, 0)
    assert rerank_usage(siliconflow) == Usage(30, 2)
    assert rerank_usage(tokens_only) == Usage(7, 0)
    assert rerank_usage(cohere) is None and rerank_usage({}) is None


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
