"""create_app's seams: the real gateway answered from memory (no upstream server), and a smaller addon list.

The whole relay list over MemoryUpstream bills as it does over HTTP; a list without the money addons
serves without touching a balance. Both on SQLite, as the other end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from proxy.addons.auth import TokenAuth
from proxy.addons.body import RequestBody
from proxy.addons.mapping import ModelMapping
from proxy.addons.openai_upstream import OpenAIUpstream
from proxy.addons.route import Route
from proxy.app import create_app, relay_addons
from proxy.core.addon_manager import AddonManager
from proxy.core.testing import MemoryUpstream, Scripted
from proxy.runtime import Runtime
from settings import load_settings
from startup.serve import SERVER_OPTIONS
from store import Database
from tests.e2e.harness import Account, add_account, add_channel, balances

ANSWER = orjson.dumps({"id": "c1", "object": "chat.completion", "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}})
MINI_COST = 3   # ceil((11 + 7 × 4) × 0.075)

Start = Callable[[Callable[[Runtime], AddonManager], MemoryUpstream], Awaitable[tuple[str, Runtime]]]


@pytest.fixture
async def app_url(db: Database) -> AsyncIterator[Start]:
    """`await app_url(addons, upstream)`: the proxy app with that addon list and opener, served on loopback."""
    servers: list[TestServer] = []

    async def start(addons: Callable[[Runtime], AddonManager], upstream: MemoryUpstream) -> tuple[str, Runtime]:
        settings = load_settings({}, [])
        runtime = Runtime(settings, db)
        server = TestServer(create_app(settings, runtime, addons=addons(runtime), opener=upstream), host="127.0.0.1")
        await server.start_server(**SERVER_OPTIONS)
        servers.append(server)
        await runtime.caches.reload_channels()
        return str(server.make_url("/v1/chat/completions")), runtime
    yield start
    for server in servers:
        await server.close()


async def ask(url: str, account: Account) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.post(
            url, json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {account.key}"}) as resp:
        return resp.status, await resp.read()


async def test_the_whole_gateway_answered_from_memory_bills_as_over_http(app_url: Start,
                                                                         db: Database) -> None:
    account = await add_account(db, quota=10_000, token_quota=5_000)
    cid = await add_channel(db, base_url="http://upstream.invalid")
    upstream = MemoryUpstream([Scripted.json(ANSWER)])
    url, runtime = await app_url(relay_addons, upstream)
    assert await ask(url, account) == (200, ANSWER)
    [call] = upstream.calls
    assert call.url == "http://upstream.invalid/v1/chat/completions"
    assert call.headers["Authorization"] == "Bearer sk-upstream-secret"
    await runtime.ledger.close()
    await runtime.logs.flush()
    assert (await balances(db, account, cid))["token_used"] == MINI_COST


async def test_a_smaller_addon_list_serves_without_the_money_addons(app_url: Start,
                                                                    db: Database) -> None:
    account = await add_account(db, quota=10_000, token_quota=5_000)
    cid = await add_channel(db, base_url="http://upstream.invalid")

    def routing_only(rt: Runtime) -> AddonManager:
        return AddonManager([TokenAuth(rt.caches), RequestBody(), Route(rt.caches), ModelMapping(),
                             OpenAIUpstream(rt.catalog, 0, False)])
    url, runtime = await app_url(routing_only, MemoryUpstream([Scripted.json(ANSWER)]))
    assert await ask(url, account) == (200, ANSWER)
    await runtime.ledger.close()
    assert (await balances(db, account, cid))["token_used"] == 0
