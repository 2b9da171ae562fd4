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
