"""Channel tests and balances (one-api.md §6.4, §6.5): single ones answer inline, "all" runs in background.

A run of "all" holds the same job lease as the periodic job of that name, so it runs on one node at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from admin_api import balance, balance_sweep
from admin_api.channel_probe import probe
from admin_api.channel_sweep import test_all
from admin_api.envelope import fail, json_body, ok, path_id, query_text
from admin_api.jobs.schedule import CHANNEL_BALANCE, CHANNEL_TEST
from admin_api.state import AdminState, state_of
from store import channel_notices, channels
from store.models import Channel

log = logging.getLogger(__name__)
NOT_FOUND = "渠道不存在"


async def _channel(state: AdminState, channel_id: int) -> Channel | None:
    async with state.db.session() as s:
        return await channels.get(s, channel_id)


async def start_leased(state: AdminState, name: str, job: Callable[[], Awaitable[Any]]) -> bool:
    """Run `job` once in the background under the job lease `name`, unless a run holds it on any node."""
    if name in state.running:
        return False
    state.running.add(name)   # before answering, so callers see the run as started

    async def run() -> None:
        try:
            await job()
        finally:
            state.running.discard(name)

    try:
        started = await state.job_runner().run_now(name, run)
    except Exception:
        state.running.discard(name)
        raise
    if not started:
        state.running.discard(name)
    return started


async def test_one(request: web.Request) -> web.Response:
    """GET /api/channel/test/:id?model=: {success, message, time, modelName}."""
    state = state_of(request)
    channel = await _channel(state, path_id(request))
    model = query_text(request, "model")
    if channel is None:
        return fail(NOT_FOUND, time=0.0, modelName=model)
    result = await probe(state, channel, model)
    return json_body({"success": result.ok, "message": result.message, "time": round(result.seconds, 3),
                      "modelName": model})


async def test_every(request: web.Request) -> web.Response:
    """GET /api/channel/test?scope=all|disabled: starts the sweep and answers at once."""
    state = state_of(request)
    scope = query_text(request, "scope") or "all"

    async def sweep_and_tell_root() -> None:
        summary = await test_all(state, scope)
        async with state.db.session() as s:
            await channel_notices.add(s, channel_notices.TESTED, 0, summary.text())

    if not await start_leased(state, CHANNEL_TEST, sweep_and_tell_root):
        return fail("测试已在运行中")
    return ok()


async def update_balance(request: web.Request) -> web.Response:
    """GET /api/channel/update_balance/:id: {success, message, balance} (balance outside `data`)."""
    state = state_of(request)
    channel = await _channel(state, path_id(request))
    if channel is None:
        return fail(NOT_FOUND)
    try:
        value = await balance.query(state, channel)
    except balance.BalanceError as exc:
        return fail(str(exc))
    return ok(balance=value)


async def update_all_balances(request: web.Request) -> web.Response:
    """GET /api/channel/update_balance: refresh every enabled supported channel in background."""
    state = state_of(request)
    if not await start_leased(state, CHANNEL_BALANCE, lambda: balance_sweep.refresh_all(state)):
        return fail("余额更新已在运行中")
    return ok()
