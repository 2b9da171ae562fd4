"""The ordered addon list and how hooks are called on it.

Hooks, in the order a flow meets them:
  requestheaders(flow)  once, before the body is read (flow.request.body is b""): authenticate, so that
                        nothing of a refused request's body is read or inflated
  request(flow)         once, with the body: parse, check, reserve; may answer locally (flow.response)
  route(flow)           each attempt: choose the upstream
  rewrite(flow)         each attempt: build flow.upstream (URL, headers, body) and flow.transform
  upstream_error(flow)  each failed attempt, flow.error holds the error; addons may refine it
                        (convert a provider body), disable a channel, or clear `retryable`
  response(flow)        the upstream answered 2xx; status and headers known, body not yet sent
  chunk(flow, data)     every piece of bytes written to the client (taps: read, never modify)
  error(flow)           the flow ends with flow.error, just before it is written (an error answer, or an
                        error event inside a started stream); addons may reword it for the client
  done(flow)            exactly once at the end, success or not: settle, log, count

A hook may be a coroutine function or a plain one (as in mitmproxy): a hook that never waits for anything
is better plain, since awaiting a coroutine that does not suspend still costs its creation, on every request.

A method whose name is close to a hook's but is none (`respnse`, `on_request`, `chunks`) would silently never
run: the manager logs a warning for it when the list is built, as mitmproxy does.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Iterable
from typing import Any

from proxy.core.flow import Flow

log = logging.getLogger(__name__)

HOOKS = ("requestheaders", "request", "route", "rewrite", "upstream_error", "response", "chunk", "error", "done")
_HOOK_PREFIXES = ("on_", "handle_", "hook_")


def misspelt_hooks(addon: object) -> list[tuple[str, str]]:
    """(method, the hook it looks like) for each public method of the addon's class that looks like a hook
    but is not one: a prefix (`on_request`), a plural (`chunks`), a case or a typo (`respnse`)."""
    cls = addon if isinstance(addon, type) else type(addon)
    found = []
    for name in dir(cls):
        if name.startswith("_") or name in HOOKS or not callable(getattr(cls, name, None)):
            continue
        bare = name.lower()
        for prefix in _HOOK_PREFIXES:
            bare = bare.removeprefix(prefix)
        close = [bare] if bare in HOOKS else difflib.get_close_matches(bare, HOOKS, n=1, cutoff=0.8)
        if close:
            found.append((name, close[0]))
    return found


class AddonManager:
    """Calls each hook on every addon that defines it, in list order."""

    def __init__(self, addons: Iterable[Any]) -> None:
        self.addons = list(addons)
        for addon in self.addons:
            for name, hook in misspelt_hooks(addon):
                log.warning("addon %s has a method %r that is not a hook and will never be called: did you mean %r?",
                            type(addon).__name__, name, hook)
        # each hook: (function, whether it is a coroutine function); "chunk" taps are always plain
        self._table = {hook: [(fn, inspect.iscoroutinefunction(fn)) for fn in self._functions(hook)]
                       for hook in HOOKS}
        self._taps = self._functions("chunk")

    def _functions(self, hook: str) -> list[Any]:
        return [getattr(a, hook) for a in self.addons if callable(getattr(a, hook, None))]

    def has(self, hook: str) -> bool:
        return bool(self._table[hook])

    async def run(self, hook: str, flow: Flow[Any], *args: Any) -> None:
        """Errors propagate: a RelayError from an addon ends the flow with that answer."""
        for fn, is_async in self._table[hook]:
            if is_async:
                await fn(flow, *args)
            else:
                fn(flow, *args)

    def run_chunk(self, flow: Flow[Any], data: bytes) -> None:
        """Taps are synchronous and cheap; one failing tap is logged, never breaks the stream."""
        for fn in self._taps:
            try:
                fn(flow, data)
            except Exception:
                log.exception("chunk tap %r failed", fn)

    async def run_quietly(self, hook: str, flow: Flow[Any]) -> None:
        """For `done`: every addon runs even if one fails."""
        for fn, is_async in self._table[hook]:
            try:
                if is_async:
                    await fn(flow)
                else:
                    fn(flow)
            except Exception:
                log.exception("%s hook %r failed for request %s", hook, fn, flow.request_id)
