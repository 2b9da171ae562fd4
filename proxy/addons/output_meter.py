"""Grows a capped request's hold as its stream goes out, and ends the stream when the balance cannot pay.

The cap on the request's output limit (proxy.addons.reservation) is what keeps an answer inside its
hold; this is the second line for upstreams that ignore it. Only capped streams are metered: their
visible output is counted piece by piece before it is written, and when it outgrows the hold the next
slice is reserved first; a balance that cannot cover the piece ends the stream with an error event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from proxy.addons.usage_tap import anthropic_parts, gemini_parts, responses_event_parts, text_parts
from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.core.sse import SSEDecoder
from proxy.gateway.state import RelayState

SLICE = 1024     # completion tokens reserved ahead each time the hold is grown

Hold = Callable[[int], int]                       # completion tokens -> the hold they need
Take = Callable[[RelayState, int], Awaitable[str | None]]


def visible_parts(data: str) -> list[str]:
    """The billable text of one OpenAI chat/completions, Responses, Anthropic Messages or Gemini stream event."""
    if not data or data == "[DONE]":
        return []
    try:
        obj: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(obj, dict):
        return []
    return text_parts(obj) + responses_event_parts(obj) + anthropic_parts(obj) + gemini_parts(obj)


class OutputMeter:
    """A flow gate: `await meter(piece)` before the piece is written."""

    def __init__(self, flow: Flow[RelayState], count: Callable[[str], int], hold: Hold, take: Take) -> None:
        self.state = flow.state
        self.count = count
        self.hold = hold
        self.take = take
        self.decoder = SSEDecoder()
        self.tokens = 0           # visible completion tokens seen so far

    async def __call__(self, piece: bytes) -> None:
        for event in self.decoder.feed(piece):
            self.tokens += sum(self.count(part) for part in visible_parts(event.data))
        need = self.hold(self.tokens)
        if need <= self.state.reserved:
            return
        if await self.take(self.state, self.hold(self.tokens + SLICE)) is None:
            return
        if await self.take(self.state, need) is None:      # not a whole slice more: just this piece
            return
        raise RelayError(403, "quota exhausted: the balance cannot pay for more of this answer",
                         code="insufficient_quota")


__all__ = ["OutputMeter", "SLICE", "visible_parts"]
