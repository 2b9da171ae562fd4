"""Rate-limit windows shared by every node (#17): a sliding log of admitted requests per scope.

A scope (a token, a user, a user's model) has one `rate_scopes` row; admitting a request locks the rows of its
scopes in a fixed order (an UPDATE, so SQLite takes its write lock at once and MySQL/PostgreSQL a row lock),
reads each scope's window from `rate_events` (plain reads: no gap locks), asks the caller's `decide` whether
it fits and, only then, writes one event per scope. Two nodes can never both see room for the same last
request. The decision itself is the caller's (proxy.limits): this module only reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.engine import write_transaction
from store.models import RateEvent, RateScope

R = TypeVar("R")
CLEANUP_BATCH = 500    # old events removed per admission at most (a quiet scope's leftovers go over a few)


@dataclass(frozen=True, slots=True)
class Seen:
    """A scope's window as it stood before this request: requests and tokens in the last window, requests
    holding a concurrency slot, and when the oldest request of the window was admitted (None: none)."""

    requests: int
    tokens: int
    parallel: int
    oldest_ms: int | None


async def ensure_scopes(session: AsyncSession, scopes: Collection[str], known: set[str]) -> None:
    """Create the scopes' rows once (a row another node created first is fine); `known` remembers them."""
    for scope in sorted(set(scopes) - known):
        try:
            async with write_transaction(session):
                if await session.get(RateScope, scope) is None:
                    session.add(RateScope(scope=scope, checks=0))
        except IntegrityError:
            pass   # created meanwhile by another process
        known.add(scope)


async def _seen(session: AsyncSession, scope: str, start_ms: int, now_ms: int) -> Seen:
    in_window = RateEvent.at_ms > start_ms
    row = (await session.execute(
        select(func.count(case((in_window, 1))),
               func.coalesce(func.sum(case((in_window, RateEvent.tokens), else_=0)), 0),
               func.count(case((RateEvent.lease_until_ms > now_ms, 1))),
               func.min(case((in_window, RateEvent.at_ms))))
        .where(RateEvent.scope == scope, or_(in_window, RateEvent.lease_until_ms > now_ms)))).one()
    return Seen(int(row[0]), int(row[1]), int(row[2]), None if row[3] is None else int(row[3]))


async def admit(session: AsyncSession, scopes: Sequence[str], tokens: int, clock_ms: Callable[[], int],
                window_ms: int, lease_ms: int,
                decide: Callable[[list[Seen], int], R | None]) -> tuple[list[int], R | None]:
    """Under the scopes' locks: `decide(seen per scope, now)` returns None to admit (an event is written per
    scope, its ids returned, in `scopes` order) or a refusal, returned with no ids and nothing written. The
    clock is read once the locks are held, so events are written in the order of their times."""
    order = sorted(range(len(scopes)), key=lambda i: scopes[i])
    async with write_transaction(session):
        for i in order:   # one lock order for every process: no deadlock between two requests' scopes
            bump = update(RateScope).where(RateScope.scope == scopes[i]).values(checks=RateScope.checks + 1)
            await session.execute(bump)
        now_ms = clock_ms()
        start_ms = now_ms - window_ms
        seen = [await _seen(session, scope, start_ms, now_ms) for scope in scopes]
        refusal = decide(seen, now_ms)
        if refusal is not None:
            return [], refusal
        # old events go by primary key: a range DELETE would take MySQL's gap locks, which deadlock with the
        # inserts of requests of neighbouring scopes (tested); the read is a plain one, locking nothing
        old = (await session.execute(select(RateEvent.id).where(
            RateEvent.scope.in_(scopes), RateEvent.at_ms <= start_ms, RateEvent.lease_until_ms <= now_ms)
            .limit(CLEANUP_BATCH))).scalars().all()
        if old:
            await session.execute(delete(RateEvent).where(RateEvent.id.in_(old)))
        events = [RateEvent(scope=scope, at_ms=now_ms, tokens=tokens, lease_until_ms=now_ms + lease_ms)
                  for scope in scopes]
        session.add_all(events)
        await session.flush()
        return [e.id for e in events], None


async def finish(session: AsyncSession, ids: Sequence[int], tokens: int) -> None:
    """The request ended: its events count its real tokens and hold no concurrency slot any more."""
    if not ids:
        return
    async with write_transaction(session):
        await session.execute(update(RateEvent).where(RateEvent.id.in_(ids)).values(tokens=tokens, lease_until_ms=0))


async def renew(session: AsyncSession, ids: Sequence[int], until_ms: int) -> None:
    """Requests still running hold their concurrency slots until `until_ms` (a node renews its open requests'
    leases; one that died stops renewing and its slots free when the lease runs out). An event already
    finished (lease 0) stays finished, whichever UPDATE lands first."""
    if not ids:
        return
    async with write_transaction(session):
        for start in range(0, len(ids), CLEANUP_BATCH):
            chunk = ids[start:start + CLEANUP_BATCH]
            await session.execute(update(RateEvent).where(RateEvent.id.in_(chunk), RateEvent.lease_until_ms > 0)
                                  .values(lease_until_ms=until_ms))


async def window_of(session: AsyncSession, scope: str, now_ms: int, window_ms: int) -> Seen:
    """A scope's window as it stands (read-only, for reports)."""
    return await _seen(session, scope, now_ms - window_ms, now_ms)


__all__ = ["Seen", "admit", "ensure_scopes", "finish", "renew", "window_of"]
