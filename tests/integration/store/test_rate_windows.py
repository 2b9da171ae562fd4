"""Rate windows in the database (#17): two nodes (two engines on one database) admit exactly the limit."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from sqlalchemy import select

from proxy.limits import DatabaseWindows, LimitExceeded, Ticket
from proxy.limits.policy import Limit, Scope
from store import Database
from store.models import RateEvent
from store.rate_windows import renew


async def _try(windows: DatabaseWindows, scopes: list[Scope], tokens: int = 0) -> Ticket | str:
    try:
        return await windows.acquire(scopes, tokens)
    except LimitExceeded as e:
        return e.refusal.kind


async def test_two_nodes_admit_exactly_the_limit(db: Database) -> None:
    other = Database(db.url)          # a second node: its own engine and pool on the same database
    clock = [1_000_000.0]
    nodes = [DatabaseWindows(db, lambda: clock[0]), DatabaseWindows(other, lambda: clock[0])]
    scopes = [Scope("t:1", "token", Limit(rpm=10)), Scope("u:1", "user", Limit(parallel=50))]
    try:
        results = await asyncio.gather(*(_try(nodes[i % 2], scopes) for i in range(60)))
        admitted = [r for r in results if isinstance(r, Ticket)]
        assert Counter(r if isinstance(r, str) else "ok" for r in results) == {"ok": 10, "requests": 50}
        assert admitted[0].headers["x-ratelimit-limit-requests"] == "10"
        for t in admitted:
            nodes[1].finish(t, 5)
        await nodes[1].close()                                   # the finishes written
        clock[0] += 59
        assert await _try(nodes[0], scopes) == "requests"       # still inside the minute
        clock[0] += 1.001
        assert isinstance(await _try(nodes[1], scopes), Ticket)  # the first ones left the window
    finally:
        await other.dispose()


async def test_concurrency_and_tokens_across_nodes(db: Database) -> None:
    other = Database(db.url)
    a, b = DatabaseWindows(db), DatabaseWindows(other)
    scopes = [Scope("t:2", "token", Limit(tpm=1000, parallel=3))]
    try:
        held = [await a.acquire(scopes, 100), await b.acquire(scopes, 100), await a.acquire(scopes, 100)]
        assert await _try(b, scopes) == "parallel"
        b.finish(held[0], 10)                                    # finished on another node than it started
        b.finish(held[0], 10)                                    # twice: nothing freed twice
        await b.close()
        fourth = await b.acquire(scopes, 600)
        assert await _try(a, scopes, 0) == "parallel"
        a.finish(held[1], 0)
        a.finish(held[2], 0)
        b.finish(fourth, 0)
        await a.close()
        await b.close()
        assert await _try(a, scopes, 991) == "tokens"            # 10 still counted from the first request
        assert isinstance(await _try(a, scopes, 990), Ticket)
    finally:
        await other.dispose()


async def test_many_scopes_at_once_never_deadlock(db: Database) -> None:
    """Requests of many tokens and users interleaving on two nodes: each scope's window stays exact, and no
    transaction is chosen as a deadlock victim (MySQL's gap locks between neighbouring scopes' events)."""
    other = Database(db.url)
    nodes = [DatabaseWindows(db), DatabaseWindows(other)]

    def scopes(n: int) -> list[Scope]:
        return [Scope(f"t:{n}", "token", Limit(rpm=5)), Scope(f"u:{n % 3}", "user", Limit(rpm=1000))]
    try:
        admitted = []
        for _ in range(3):
            results = await asyncio.gather(*(_try(nodes[i % 2], scopes(i % 8)) for i in range(80)))
            tickets = [r for r in results if isinstance(r, Ticket)]
            for i, t in enumerate(tickets):
                nodes[i % 2].finish(t, 1)
            await asyncio.gather(nodes[0].close(), nodes[1].close())
            admitted.append(Counter(i % 8 for i, r in enumerate(results) if isinstance(r, Ticket)))
        assert admitted[0] == {n: 5 for n in range(8)} and admitted[1] == admitted[2] == {}   # 5 a token a minute
    finally:
        await other.dispose()


async def test_a_running_request_keeps_its_slot_past_the_lease_and_a_dead_nodes_slots_free_after_it(
        db: Database) -> None:
    """A stream of 20 minutes (a coding agent's session) holds its slot while its node renews the lease; once
    the node stops renewing (it died: dropped without finishing), its slots free after one lease, not before."""
    other = Database(db.url)
    clock = [1_000_000.0]
    holder = DatabaseWindows(db, lambda: clock[0])
    other_node = DatabaseWindows(other, lambda: clock[0])
    scopes = [Scope("t:9", "token", Limit(parallel=3))]
    try:
        held = [await holder.acquire(scopes, 0) for _ in range(3)]
        assert await _try(other_node, scopes) == "parallel"
        for _ in range(60):                        # 20 minutes of renewals every 20 s, as the node's task does
            clock[0] += holder.renew_every
            await holder.renew()
        assert await _try(other_node, scopes) == "parallel"     # the 4th is still refused after 20 minutes
        # the holder dies: no renewal, no finish
        await holder.close()
        clock[0] += holder.lease_ms / 1000 - 1
        assert await _try(other_node, scopes) == "parallel"     # the lease still runs
        clock[0] += 1.001
        freed = [await other_node.acquire(scopes, 0) for _ in range(3)]   # all three slots free again
        assert await _try(other_node, scopes) == "parallel"
        for t in freed:
            other_node.finish(t, 0)
        await other_node.close()
        assert len(held) == 3 and isinstance(await _try(other_node, scopes), Ticket)
    finally:
        await other_node.close()
        await other.dispose()


async def test_a_finished_request_is_not_renewed(db: Database) -> None:
    """A renewal that read its ids before the request finished, landing after the finish: the slot stays free."""
    clock = [2_000_000.0]
    node = DatabaseWindows(db, lambda: clock[0])
    scopes = [Scope("t:10", "token", Limit(parallel=1))]
    ticket = await node.acquire(scopes, 0)
    node.finish(ticket, 0)
    await node.close()                                       # the finish is written
    async with db.session() as s:
        await renew(s, ticket.ids, int(clock[0] * 1000) + node.lease_ms)
    assert isinstance(await _try(node, scopes), Ticket)
    await node.close()


async def test_the_node_renews_in_the_background_until_closed(db: Database) -> None:
    """The renewal runs by itself every `renew_every` seconds (real time here, a short period) and stops on close."""
    node = DatabaseWindows(db, lease_ms=60_000, renew_every=0.02)
    ticket = await node.acquire([Scope("t:11", "token", Limit(parallel=2))], 0)

    async def lease() -> int:
        async with db.session() as s:
            return int((await s.execute(select(RateEvent.lease_until_ms)
                                        .where(RateEvent.id == ticket.ids[0]))).scalar_one())
    first = await lease()
    deadline = time.monotonic() + 10
    while await lease() <= first:                            # renewed: a full lease from a later moment
        assert time.monotonic() < deadline, "the lease was never renewed"
        await asyncio.sleep(0.02)
    renewal = node.renewal
    node.finish(ticket, 0)
    await node.close()
    assert renewal is not None and renewal.done() and node.renewal is None
    assert await lease() == 0
