"""InFlight alone: a relay whose client is gone is cancelled where it waits on the upstream and learns why;
a stop's drain lets relays finish within the grace and cuts the rest; a cancellation not ours stays one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.core.errors import RelayError
from proxy.core.flow import ClientRequest, Flow
from proxy.core.inflight import InFlight


class FakeTransport:
    def __init__(self) -> None:
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing


class FakeRequest:
    def __init__(self) -> None:
        self.transport: FakeTransport | None = FakeTransport()


def new_flow() -> Flow[Any]:
    return Flow(ClientRequest("POST", "/v1/chat/completions", "", CIMultiDictProxy(CIMultiDict()), b"", "127.0.0.1"),
                request_id="r", state=None)


async def relay(inflight: InFlight, request: FakeRequest, flow: Flow[Any], upstream_takes: float) -> RelayError | str:
    """What Pipeline.handle (the count) and Pipeline._watched_attempt (the watch) do around the upstream wait."""
    inflight.running += 1
    inflight.enter(request, flow)  # type: ignore[arg-type]
    try:
        await asyncio.sleep(upstream_takes)
        return "answered"
    except asyncio.CancelledError:
        err = inflight.reason()
        if err is None:
            raise
        return err
    finally:
        inflight.leave()
        inflight.running -= 1


async def test_a_gone_client_cancels_the_wait_within_the_interval() -> None:
    inflight = InFlight(interval=0.05)
    request, flow = FakeRequest(), new_flow()
    task = asyncio.create_task(relay(inflight, request, flow, 10))
    await asyncio.sleep(0.1)
    assert not task.done()                     # the client is still there: it waits
    request.transport = None                   # the client left
    started = time.monotonic()
    err = await task
    assert isinstance(err, RelayError) and err.status == 499 and flow.client_disconnected
    assert time.monotonic() - started < 0.2
    assert not inflight.waiting and task.cancelling() == 0   # the cancellation was taken back


async def test_drain_lets_relays_finish_in_the_grace_and_cuts_the_rest() -> None:
    inflight = InFlight(interval=0.05)
    quick = asyncio.create_task(relay(inflight, FakeRequest(), new_flow(), 0.1))
    slow = asyncio.create_task(relay(inflight, FakeRequest(), new_flow(), 10))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await inflight.drain(0.3)
    assert 0.25 < time.monotonic() - started < 0.6
    assert await quick == "answered"
    cut = await slow
    assert isinstance(cut, RelayError) and cut.status == 503 and cut.code == "shutting_down"
    late = await relay(inflight, FakeRequest(), new_flow(), 10)   # after the grace, a new wait is cut at once
    assert isinstance(late, RelayError) and late.code == "shutting_down"


async def test_drain_waits_for_a_relay_still_before_its_upstream() -> None:
    """A relay in its authentication or reservation when the stop comes is served, not cut at once."""
    inflight = InFlight(interval=0.05)

    async def slow_start_then_upstream() -> RelayError | str:
        inflight.running += 1
        try:
            await asyncio.sleep(0.2)             # auth, body, reservation: not yet on the upstream
            return await relay(inflight, FakeRequest(), new_flow(), 0.1)
        finally:
            inflight.running -= 1

    task = asyncio.create_task(slow_start_then_upstream())
    await asyncio.sleep(0.01)
    await inflight.drain(2.0)
    assert await task == "answered"


async def test_a_cancellation_that_is_not_ours_goes_on() -> None:
    inflight = InFlight(interval=0.05)
    task = asyncio.create_task(relay(inflight, FakeRequest(), new_flow(), 10))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not inflight.waiting


async def test_a_guarded_step_is_never_cut_halfway() -> None:
    """A hold growing mid-stream (a ledger round trip) finishes before the gone client's abort lands."""
    inflight = InFlight(interval=0.05)
    request, flow = FakeRequest(), new_flow()
    held: list[int] = []

    async def grow_hold(data: bytes) -> None:
        await asyncio.sleep(0.3)         # the owner's answer takes a while
        held.append(len(data))

    async def stream() -> RelayError | str:
        inflight.enter(request, flow)  # type: ignore[arg-type]
        gate = inflight.guard(grow_hold)
        try:
            await gate(b"piece")
            await asyncio.sleep(10)      # the next wait on the upstream
            return "answered"
        except asyncio.CancelledError:
            err = inflight.reason()
            return err if err is not None else "not ours"
        finally:
            inflight.leave()

    task = asyncio.create_task(stream())
    await asyncio.sleep(0.05)
    request.transport = None             # the client leaves while the hold grows
    err = await task
    assert held == [5]                   # the step ran to its end
    assert isinstance(err, RelayError) and err.status == 499
    assert not inflight.busy and not inflight.deferred and not inflight.reasons


async def test_drain_waits_for_a_counted_handler() -> None:
    inflight = InFlight(interval=0.05)

    async def admin_call(request: Any) -> Any:
        await asyncio.sleep(0.3)
        return "answered"

    task = asyncio.create_task(inflight.counted(admin_call)(FakeRequest()))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await inflight.drain(2.0)
    assert 0.25 < time.monotonic() - started < 1.0 and await task == "answered" and inflight.running == 0
