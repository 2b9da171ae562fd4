"""Reservation alone, with a fake flow and ledger: a balance that covers the longest answer holds it and leaves
the body byte-exact; one that cannot holds what it has and caps the output limit in this attempt's changes."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.addons.reservation import Reservation
from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.gateway.state import RelayState
from proxy.gateway.tokenizer import Tokenizer
from rules import load_max_output, load_prices
from tests.unit.addons.fakes import FakeLedger, channel, make_flow, token, user

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def flow_for(body: dict[str, Any], stream: bool = False) -> Flow[RelayState]:
    flow = make_flow(body=body, token=token(), user=user(), mode="chat", model="gpt-4o-mini", channel=channel(),
                     stream=stream)
    flow.state.body = dict(body)
    return flow


def reservation(ledger: FakeLedger) -> Reservation:
    return Reservation(ledger, load_prices, lambda: {"PreConsumedQuota": "0"}, Tokenizer(), load_max_output())  # type: ignore[arg-type]


async def test_a_covered_hold_changes_nothing_in_the_body() -> None:
    ledger = FakeLedger()
    flow = flow_for({**CHAT, "max_tokens": 50})
    await reservation(ledger).rewrite(flow)
    assert flow.state.billed and flow.state.reserved > 0 and ledger.events == [("reserve", flow.state.reserved)]
    assert flow.state.body_changes == {} and flow.gate is None


async def test_a_short_balance_caps_the_answer_and_meters_a_stream() -> None:
    ledger = FakeLedger(token_balance=300)
    flow = flow_for(CHAT, stream=True)
    await reservation(ledger).rewrite(flow)
    state = flow.state
    assert 0 < state.reserved <= 300 and state.output_cap > 0
    assert state.body_changes == {"max_tokens": state.output_cap}
    assert flow.gate is not None


async def test_a_balance_that_cannot_pay_the_prompt_is_refused() -> None:
    with pytest.raises(RelayError) as e:
        await reservation(FakeLedger(token_balance=0)).rewrite(flow_for(CHAT))
    assert (e.value.status, e.value.code) == (403, "pre_consume_token_quota_failed")
