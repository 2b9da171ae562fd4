"""The relays of one pipeline that are waiting on their upstream: ended early when their client has gone,
or when a stop's grace is over.

aiohttp does not cancel a handler when its client disconnects (`handler_cancellation` is off by default,
and turning it on would cancel a handler anywhere, halfway through a reservation included). So only the
upstream part of a relay — the wait for its headers and the relay of its body — is watched here: a client
gone during it cancels the handler right there, which closes the upstream connection (never returned to
the pool), and the pipeline ends the flow with an error so the `done` hooks refund what was not delivered.
The same cancellation ends, with an error event, the streams still running when a stop's grace is over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from proxy.core.errors import RelayError
from proxy.core.flow import Flow

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.25   # seconds between two looks at the waiting relays' clients
AFTER_ABORT = 2.0       # seconds the aborted relays get to write their error event and finish


def client_gone() -> RelayError:
    # nginx's code for a request its client closed; nobody reads the answer, the log row and metrics do
    return RelayError(499, "client closed the request", code="client_closed_request")


def shutting_down() -> RelayError:
    return RelayError(503, "the gateway is shutting down; the upstream answer was cut", code="shutting_down")


def cancelled(request: web.Request, flow: Flow[Any]) -> RelayError:
    """The error of a relay cancelled from outside: its client gone, or the server stopping."""
    transport = request.transport
    if transport is None or transport.is_closing():
        flow.client_disconnected = True
        return client_gone()
    return shutting_down()


class InFlight:
    """Who is waiting on an upstream (by handler task), and the reason a task was cancelled by us."""

    def __init__(self, interval: float = WATCH_INTERVAL) -> None:
        self.interval = interval
        self.waiting: dict[asyncio.Task[Any], tuple[web.Request, Flow[Any]]] = {}
        self.reasons: dict[asyncio.Task[Any], RelayError] = {}
        # tasks inside a guarded step (a hold growing through the ledger), and the abort each one awaits
        self.busy: set[asyncio.Task[Any]] = set()
        self.deferred: dict[asyncio.Task[Any], RelayError] = {}
        self.watcher: asyncio.Task[None] | None = None
        self.running = 0        # relays anywhere between their start and their end (counted by the pipeline)
        self.closing = False    # the stop's grace is over: whoever still turns to an upstream is ended too

    def enter(self, request: web.Request, flow: Flow[Any]) -> None:
        """The current task now waits on the upstream for this flow."""
        task = asyncio.current_task()
        if task is None:
            return
        self.waiting[task] = (request, flow)
        if self.closing:
            self.abort(task, shutting_down())
        elif self.watcher is None:
            self.watcher = asyncio.get_running_loop().create_task(self._watch())

    def leave(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.waiting.pop(task, None)

    def reason(self) -> RelayError | None:
        """Why we cancelled the current task (clearing the cancellation), None when it was not us."""
        task = asyncio.current_task()
        err = self.reasons.pop(task, None) if task is not None else None
        if err is not None and task is not None:
            task.uncancel()
        return err

    def abort(self, task: asyncio.Task[Any], err: RelayError) -> None:
        self.waiting.pop(task, None)
        if task in self.busy:   # cancelled once the guarded step is over
            self.deferred.setdefault(task, err)
            return
        if task not in self.reasons and not task.done():
            self.reasons[task] = err
            task.cancel()

    def counted(self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Another handler (an admin call passed through) counted as in progress: a stop's drain lets it
        finish within the grace too."""
        async def run(request: web.Request) -> web.StreamResponse:
            self.running += 1
            try:
                return await handler(request)
            finally:
                self.running -= 1
        return run

    def guard(self, step: Callable[[bytes], Awaitable[None]]) -> Callable[[bytes], Awaitable[None]]:
        """`step` wrapped so that an abort waits for its end: a reservation halfway through the ledger
        (a round trip to the owner, a database transaction) must not be cut, or what it took is lost."""
        async def guarded(data: bytes) -> None:
            task = asyncio.current_task()
            if task is None:
                return await step(data)
            self.busy.add(task)
            try:
                await step(data)
            except BaseException:   # the step ends the relay itself: that error wins
                self.deferred.pop(task, None)
                raise
            finally:
                self.busy.discard(task)
            err = self.deferred.pop(task, None)
            if err is not None:
                self.abort(task, err)   # delivered at the relay's next wait, still on the upstream
        return guarded

    async def _watch(self) -> None:
        try:
            while self.waiting:
                await asyncio.sleep(self.interval)
                for task, (request, flow) in list(self.waiting.items()):
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        flow.client_disconnected = True
                        self.abort(task, client_gone())
        finally:
            self.watcher = None

    async def drain(self, grace: float) -> None:
        """On stop: the relays in progress get `grace` seconds to finish; then those on their upstream are
        ended (a stream gets an error event), as is any that turns to its upstream later, and get a moment
        to say so."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if self.running:
            log.info("stopping: %d relays in flight get up to %gs", self.running, grace)
        while self.running and loop.time() < deadline:
            await asyncio.sleep(0.05)
        self.closing = True
        if self.waiting:
            log.warning("stopping: %d relays still running after %gs are cut", len(self.waiting), grace)
        aborted = list(self.waiting)
        for task in aborted:
            self.abort(task, shutting_down())
        end = loop.time() + AFTER_ABORT
        while self.running and loop.time() < end:
            await asyncio.sleep(0.05)
        if self.watcher is not None:   # nothing left to watch: not left pending when the loop closes
            self.watcher.cancel()


__all__ = ["InFlight", "cancelled", "client_gone", "shutting_down"]
