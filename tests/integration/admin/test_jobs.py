"""Background jobs under database leases: one node runs a due job, the lease moves when it stops, balances refresh."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from sqlalchemy import select

from admin_api.jobs import Job, JobRunner, JobTiming
from admin_api.jobs.schedule import CHANNEL_BALANCE, CHANNEL_TEST
from admin_api.state import STATE
from store import channel_notices, channels, leases
from store.channel_notices import ChannelNotice

from .conftest import eventually, fast_jobs, make_settings, start_api
from .fakes import Recorder, chat_reply, serve


async def _lease(db, name: str) -> leases.JobLease | None:
    async with db.session() as s:
        return await leases.read(s, name)


async def _make_due(db, name: str) -> None:
    async with db.session() as s:
        await leases.ensure(s, name, 0)
    async with db.session() as s:
        await leases.reschedule(s, name, 0)


async def test_lease_claims_are_exclusive_and_expire(db):
    async with db.session() as s:
        await leases.ensure(s, "job", 0)
    t0 = leases.now_ms()

    async def claim(holder: str, at: int) -> bool:
        async with db.session() as s:
            return await leases.claim(s, "job", holder, 1000, only_if_due=True, now=at)

    wins = await asyncio.gather(*(claim(f"node-{i}", t0) for i in range(8)))
    assert sum(wins) == 1
    winner = f"node-{wins.index(True)}"
    assert not await claim("late", t0 + 999)
    assert await claim("late", t0 + 1001)   # the winner died without renewing: its lease expired
    async with db.session() as s:
        assert not await leases.renew(s, "job", winner, 1000)
    async with db.session() as s:
        assert await leases.release(s, "job", "late", next_due=t0 + 60_000)
    assert not await claim("other", t0 + 2000)   # free, but not due
    assert await claim("other", t0 + 60_000)


async def test_one_node_runs_a_due_job_and_the_lease_moves_when_it_stops(db):
    """Two admin_api apps on one database, the periodic channel test due: exactly one runs it at a time."""
    settings = make_settings(channel_test_frequency=1)
    release = asyncio.Event()
    recorder = Recorder()

    async def slow_proxy(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response(chat_reply())

    proxy = await serve({("POST", "/v1/chat/completions"): slow_proxy}, recorder, port=settings.port)
    first = await start_api(db, settings, fast_jobs)
    second = await start_api(db, settings, fast_jobs)
    try:
        async with db.session() as s:
            await channels.create_many(s, {"type": 1, "name": "ch", "models": "gpt-4", "group": "default"}, ["sk-a"])
        await _make_due(db, CHANNEL_TEST)
        await eventually(lambda: len(recorder.seen) == 1)
        await asyncio.sleep(1.3)   # many polls by both nodes, and renewals past the lease's ttl
        assert len(recorder.seen) == 1
        holder = (await _lease(db, CHANNEL_TEST)).holder
        apps = {api.server.app[STATE].job_runner().holder: api for api in (first, second)}
        running, standby = apps[holder], next(api for h, api in apps.items() if h != holder)
        _, body = await standby.call("GET", "/api/channel/test", who="root")
        assert body == {"success": False, "message": "测试已在运行中"}   # the manual run needs the same lease

        await running.close()
        await running.server.close()   # stops its jobs: the run is cancelled and the lease released
        await eventually(lambda: len(recorder.seen) == 2)
        assert (await _lease(db, CHANNEL_TEST)).holder == standby.server.app[STATE].job_runner().holder
        release.set()

        async def finished() -> bool:
            row = await _lease(db, CHANNEL_TEST)
            return row.expires_at == 0 and row.due_at > leases.now_ms() + 50_000
        await eventually(finished)
        assert len(recorder.seen) == 2
        async with db.session() as s:
            assert (await channels.for_test(s, "all"))[0].test_time > 0
    finally:
        release.set()
        for api in (first, second):
            await api.close()
            await api.server.close()
        await proxy.close()


async def test_a_run_stops_when_its_lease_is_taken_over(db):
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    runner = JobRunner(db, JobTiming(lease_ttl=0.6, poll=0.05))
    runner.start([Job("slow", every=60, run=work, first_after=0)])
    try:
        await asyncio.wait_for(started.wait(), 5)
        async with db.session() as s:   # as if our lease had expired and another node had claimed it
            assert await leases.claim(s, "slow", "thief", 60_000, only_if_due=False, now=leases.now_ms() + 10_000)
        await asyncio.wait_for(cancelled.wait(), 2)
        row = await _lease(db, "slow")
        assert row.holder == "thief" and row.due_at <= leases.now_ms()   # still due: the run never finished
    finally:
        await runner.stop()


async def test_stop_ends_even_when_a_cancellation_is_swallowed(db):
    """CI hung for 90 minutes in `server.close()`: on Python 3.11 `asyncio.wait_for` (and a database driver's
    cancelled query) can swallow a cancellation, and the job loop went on forever while stop() waited for it.
    Here the run swallows every cancellation: stop() must still return, and the loops must end."""
    started, finish = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        started.set()
        while not finish.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(finish.wait(), 30)

    runner = JobRunner(db, JobTiming(lease_ttl=0.6, poll=0.05, stop_within=1.0))
    runner.start([Job("stubborn", every=60, run=stubborn, first_after=0)])
    await asyncio.wait_for(started.wait(), 5)
    async with asyncio.timeout(10):   # before the fix: forever
        await runner.stop()
    assert not runner._tasks   # every loop ended; only the stubborn work itself is left behind
    finish.set()


async def test_balance_job_refreshes_and_disables_channels_that_ran_out(db):
    settings = make_settings(channel_update_frequency=1)
    recorder = Recorder()

    async def deepseek(request: web.Request) -> web.Response:
        total = "0.00" if request.headers["Authorization"] == "Bearer sk-empty" else "10.50"
        return web.json_response({"balance_infos": [{"currency": "CNY", "total_balance": total}]})

    provider = await serve({("GET", "/user/balance"): deepseek}, recorder)
    base = str(provider.make_url("")).rstrip("/")
    api = await start_api(db, settings, fast_jobs)
    try:
        await api.call("PUT", "/api/option/", who="root",
                       json={"key": "AutomaticDisableChannelEnabled", "value": "true"})
        async with db.session() as s:
            empty, full = await channels.create_many(
                s, {"type": 36, "name": "ds", "models": "deepseek-chat", "group": "default", "base_url": base},
                ["sk-empty", "sk-full"])
        await _make_due(db, CHANNEL_BALANCE)

        async def refreshed() -> bool:
            row = await _lease(db, CHANNEL_BALANCE)
            return row.expires_at == 0 and row.due_at > leases.now_ms()
        await eventually(refreshed)
        async with db.session() as s:
            got = {c.id: (c.status, c.balance) for c in await channels.for_test(s, "all")}
            notices = list((await s.execute(select(ChannelNotice))).scalars())
        assert got == {empty: (3, 0.0), full: (1, 10.5)}
        assert [(n.kind, n.channel_id, n.reason) for n in notices] == [
            (channel_notices.DISABLED, empty, "余额不足（0）")]
        assert len(recorder.seen) == 2
    finally:
        await api.close()
        await api.server.close()
        await provider.close()
