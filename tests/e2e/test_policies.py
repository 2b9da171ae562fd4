"""Client IP from trusted proxies only, unlimited tokens' usage, the success-rate rule, and admin changes
reaching the running proxy through change events."""

from __future__ import annotations

import asyncio

import aiohttp
from sqlalchemy import update

from settings import load_settings
from store import Database, events
from store.models import Channel, Token
from tests.e2e.harness import Gateway, add_account, add_channel, balances
from tests.e2e.mock_upstream import MockOpenAI

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def _post(gw: Gateway, key: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(gw.url + "/v1/chat/completions", json=BODY,
                                                          headers={"Authorization": key, **(headers or {})}) as r:
        return r.status, (await r.read()).decode()


async def test_forwarded_for_is_believed_only_from_trusted_proxies(db: Database, upstream: MockOpenAI) -> None:
    acct = await add_account(db, subnet="10.0.0.0/8")
    await add_channel(db, base_url=upstream.url)
    untrusted = await Gateway(db).start()
    try:
        await untrusted.reload()
        status, body = await _post(untrusted, acct.key, {"X-Forwarded-For": "10.1.2.3"})
        assert status == 403 and "当前 ip：127.0.0.1" in body        # a spoofed header changes nothing
    finally:
        await untrusted.close()
    trusted = await Gateway(db, load_settings({"TRUSTED_PROXIES": "127.0.0.1/32"}, [])).start()
    try:
        await trusted.reload()
        assert (await _post(trusted, acct.key, {"X-Forwarded-For": "10.1.2.3"}))[0] == 200
        status, body = await _post(trusted, acct.key, {"X-Forwarded-For": "10.1.2.3, 192.168.7.7"})
        assert status == 403 and "当前 ip：192.168.7.7" in body       # the hop next to the trusted proxy
    finally:
        await trusted.close()


async def test_unlimited_tokens_count_what_they_spend(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db, unlimited=True, token_quota=0)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    assert (await _post(gateway, acct.key))[0] == 200
    await gateway.flush()
    b = await balances(db, acct)
    assert b["token_used"] == 3 and b["token_remain"] == 0     # One API leaves used_quota at 0 here


async def test_success_rate_rule_disables_a_flaky_channel(db: Database) -> None:
    flaky, steady = await MockOpenAI().start(), await MockOpenAI().start()
    gw = await Gateway(db, load_settings({"ENABLE_METRIC": "true", "METRIC_QUEUE_SIZE": "4",
                                          "METRIC_SUCCESS_RATE_THRESHOLD": "0.8"}, [])).start()
    try:
        flaky.script.status = 500
        acct = await add_account(db)
        flaky_id = await add_channel(db, base_url=flaky.url, priority=10, name="flaky")
        await add_channel(db, base_url=steady.url, priority=0, name="steady")
        await gw.reload()
        for _ in range(4):
            assert (await _post(gw, acct.key))[0] == 500            # RetryTimes is 0: each failure reaches the client
        assert (await _post(gw, acct.key))[0] == 200                # 4 failures of 4 < 0.8: disabled, traffic moves
        assert len(flaky.requests) == 4
        await asyncio.sleep(0.3)
        async with db.session() as s:
            assert (await s.get(Channel, flaky_id)).status == 3
    finally:
        await gw.close()
        await flaky.close()
        await steady.close()


async def test_admin_changes_reach_the_proxy_within_a_second(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    cid = await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    assert (await _post(gateway, acct.key))[0] == 200
    async with db.session() as s, s.begin():          # what admin_api does when a token is disabled
        await s.execute(update(Token).where(Token.id == acct.token_id).values(status=2))
        events.record(s, events.TOKEN, acct.token_id)
    await asyncio.sleep(1.0)
    status, body = await _post(gateway, acct.key)
    assert status == 401 and "该令牌状态不可用" in body
    async with db.session() as s, s.begin():          # and a channel disabled
        await s.execute(update(Token).where(Token.id == acct.token_id).values(status=1))
        await s.execute(update(Channel).where(Channel.id == cid).values(status=2))
        events.record(s, events.TOKEN, acct.token_id)
        events.record(s, events.CHANNEL, cid)
    await asyncio.sleep(1.0)
    status, body = await _post(gateway, acct.key)
    assert status == 503 and "无可用渠道" in body
