"""OutputMeter alone: a capped stream's hold grows a slice ahead as its text goes out, and a balance that cannot
pay for the next piece ends the stream there."""

from __future__ import annotations

import pytest

from proxy.addons.output_meter import SLICE, OutputMeter, visible_parts
from proxy.core.errors import RelayError
from proxy.gateway.state import RelayState
from tests.unit.addons.fakes import make_flow


def event(text: str) -> bytes:
    return b'data: {"choices":[{"delta":{"content":"' + text.encode() + b'"}}]}\n\n'


def meter(balance: int, reserved: int = 10) -> tuple[OutputMeter, list[int]]:
    """Each character a token, each token a quota unit; `balance` is what the hold may grow to."""
    flow = make_flow(reserved=reserved)
    taken: list[int] = []

    async def take(state: RelayState, hold: int) -> str | None:
        if hold > balance:
            return "token"
        taken.append(hold)
        state.reserved = hold
        return None
    return OutputMeter(flow, len, lambda tokens: tokens, take), taken


def test_visible_parts_are_the_billable_text() -> None:
    assert visible_parts('{"choices":[{"delta":{"content":"hi"}}]}') == ["hi"]
    assert visible_parts("[DONE]") == [] and visible_parts("not json") == []


async def test_within_the_hold_nothing_is_taken() -> None:
    gate, taken = meter(balance=100)
    await gate(event("0123456789"))
    assert taken == []


async def test_past_the_hold_a_slice_is_taken_ahead_else_just_the_piece() -> None:
    gate, taken = meter(balance=10_000)
    await gate(event("x" * 11))
    assert taken == [11 + SLICE]
    gate, taken = meter(balance=15)
    await gate(event("x" * 12))
    assert taken == [12]


async def test_a_balance_that_cannot_pay_ends_the_stream() -> None:
    gate, _ = meter(balance=10)
    with pytest.raises(RelayError) as e:
        await gate(event("x" * 11))
    assert (e.value.status, e.value.code) == (403, "insufficient_quota")
