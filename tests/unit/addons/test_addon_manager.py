"""The interception core's hook calls: plain and coroutine hooks in list order, errors as documented."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.core.addons import AddonManager
from proxy.core.errors import RelayError
from proxy.core.flow import ClientRequest, Flow
from multidict import CIMultiDict, CIMultiDictProxy


def _flow() -> Flow[list[str]]:
    request = ClientRequest("POST", "/v1/chat/completions", "", CIMultiDictProxy(CIMultiDict()), b"", "127.0.0.1")
    return Flow(request, request_id="r1", state=[])


class Plain:
    def __init__(self, name: str) -> None:
        self.name = name

    def request(self, flow: Flow[list[str]]) -> None:
        flow.state.append(f"{self.name}:request")

    def done(self, flow: Flow[list[str]]) -> None:
        flow.state.append(f"{self.name}:done")


class Waits:
    def __init__(self, name: str) -> None:
        self.name = name

    async def request(self, flow: Flow[list[str]]) -> None:
        flow.state.append(f"{self.name}:request")

    async def done(self, flow: Flow[list[str]]) -> None:
        flow.state.append(f"{self.name}:done")


class Refuses:
    def request(self, flow: Flow[Any]) -> None:
        raise RelayError(401, "no")

    async def done(self, flow: Flow[Any]) -> None:
        raise ValueError("a buggy done hook")


async def test_plain_and_coroutine_hooks_run_in_list_order() -> None:
    manager = AddonManager([Plain("a"), Waits("b"), Plain("c")])
    flow = _flow()
    await manager.run("request", flow)
    await manager.run_quietly("done", flow)
    assert flow.state == ["a:request", "b:request", "c:request", "a:done", "b:done", "c:done"]
    assert manager.has("request") and not manager.has("rewrite")


async def test_a_refusal_stops_the_hook_and_a_failing_done_does_not_stop_the_others() -> None:
    manager = AddonManager([Plain("a"), Refuses(), Waits("b")])
    flow = _flow()
    with pytest.raises(RelayError):
        await manager.run("request", flow)
    assert flow.state == ["a:request"]          # b never saw the refused request
    await manager.run_quietly("done", flow)
    assert flow.state == ["a:request", "a:done", "b:done"]
