"""Rate limits (#17) through the real gateway: RPM, TPM with settlement give-back, concurrency released on
disconnect, group and per-model limits, the route's error dialect, and no change at all without limits."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from sqlalchemy import update

from store import Database, save_option
from store.models import Token, User
from tests.e2e.harness import Account, Gateway, add_account, add_channel, balances, logs
from tests.e2e.held_streams import HeldStreams
from tests.e2e.mock_upstream import MockOpenAI

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
DEADLINE = 5.0


async def _limit(db: Database, gw: Gateway, acct: Account, *, user: bool = False, **limits: int) -> None:
    table: Any = User if user else Token
    row_id = acct.user_id if user else acct.token_id
    async with db.session() as s, s.begin():
        await s.execute(update(table).where(table.id == row_id).values(**limits))
    await gw.reload()


async def _post(http: aiohttp.ClientSession, gw: Gateway, key: str, body: dict[str, Any] | None = None,
                path: str = "/v1/chat/completions") -> tuple[int, dict[str, str], bytes]:
    async with http.post(gw.url + path, json=body or BODY, headers={"Authorization": key}) as r:
        return r.status, dict(r.headers), await r.read()


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
async def test_100_concurrent_on_10_rpm_serve_exactly_10(db: Database, gateway: Gateway,
                                                         upstream: MockOpenAI) -> None:
    acct = await add_account(db)
    channel = await add_channel(db, base_url=upstream.url)
    await _limit(db, gateway, acct, rpm_limit=10)
    before = await balances(db, acct, channel)
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(_post(http, gateway, acct.key) for _ in range(100)))
    assert Counter(status for status, _, _ in answers) == {200: 10, 429: 90}
    assert len(upstream.requests) == 10                       # refused ones never forwarded
    for status, headers, body in answers:
        assert headers["x-ratelimit-limit-requests"] == "10"
        if status == 429:
            error = orjson.loads(body)["error"]
            assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
            assert "requests per minute (RPM) on token: limit 10" in error["message"]
            assert headers["x-ratelimit-remaining-requests"] == "0"
            assert 1 <= int(headers["Retry-After"]) <= 60
    await gateway.flush()
    after = await balances(db, acct, channel)
    rows = await logs(db)
    assert len(rows) == 10                                    # refusals are not consume-logged
    charged = sum(r.quota or 0 for r in rows)
    assert before["token_remain"] - after["token_remain"] == charged   # refusals are not billed
    assert after["requests"] == 10


async def test_tpm_refuses_over_estimate_and_settlement_gives_back(db: Database, gateway: Gateway,
                                                                   upstream: MockOpenAI) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await _limit(db, gateway, acct, tpm_limit=1000)
    ask = {**BODY, "max_tokens": 900}          # estimate: the prompt (~8) + 900; the answer uses 18
    async with aiohttp.ClientSession() as http:
        first = await _post(http, gateway, acct.key, ask)
        # admitted only because the first one's 900-token estimate went back to the window as its 18 real tokens
        second = await _post(http, gateway, acct.key, ask)
        too_big = await _post(http, gateway, acct.key, {**BODY, "max_tokens": 990})
    assert first[0] == 200 and second[0] == 200
    assert first[1]["x-ratelimit-limit-tokens"] == "1000"
    prompt = 1000 - 18 - 900 - int(second[1]["x-ratelimit-remaining-tokens"])   # the window held 18, then this
    assert 0 < prompt < 30
    assert too_big[0] == 429
    error = orjson.loads(too_big[2])["error"]
    assert error["type"] == "tokens" and "tokens per minute (TPM) on token: limit 1000, used 36" in error["message"]
    assert len(upstream.requests) == 2


@pytest.fixture
async def held() -> AsyncIterator[HeldStreams]:
    async with HeldStreams() as upstream:
        yield upstream


async def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def _open_stream(http: aiohttp.ClientSession, gw: Gateway, key: str) -> aiohttp.ClientResponse:
    r = await http.post(gw.url + "/v1/chat/completions", json={**BODY, "stream": True}, headers={"Authorization": key})
    if r.status == 200:
        await r.content.readuntil(b"\n\n")             # the first chunk arrived: the stream is running
    return r


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
async def test_concurrency_3_refuses_the_4th_stream_and_a_disconnect_frees_its_slot(
        db: Database, gateway: Gateway, held: HeldStreams) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=held.url)
    await _limit(db, gateway, acct, max_parallel_requests=3)
    async with aiohttp.ClientSession() as http:
        opened = [await _open_stream(http, gateway, acct.key) for _ in range(3)]
        assert [r.status for r in opened] == [200, 200, 200]
        fourth = await _open_stream(http, gateway, acct.key)
        assert fourth.status == 429 and b"concurrent requests on token: limit 3" in await fourth.read()
        opened[0].close()                                # the client leaves mid-stream
        deadline = time.monotonic() + DEADLINE
        while True:                                      # its slot comes free as soon as the gateway sees it go
            r = await _open_stream(http, gateway, acct.key)
            if r.status == 200:
                break
            assert r.status == 429 and time.monotonic() < deadline, "the slot was never freed"
            await r.read()
            await asyncio.sleep(0.02)
        opened.append(r)
        held.release.set()
        for r in opened[1:]:
            await r.read()
            r.close()
        again = [await _open_stream(http, gateway, acct.key) for _ in range(3)]   # every slot free again
        assert [r.status for r in again] == [200, 200, 200]
        for r in again:
            await r.read()
            r.close()


async def test_group_default_and_per_model_limits_tightest_wins(db: Database, gateway: Gateway,
                                                                upstream: MockOpenAI) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await _limit(db, gateway, acct, rpm_limit=100)      # the token's own limit is looser
    async with db.session() as s:
        await save_option(s, "GroupRateLimits", orjson.dumps(
            {"default": {"rpm_limit": 50, "models": {"gpt-4o-mini": {"rpm_limit": 2}}}}).decode())
    await gateway.runtime.caches.reload_options()
    async with aiohttp.ClientSession() as http:
        answers = [await _post(http, gateway, acct.key) for _ in range(3)]
        other = await _post(http, gateway, acct.key, {**BODY, "model": "gpt-3.5-turbo"})
    assert [a[0] for a in answers] == [200, 200, 429]
    async with aiohttp.ClientSession() as http, http.get(gateway.url + "/v1/dashboard/billing/subscription",
                                                         headers={"Authorization": acct.key}) as r:
        assert (await r.json())["rate_limits"]["token"] == {"rpm_limit": 100, "tpm_limit": 0,
                                                            "max_parallel_requests": 0}
    assert b"on model gpt-4o-mini: limit 2" in answers[2][2]
    assert answers[0][1]["x-ratelimit-limit-requests"] == "2"   # the tightest scope is reported
    assert other[0] == 200 and other[1]["x-ratelimit-limit-requests"] == "50"


async def test_anthropic_route_refuses_in_anthropic_shape(db: Database, gateway: Gateway,
                                                          upstream: MockOpenAI) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await _limit(db, gateway, acct, user=True, rpm_limit=1)
    ask = {"model": "gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as http:
        first = await _post(http, gateway, acct.key, ask, "/v1/messages")
        second = await _post(http, gateway, acct.key, ask, "/v1/messages")
    assert first[0] == 200 and first[1]["x-ratelimit-remaining-requests"] == "0"
    assert second[0] == 429 and "Retry-After" in second[1]
    answer = orjson.loads(second[2])
    assert answer["type"] == "error" and answer["error"]["type"] == "rate_limit_error"
    assert "on user: limit 1" in answer["error"]["message"]


async def test_no_limits_set_changes_nothing(db: Database, gateway: Gateway, upstream: MockOpenAI) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(_post(http, gateway, acct.key) for _ in range(20)))
    assert [status for status, _, _ in answers] == [200] * 20
    assert not any(k.lower().startswith("x-ratelimit") for _, headers, _ in answers for k in headers)
    windows: Any = gateway.runtime.limits
    assert windows.logs == {}                            # nothing was counted at all
    async with aiohttp.ClientSession() as http, http.get(gateway.url + "/v1/dashboard/billing/subscription",
                                                         headers={"Authorization": acct.key}) as r:
        assert set(await r.json()) == {"object", "has_payment_method", "soft_limit_usd", "hard_limit_usd",
                                       "system_hard_limit_usd", "access_until"}     # One API's answer, unchanged
