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
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from proxy.limits.policy import WINDOW_MS, Refusal, Scope, Window, decide, headers
from store import Database
from store.rate_windows import Seen, admit, ensure_scopes, finish, renew

# A running request's concurrency slot is held by a lease its node renews every RENEW_S: a request holds its slot
# however long it runs, and the slots of a node that died free within LEASE_MS.
LEASE_MS = 60_000
RENEW_S = 20.0
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
    logs: list[_Log] = field(default_factory=list)        # MemoryWindows: its scopes' logs ...
    ids: list[int] = field(default_factory=list)          # ... and its place in each; DatabaseWindows: its events;
                                                          # RemoteWindows: its ticket
    scopes: Sequence[Scope] = ()                          # RedisRefusals: the scopes whose refusals it may clear
    finished: bool = False


class Windows(Protocol):
    async def acquire(self, scopes: Sequence[Scope], tokens: int) -> Ticket: ...

    def finish(self, ticket: Ticket, tokens: int) -> None:
        """The request ended: its real tokens, its slot free. Never waits (it runs in `done`, which a
        cancellation must not cut halfway); what needs the database runs in the background, see `close`."""

    async def close(self) -> None:
        """Wait for the background finishes (a graceful stop)."""


class _Log:
    """One scope's sliding window: the admission time and tokens of each request of the last minute, in a ring of
    two int64 arrays addressed by sequence number (request n of the scope lives at n & mask while it is in the
    window). Plain numbers, no object per request: a scope at thousands of requests a second holds a minute of
    them in 16 bytes each, and the garbage collector has nothing to walk."""

    __slots__ = ("at", "toks", "mask", "head", "tail", "tokens", "open")

    def __init__(self) -> None:
        self.at = array("q", bytes(8 * 16))
        self.toks = array("q", bytes(8 * 16))
        self.mask = 15
        self.head = 0        # the sequence number of the oldest request still in the window
        self.tail = 0        # the next request's
        self.tokens = 0      # the window's tokens
        self.open = 0        # requests holding a concurrency slot

    def __len__(self) -> int:
        return self.tail - self.head

    def window(self, now_ms: int) -> Window:
        start = now_ms - WINDOW_MS
        at, mask, head, tail = self.at, self.mask, self.head, self.tail
        while head < tail and at[head & mask] <= start:
            self.tokens -= self.toks[head & mask]
            head += 1
        self.head = head
        return Window(tail - head, self.tokens, self.open, at[head & mask] if head < tail else None)

    def append(self, now_ms: int, tokens: int) -> int:
        if self.tail - self.head > self.mask:
            self._grow()
        seq = self.tail
        self.at[seq & self.mask] = now_ms
        self.toks[seq & self.mask] = tokens
        self.tail = seq + 1
        self.tokens += tokens
        self.open += 1
        return seq

    def _grow(self) -> None:
        size, old = 2 * (self.mask + 1), self.mask
        at, toks = array("q", bytes(8 * size)), array("q", bytes(8 * size))
        for seq in range(self.head, self.tail):
            at[seq & (size - 1)] = self.at[seq & old]
            toks[seq & (size - 1)] = self.toks[seq & old]
        self.at, self.toks, self.mask = at, toks, size - 1

    def settle(self, seq: int, tokens: int) -> None:
        """A request ended: its real tokens replace its estimate while it is still in the window; its slot is free."""
        if seq >= self.head:
            i = seq & self.mask
            self.tokens += tokens - self.toks[i]
            self.toks[i] = tokens
        self.open -= 1


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
        return Ticket(headers(scopes, windows, tokens, now_ms, admitted=True), tokens, logs,
                      [log.append(now_ms, tokens) for log in logs])

    def finish(self, ticket: Ticket, tokens: int) -> None:
        if ticket.finished:
            return
        ticket.finished = True
        for log, seq in zip(ticket.logs, ticket.ids, strict=True):
            log.settle(seq, tokens)

    async def close(self) -> None:
        return None


def _window(seen: Seen) -> Window:
    return Window(seen.requests, seen.tokens, seen.parallel, seen.oldest_ms)


class DatabaseWindows:
    """The windows in `rate_events`. The events of this node's running requests are kept in `open`, and a
    background task renews their leases every `renew_every` seconds (one UPDATE), so a stream longer than the
    lease keeps its slot, and a node that stops (killed, cut off) frees its slots once its leases run out."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time, lease_ms: int = LEASE_MS,
                 renew_every: float = RENEW_S) -> None:
        self.db = db
        self.clock = clock
        self.lease_ms = lease_ms
        self.renew_every = renew_every
        self.known: set[str] = set()   # scopes whose row exists
        self.pending: set[asyncio.Task[None]] = set()
        self.open: set[int] = set()    # events of this node's requests still running
        self.renewal: asyncio.Task[None] | None = None

    async def acquire(self, scopes: Sequence[Scope], tokens: int) -> Ticket:
        keys = [s.key for s in scopes]
        seen: list[Window] = []
        now_ms = 0

        def check(found: list[Seen], now: int) -> Refusal | None:
            nonlocal now_ms
            now_ms = now
            seen.extend(_window(f) for f in found)
            return decide(scopes, seen, tokens, now)

        if self.renewal is None:
            self.renewal = asyncio.get_running_loop().create_task(self._renew_forever())
        async with self.db.session() as s:
            await ensure_scopes(s, keys, self.known)
            ids, refusal = await admit(s, keys, tokens, self._now_ms, WINDOW_MS, self.lease_ms, check)
        if refusal is not None:
            raise LimitExceeded(refusal, headers(scopes, seen, tokens, now_ms, admitted=False), "database",
                                seen, now_ms)
        self.open.update(ids)
        return Ticket(headers(scopes, seen, tokens, now_ms, admitted=True), tokens, ids=ids)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def renew(self) -> None:
        """Extend the leases of this node's running requests to a full lease from now."""
        if self.open:
            async with self.db.session() as s:
                await renew(s, sorted(self.open), self._now_ms() + self.lease_ms)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            try:
                await self.renew()
            except Exception:   # the database is away: try again next period (the lease outlasts a few)
                log.exception("rate limits: could not renew the leases of %d running requests", len(self.open))

    def finish(self, ticket: Ticket, tokens: int) -> None:
        if ticket.finished:
            return
        ticket.finished = True
        task = asyncio.get_running_loop().create_task(self.finish_events(ticket.ids, tokens))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def finish_events(self, ids: list[int], tokens: int) -> None:
        """`finish`'s work: no more renewals, the events ended in the database (RedisRefusals awaits it before
        it clears its keys). Never raises."""
        self.open.difference_update(ids)
        try:
            async with self.db.session() as s:
                await finish(s, ids, tokens)
        except Exception:   # the lease frees the slot in the end
            log.exception("rate limits: could not finish events %s", ids)

    async def close(self) -> None:
        """Stop renewing and wait for the finishes (the requests have ended: a graceful stop)."""
        if self.renewal is not None:
            self.renewal.cancel()
            await asyncio.gather(self.renewal, return_exceptions=True)
            self.renewal = None
        while self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)


__all__ = ["LEASE_MS", "RENEW_S", "DatabaseWindows", "LimitExceeded", "MemoryWindows", "Ticket", "Windows"]
