"""Channel tests and balances (one-api.md §6.4, §6.5): single ones answer inline, "all" runs in background."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from admin_api import balance
from admin_api.channel_probe import probe
from admin_api.channel_sweep import test_all
from admin_api.envelope import fail, json_body, ok, path_id, query_text
from admin_api.state import AdminState, state_of
from store import channels
from store.models import CHANNEL_ENABLED, Channel

log = logging.getLogger(__name__)
NOT_FOUND = "渠道不存在"


async def _channel(state: AdminState, channel_id: int) -> Channel | None:
    async with state.db.session() as s:
        return await channels.get(s, channel_id)


def start_background(state: AdminState, name: str, job: Callable[[], Awaitable[Any]]) -> bool:
    """Run `job` once in this process unless a job of that name is still running."""
    if name in state.running:
        return False
    state.running.add(name)

    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("background job %s failed", name)
        finally:
            state.running.discard(name)

    task = asyncio.get_running_loop().create_task(run())
    state.background.add(task)
    task.add_done_callback(state.background.discard)
    return True


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
    if not start_background(state, "channel-test", lambda: test_all(state, scope)):
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


async def _update_all_balances(state: AdminState) -> None:
    async with state.db.session() as s:
        every = await channels.for_test(s, "all")
    for channel in every:
        if channel.status == CHANNEL_ENABLED and balance.supported(channel.type):
            try:
                await balance.query(state, channel)
            except balance.BalanceError as exc:
                log.info("balance of channel #%d: %s", channel.id, exc)


async def update_all_balances(request: web.Request) -> web.Response:
    """GET /api/channel/update_balance: refresh every enabled supported channel in background."""
    state = state_of(request)
    if not start_background(state, "channel-balance", lambda: _update_all_balances(state)):
        return fail("余额更新已在运行中")
    return ok()
