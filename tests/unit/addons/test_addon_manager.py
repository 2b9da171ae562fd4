"""The interception core's hook calls: plain and coroutine hooks in list order, errors as documented."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

import proxy.addons
from proxy.core.addon_manager import AddonManager, misspelt_hooks
from proxy.core.errors import RelayError
from proxy.core.flow import ClientRequest, Flow


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


class Misspelt:
    """Hooks that would never run: a typo, a prefix, a plural; plus a helper that is no hook."""

    def respnse(self, flow: Flow[Any]) -> None: ...
    def on_request(self, flow: Flow[Any]) -> None: ...
    def chunks(self, flow: Flow[Any], data: bytes) -> None: ...
    def requests(self, flow: Flow[Any]) -> None: ...
    def done(self, flow: Flow[Any]) -> None: ...
    def refund(self, amount: int) -> None: ...


def test_a_method_that_looks_like_a_hook_is_warned_about_at_start(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="proxy.core.addon_manager"):
        AddonManager([Plain("a"), Misspelt()])
    warned = {(r.args[1], r.args[2]) for r in caplog.records if r.levelno == logging.WARNING}  # type: ignore[index]
    assert warned == {("respnse", "response"), ("on_request", "request"), ("chunks", "chunk"),
                      ("requests", "request")}
    assert all("Misspelt" in r.getMessage() and "never be called" in r.getMessage() for r in caplog.records)


def test_the_gateway_addons_have_no_misspelt_hook() -> None:
    """Every class in proxy/addons: a warning at start-up would be noise on every worker."""
    for info in pkgutil.iter_modules(proxy.addons.__path__, "proxy.addons."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == module.__name__:
                assert misspelt_hooks(cls) == [], cls
