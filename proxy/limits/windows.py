"""Where the rate windows live (#17): in this process, or in the database every worker and node shares.

- `MemoryWindows` (SQLite, one worker): a sliding log per scope in memory; checking every scope and appending
  the request has no await in between, so it is atomic in the event loop.
- `DatabaseWindows` (several nodes on MySQL/PostgreSQL): the same log in `rate_events`, checked and written
  under the scopes' row locks (store.rate_windows.admit), so no interleaving of processes admits one too many.
- several workers on SQLite: one `MemoryWindows` held by the ledger owner, asked over its socket
  (proxy.ledger.remote_limits.RemoteWindows).

Both keep a sliding log, not fixed windows with carry: the bound "at most N requests in any 60 s" holds exactly,
and a log never holds more than the limit's requests (RPM) or the window's admitted requests (TPM).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from proxy.limits.policy import WINDOW_MS, Refusal, Scope, Window, decide, headers
from store import Database
from store.rate_windows import Seen, admit, ensure_scopes, finish

LEASE_MS = 15 * 60_000   # a request held by a node that died frees its concurrency slot after this
log = logging.getLogger(__name__)


class LimitExceeded(Exception):
    """A request did not fit; carries the refusal and the headers to answer with, what refused it (`source`, a
    metrics label: "memory", "database" or "redis") and the windows the decision saw (what Redis remembers)."""

    def __init__(self, refusal: Refusal, headers: dict[str, str], source: str = "memory",
                 windows: Sequence[Window] = (), now_ms: int = 0) -> None:
        super().__init__(refusal.message())
        self.refusal = refusal
        self.headers = headers
        self.source = source
        self.windows = windows
        self.now_ms = now_ms


@dataclass(slots=True)
class Ticket:
    """An admitted request's place in its windows, given back to `finish` when it ends."""

    headers: dict[str, str]
    tokens: int = 0                                       # the estimate it was admitted with
    events: list[_Event] = field(default_factory=list)   # MemoryWindows
    ids: list[int] = field(default_factory=list)          # DatabaseWindows: its events; RemoteWindows: its ticket
    scopes: Sequence[Scope] = ()                          # RedisRefusals: the scopes whose refusals it may clear
    finished: bool = False


class Windows(Protocol):
    async def acquire(self, scopes: Sequence[Scope], tokens: int) -> Ticket: ...

    def finish(self, ticket: Ticket, tokens: int) -> None:
        """The request ended: its real tokens, its slot free. Never waits (it runs in `done`, which a
        cancellation must not cut halfway); what needs the database runs in the background, see `close`."""

    async def close(self) -> None:
        """Wait for the background finishes (a graceful stop)."""


@dataclass(slots=True, eq=False)
class _Event:
    at_ms: int
    tokens: int
    log: _Log
    open: bool = True        # holds a concurrency slot
    in_window: bool = True   # still counted in its log's window


class _Log:
    __slots__ = ("events", "tokens", "open")

    def __init__(self) -> None:
        self.events: deque[_Event] = deque()
        self.tokens = 0
        self.open = 0

    def window(self, now_ms: int) -> Window:
        start = now_ms - WINDOW_MS
        events = self.events
        while events and events[0].at_ms <= start:
            gone = events.popleft()
            gone.in_window = False
            self.tokens -= gone.tokens
        return Window(len(events), self.tokens, self.open, events[0].at_ms if events else None)


class MemoryWindows:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.logs: dict[str, _Log] = {}

    async def acquire(self, scopes: Sequence[Scope], tokens: int) -> Ticket:
        return self.try_acquire(scopes, tokens)

    def try_acquire(self, scopes: Sequence[Scope], tokens: int) -> Ticket:
        """Check every scope and append the request, with no await (the ledger owner calls it directly)."""
        now_ms = int(self.clock() * 1000)
        logs = [self.logs.get(s.key) or self.logs.setdefault(s.key, _Log()) for s in scopes]
        windows = [log.window(now_ms) for log in logs]
        refusal = decide(scopes, windows, tokens, now_ms)
        if refusal is not None:
            raise LimitExceeded(refusal, headers(scopes, windows, tokens, now_ms, admitted=False))
        ticket = Ticket(headers(scopes, windows, tokens, now_ms, admitted=True), tokens)
        for log in logs:
            event = _Event(now_ms, tokens, log)
            log.events.append(event)
            log.tokens += tokens
            log.open += 1
            ticket.events.append(event)
        return ticket

    def finish(self, ticket: Ticket, tokens: int) -> None:
        if ticket.finished:
            return
        ticket.finished = True
        for event in ticket.events:
            log = event.log
            if event.in_window:
                log.tokens += tokens - event.tokens
            event.tokens = tokens
            if event.open:
                event.open = False
                log.open -= 1

    async def close(self) -> None:
        return None


def _window(seen: Seen) -> Window:
    return Window(seen.requests, seen.tokens, seen.parallel, seen.oldest_ms)


class DatabaseWindows:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time, lease_ms: int = LEASE_MS) -> None:
        self.db = db
        self.clock = clock
        self.lease_ms = lease_ms
        self.known: set[str] = set()   # scopes whose row exists
        self.pending: set[asyncio.Task[None]] = set()

    async def acquire(self, scopes: Sequence[Scope], tokens: int) -> Ticket:
        keys = [s.key for s in scopes]
        seen: list[Window] = []
        now_ms = 0

        def check(found: list[Seen], now: int) -> Refusal | None:
            nonlocal now_ms
            now_ms = now
            seen.extend(_window(f) for f in found)
            return decide(scopes, seen, tokens, now)

        async with self.db.session() as s:
            await ensure_scopes(s, keys, self.known)
            ids, refusal = await admit(s, keys, tokens, self._now_ms, WINDOW_MS, self.lease_ms, check)
        if refusal is not None:
            raise LimitExceeded(refusal, headers(scopes, seen, tokens, now_ms, admitted=False), "database",
                                seen, now_ms)
        return Ticket(headers(scopes, seen, tokens, now_ms, admitted=True), tokens, ids=ids)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def finish(self, ticket: Ticket, tokens: int) -> None:
        if ticket.finished:
            return
        ticket.finished = True
        task = asyncio.get_running_loop().create_task(self.finish_events(ticket.ids, tokens))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def finish_events(self, ids: list[int], tokens: int) -> None:
        """`finish`'s database work (awaited by RedisRefusals before it clears its keys). Never raises."""
        try:
            async with self.db.session() as s:
                await finish(s, ids, tokens)
        except Exception:   # the lease frees the slot in the end
            log.exception("rate limits: could not finish events %s", ids)

    async def close(self) -> None:
        while self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)


__all__ = ["LEASE_MS", "DatabaseWindows", "LimitExceeded", "MemoryWindows", "Ticket", "Windows"]
