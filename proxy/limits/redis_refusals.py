"""Refusals remembered in Redis (#17): a full window is refused without asking the database again.

Admissions stay in the database (`DatabaseWindows`, the truth): failing over mid-window from a log held in Redis
to the database could not be exact, the database would not know Redis's admissions. Redis holds only refusals:
when the database refuses a request for a scope, the node writes `rl:full:<scope>` (the windows the refusal saw)
with an expiry at the instant the scope can free (RPM/TPM: when the oldest request leaves the window;
concurrency: `PARALLEL_HOLD_MS`, and deleted when a request of the scope ends). Every acquire first reads its
scopes' keys in one round trip and refuses from Redis when the remembered window still refuses this request.

Why it cannot admit one too many: a key only ever refuses, every admission is decided in the database. Until
the instant a key expires a window can only fill further (no request leaves a sliding window before its oldest
one), except when a request ends: it frees a slot or gives TPM back, and its `finish` deletes the keys. A key
written from a refusal that raced that delete refuses for at most its expiry: a brief over-refusal, never an
over-admission. Any Redis error (down, slow: a short socket timeout, no retries) sends the request to the
database alone, and Redis is skipped for `SKIP_S` seconds before it is tried again: never "unlimited".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from proxy.limits.policy import Refusal, Scope, Window, decide, frees_in_ms, headers
from proxy.limits.windows import DatabaseWindows, LimitExceeded, Ticket

KEY_PREFIX = "rl:full:"
PARALLEL_HOLD_MS = 1000   # a concurrency refusal is remembered this long (a finish deletes it sooner)
SKIP_S = 5.0              # after a Redis error, the database alone for this long
TIMEOUT_S = 0.5           # the limits' Redis client's socket timeout: a hung Redis costs little (a stopped one
                          # refuses the connection at once); a timeout on a busy loop only means the database
                          # decides alone for SKIP_S
log = logging.getLogger(__name__)


def key_of(scope_key: str) -> str:
    return KEY_PREFIX + scope_key


@dataclass(frozen=True, slots=True)
class Full:
    """What a key says: until when it holds, and the windows (by scope key) the database's refusal saw."""

    until_ms: int
    windows: Mapping[str, Window]


def encode(full: Full) -> bytes:
    return orjson.dumps({"u": full.until_ms, "w": {k: list(w) for k, w in full.windows.items()}})


def decode(raw: bytes | str | None) -> Full | None:
    """None for a missing key, and for anything this version did not write (never an error)."""
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
        windows = {str(k): Window(int(r), int(t), int(p), None if o is None else int(o))
                   for k, (r, t, p, o) in data["w"].items()}
        return Full(int(data["u"]), windows)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


def reopens_at(refusal: Refusal, window: Window, now_ms: int) -> int:
    """The instant the refused scope can free: its oldest request leaves the window (RPM/TPM), or a short hold
    (concurrency: a request ending frees it at any time, and deletes the key)."""
    if refusal.kind == "parallel":
        return now_ms + PARALLEL_HOLD_MS
    return now_ms + frees_in_ms(window, now_ms)


def refusal_from(scopes: Sequence[Scope], found: Sequence[Full | None], tokens: int,
                 now_ms: int) -> LimitExceeded | None:
    """The refusal the keys still make for this request, if any: each key's own scope's window, as the database
    saw it, decides again (a limit raised since, or a smaller TPM request, goes to the database)."""
    own = [(s, f.windows[s.key]) for s, f in zip(scopes, found, strict=True)
           if f is not None and f.until_ms > now_ms and s.key in f.windows]
    if not own:
        return None
    refusal = decide([s for s, _ in own], [w for _, w in own], tokens, now_ms)
    if refusal is None:
        return None
    # the headers: every scope some key knows (its own key's view first), as the database's refusal reported them
    known: dict[str, Window] = {}
    for f in found:
        if f is not None and f.until_ms > now_ms:
            for k, w in f.windows.items():
                known.setdefault(k, w)
    known.update({s.key: w for s, w in own})
    shown = [s for s in scopes if s.key in known]
    answer = headers(shown, [known[s.key] for s in shown], tokens, now_ms, admitted=False)
    return LimitExceeded(refusal, answer, "redis", [known[s.key] for s in shown], now_ms)


