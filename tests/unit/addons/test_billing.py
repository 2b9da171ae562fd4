"""Billing alone (after the Reservation that holds), with a fake flow and ledger: settle, refund."""

from __future__ import annotations

import pytest

from proxy.addons.billing import Billing
from proxy.addons.reservation import Reservation
from proxy.core.errors import RelayError, UpstreamError
from proxy.gateway.tokenizer import Tokenizer
from rules import load_max_output, load_prices
from tests.unit.addons.fakes import FakeLedger, channel, make_flow, token, user

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "seed": 0, "x_extra": [1]}


def _money(ledger: FakeLedger, options: dict[str, str]) -> tuple[Reservation, Billing]:
    return (Reservation(ledger, load_prices, lambda: options, Tokenizer(), load_max_output()),
            Billing(ledger, load_prices, lambda: options, Tokenizer()))


async def test_billing_reserves_settles_and_refunds() -> None:
    ledger = FakeLedger()
    reservation, billing = _money(ledger, {"PreConsumedQuota": "500"})
    flow = make_flow(body=CHAT, token=token(), user=user(), mode="chat", model="gpt-4o-mini", channel=channel())
    flow.state.body = dict(CHAT, max_tokens=100)
    await reservation.rewrite(flow)
    reserved = flow.state.reserved
    assert reserved > 0 and ledger.events == [("reserve", reserved)]
    flow.state.completion_parts = ["Hello there!"]
    await billing.done(flow)
    assert ledger.events[-1] == ("settle", (reserved, flow.state.quota)) and flow.state.usage_source == "counted"

    ledger = FakeLedger(token_balance=5)
    reservation, billing = _money(ledger, {"PreConsumedQuota": "500"})
    flow = make_flow(body=CHAT, token=token(), user=user(), mode="chat", model="gpt-4o-mini", channel=channel())
    flow.state.body = dict(CHAT)
    with pytest.raises(RelayError) as info:
        await reservation.rewrite(flow)
    assert (info.value.status, info.value.message) == (403, "令牌额度不足")

    ledger = FakeLedger()
    reservation, billing = _money(ledger, {})
    flow = make_flow(body=CHAT, token=token(), user=user(), mode="chat", model="gpt-4o-mini", channel=channel())
    flow.state.body = dict(CHAT)
    await reservation.rewrite(flow)
    flow.error = UpstreamError(500, "x")
    await billing.done(flow)
    assert ledger.events[-1] == ("refund", flow.state.reserved)


async def test_a_long_answer_is_counted_off_the_event_loop() -> None:
    """A long answer with no usage is counted in a worker thread: the event loop keeps serving meanwhile."""
    import threading

    threads: list[str] = []

    class Recording(Tokenizer):
        def count_text(self, text: str, model: str) -> int:
            threads.append(threading.current_thread().name)
            return super().count_text(text, model)

    ledger = FakeLedger()
    reservation = Reservation(ledger, load_prices, lambda: {}, Recording(), load_max_output())
    billing = Billing(ledger, load_prices, lambda: {}, Recording())
    for parts, off_loop in ((["Hello there!"], False), (["lorem ipsum " * 40_000], True)):
        flow = make_flow(body=CHAT, token=token(), user=user(), mode="chat", model="gpt-4o-mini", channel=channel())
        flow.state.body = dict(CHAT)
        await reservation.rewrite(flow)
        flow.state.completion_parts = parts
        threads.clear()
        await billing.done(flow)
        assert flow.state.usage_source == "counted" and flow.state.usage.completion_tokens > 0
        assert (threads[-1] != threading.main_thread().name) is off_loop, threads