class RedisRefusals:
    """`DatabaseWindows` with the refusals remembered in Redis (see the module's doc)."""

    def __init__(self, inner: DatabaseWindows, redis: Any, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, skip_s: float = SKIP_S) -> None:
        self.inner = inner
        self.redis = redis
        self.clock = clock
        self.monotonic = monotonic
        self.skip_s = skip_s
        self.skip_until = 0.0
        self.pending: set[asyncio.Task[None]] = set()

    def usable(self) -> bool:
        return self.monotonic() >= self.skip_until

    def _failed(self, doing: str, error: Exception) -> None:
        if self.usable():
            log.warning("rate limits: Redis %s failed (%s); the database alone for %ss", doing, error, self.skip_s)
        self.skip_until = self.monotonic() + self.skip_s

    async def acquire(self, scopes: Sequence[Scope], tokens: int) -> Ticket:
        if self.usable():
            refused = await self._remembered(scopes, tokens)
            if refused is not None:
                raise refused
        try:
            ticket = await self.inner.acquire(scopes, tokens)
        except LimitExceeded as e:
            if self.usable() and e.windows:
                self._background(self._remember(scopes, e))
            raise
        ticket.scopes = scopes
        return ticket

    async def _remembered(self, scopes: Sequence[Scope], tokens: int) -> LimitExceeded | None:
        try:
            pipe = self.redis.pipeline(transaction=False)   # GETs, not MGET: a Redis Cluster spreads the keys
            for s in scopes:
                pipe.get(key_of(s.key))
            raw = await pipe.execute()
        except Exception as e:   # down, timed out, anything: the database decides alone
            self._failed("read", e)
            return None
        return refusal_from(scopes, [decode(r) for r in raw], tokens, int(self.clock() * 1000))

    async def _remember(self, scopes: Sequence[Scope], e: LimitExceeded) -> None:
        refused = e.refusal.scope
        window = next((w for s, w in zip(scopes, e.windows, strict=True) if s.key == refused.key), None)
        if window is None:
            return
        until = reopens_at(e.refusal, window, e.now_ms)
        ttl = until - int(self.clock() * 1000)
        if ttl <= 0:
            return
        value = encode(Full(until, {s.key: w for s, w in zip(scopes, e.windows, strict=True)}))
        try:
            await self.redis.set(key_of(refused.key), value, px=ttl)
        except Exception as err:
            self._failed("write", err)

    def finish(self, ticket: Ticket, tokens: int) -> None:
        if ticket.finished:
            return
        ticket.finished = True
        # only what a finish can free: a concurrency slot, or TPM given back by a settlement below the estimate
        freed = [key_of(s.key) for s in ticket.scopes if s.limit.parallel or (s.limit.tpm and tokens < ticket.tokens)]
        self._background(self._finish(ticket.ids, tokens, freed))

    async def _finish(self, ids: list[int], tokens: int, freed: list[str]) -> None:
        await self.inner.finish_events(ids, tokens)   # the database first: a refusal after this sees the room
        if freed and self.usable():
            try:
                await self.redis.delete(*freed)
            except Exception as e:   # the key expires by itself: at worst a brief over-refusal
                self._failed("delete", e)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def flush(self) -> None:
        """Wait for the background work (finishes, keys written and deleted)."""
        while self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)
        await self.inner.close()

    async def close(self) -> None:
        await self.flush()
        try:
            await self.redis.aclose()
        except Exception as e:
            log.debug("rate limits: closing Redis: %s", e)


__all__ = ["KEY_PREFIX", "PARALLEL_HOLD_MS", "SKIP_S", "TIMEOUT_S", "Full", "RedisRefusals", "decode", "encode",
           "key_of", "refusal_from", "reopens_at"]
