"""The gateway in front of an OpenAI-speaking upstream, driven by the official openai SDK."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import orjson
import pytest

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, balances, logs
from tests.e2e.mock_upstream import MockOpenAI

# gpt-4o-mini: model ratio 0.075, completion ratio 4 → ceil((11 + 7×4) × 0.075) = 3
MINI_COST = 3


def client(gateway: Gateway, key: str, **kw: object) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, **kw)


async def test_chat_non_stream_bills_upstream_usage(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db, quota=10_000, token_quota=5_000)
    cid = await add_channel(db, base_url=upstream.url)
    await gateway.reload()

    reply = await client(gateway, acct.key).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Hello there!"
    assert reply.usage.total_tokens == 18
    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == "Bearer sk-upstream-secret"   # the channel key, never the client's

    await gateway.flush()
    b = await balances(db, acct, cid)
    assert b == {"user_quota": 10_000 - MINI_COST, "user_used": MINI_COST, "requests": 1,
                 "token_remain": 5_000 - MINI_COST, "token_used": MINI_COST, "channel_used": MINI_COST}
    [row] = await logs(db)
    assert (row.type, row.quota, row.prompt_tokens, row.completion_tokens, row.model_name, row.channel_id) == (
        2, MINI_COST, 11, 7, "gpt-4o-mini", cid)
    assert row.usage_source == "upstream" and row.is_stream is False and row.username == "alice"
    assert row.content == "倍率：0.075 × 1 × 4"   # exactly the ratios charged (One API's %.2f showed 0.07)


async def test_an_upstream_cookie_never_rides_along_another_request(gateway: Gateway, upstream: MockOpenAI,
                                                                   db: Database) -> None:
    """One shared upstream session serves every user: a cookie one answer set must not be sent again."""
    alice = await add_account(db)
    bob = await add_account(db, username="bob")
    # by name: aiohttp's default jar keeps no cookies of a bare IP address, a real provider has a host name
    await add_channel(db, base_url=upstream.url.replace("127.0.0.1", "localhost"))
    await gateway.reload()
    upstream.script.set_cookie = "session=alice-secret; Path=/"

    for acct in (alice, bob):
        await client(gateway, acct.key).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert len(upstream.requests) == 2
    assert "Cookie" not in upstream.requests[1].headers


async def test_chat_stream_with_usage(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    cid = await add_channel(db, base_url=upstream.url)
    await gateway.reload()

    stream = await client(gateway, acct.key).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "Hello there!"
    assert usage is not None and usage.total_tokens == 18
    await gateway.flush()
    [row] = await logs(db)
    assert row.is_stream and row.quota == MINI_COST and row.usage_source == "upstream"
    assert (await balances(db, acct, cid))["channel_used"] == MINI_COST


@pytest.mark.parametrize("stream", [False, True])
async def test_byte_exact_pass_through(gateway: Gateway, upstream: MockOpenAI, db: Database, stream: bool) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    # odd spacing, an unknown field and zero values: all must reach the upstream untouched
    raw = (b'{ "model":"gpt-4o-mini",  "messages":[{"role":"user","content":"hi"}], "seed":0, "n":1,'
           b' "x_vendor_flag":{"a":[1,2]}, "stream":' + (b"true" if stream else b"false") + b"}")
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", data=raw,
                                                          headers={"Authorization": acct.key, "Content-Type": "application/json"}) as resp:
        received = await resp.read()
        assert resp.status == 200
        assert resp.headers.get("X-Oneapi-Request-Id")
    assert upstream.requests[-1].body == raw
    assert received == upstream.sent[-1]


async def test_model_mapping_changes_only_the_model(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url, models="gpt-4", model_mapping='{"gpt-4":"gpt-4o-mini"}')
    await gateway.reload()
    raw = b'{"model":"gpt-4","messages":[{"role":"user","content":"hi"}],"seed":0,"top_k":0,"enable_search":true}'
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", data=raw,
                                                          headers={"Authorization": "Bearer " + acct.key, "Content-Type": "application/json"}) as resp:
        assert resp.status == 200
    assert upstream.requests[-1].json() == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
                                            "seed": 0, "top_k": 0, "enable_search": True}
    await gateway.flush()
    [row] = await logs(db)
    assert row.model_name == "gpt-4o-mini" and row.quota == MINI_COST   # billed at the mapped model, as One API


async def test_upstream_5xx_refunds_everything(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db, quota=10_000, token_quota=5_000)
    cid = await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    upstream.script.status = 500
    with pytest.raises(openai.InternalServerError) as info:
        await client(gateway, acct.key).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert "upstream exploded" in str(info.value)
    assert "(request id: " in str(info.value)
    await gateway.flush()
    assert await balances(db, acct, cid) == {"user_quota": 10_000, "user_used": 0, "requests": 0,
                                             "token_remain": 5_000, "token_used": 0, "channel_used": 0}
    assert await logs(db) == []


async def test_network_error_refunds(gateway: Gateway, db: Database) -> None:
    acct = await add_account(db, quota=10_000, token_quota=5_000)
    cid = await add_channel(db, base_url="http://127.0.0.1:9")   # nothing listens there
    await gateway.reload()
    with pytest.raises(openai.InternalServerError) as info:
        await client(gateway, acct.key).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert "do request failed" in str(info.value)
    await gateway.flush()
    b = await balances(db, acct, cid)
    assert (b["user_quota"], b["token_remain"], b["token_used"]) == (10_000, 5_000, 0)


async def test_stream_without_usage_is_counted(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    upstream.script.stream_usage = False
    stream = await client(gateway, acct.key).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True)
    async for _ in stream:
        pass
    await gateway.flush()
    [row] = await logs(db)
    assert row.usage_source == "counted"
    assert row.completion_tokens == 3            # "Hello there!" in o200k
    assert row.prompt_tokens > 0 and row.quota >= 1


async def test_client_disconnect_mid_stream_pays_what_was_delivered(gateway: Gateway, upstream: MockOpenAI,
                                                                     db: Database) -> None:
    acct = await add_account(db, quota=10_000_000, token_quota=1_000_000)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    upstream.script.content = "word " * 400
    upstream.script.chunks = 400
    upstream.script.chunk_delay = 0.005
    upstream.script.stream_usage = False
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with aiohttp.ClientSession() as http:
        resp = await http.post(gateway.url + "/v1/chat/completions", json=body, headers={"Authorization": acct.key})
        got = b""
        async for piece in resp.content.iter_any():
            got += piece
            if got.count(b"data: ") >= 20:
                break
        resp.close()       # the client goes away mid-stream
    await asyncio.sleep(0.5)
    await gateway.flush()
    [row] = await logs(db)
    assert 0 < row.completion_tokens < 400        # charged for what was delivered, not for all of it
    assert row.usage_source == "counted"


async def test_auth_errors(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db, models="gpt-3.5-turbo")
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    async with aiohttp.ClientSession() as http:
        async def post(key: str | None, model: str = "gpt-3.5-turbo") -> tuple[int, dict]:
            headers = {"Authorization": key} if key is not None else {}
            async with http.post(gateway.url + "/v1/chat/completions", headers=headers,
                                 json={"model": model, "messages": [{"role": "user", "content": "x"}]}) as r:
                return r.status, orjson.loads(await r.read())

        status, body = await post(None)
        assert status == 401 and body["error"]["message"].startswith("未提供令牌")
        assert set(body["error"]) == {"message", "type"}
        status, body = await post("sk-doesnotexist")
        assert status == 401 and body["error"]["message"].startswith("无效的令牌")
        status, body = await post(acct.key, model="gpt-4o-mini")
        assert status == 403 and "该令牌无权使用模型：gpt-4o-mini" in body["error"]["message"]
        status, body = await post(acct.key + "-1")
        assert status == 403 and body["error"]["message"].startswith("普通用户不支持指定渠道")


async def test_unknown_model_is_404_model_not_found(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    with pytest.raises(openai.APIStatusError) as info:
        await client(gateway, acct.key).chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 404 and info.value.code == "model_not_found"
    assert "no-such-model" in str(info.value)


async def test_sync_client_and_embeddings(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url, models="text-embedding-3-small,gpt-4o-mini")
    await gateway.reload()
    sync = openai.OpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
    result = await asyncio.to_thread(sync.embeddings.create, model="text-embedding-3-small", input="hello")
    assert result.data[0].embedding == [0.1, -0.2]
    models = await asyncio.to_thread(sync.models.list)
    assert {m.id for m in models.data} >= {"text-embedding-3-small", "gpt-4o-mini"}
    await gateway.flush()
    [row] = await logs(db)
    assert row.prompt_tokens == 5 and row.model_name == "text-embedding-3-small"


async def test_upstream_reset_mid_stream(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    """The status is already sent: the client gets an error event; the delivered part is billed."""
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    upstream.script.content = "one two three four five six"
    upstream.script.chunks = 6
    upstream.script.reset_after_chunks = 4
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", json=body, headers={"Authorization": acct.key}) as r:
        assert r.status == 200
        received = await r.read()
    assert received.startswith(upstream.sent[-1])           # every byte the upstream sent, unchanged
    tail = received[len(upstream.sent[-1]):]
    assert tail.startswith(b"data: {\"error\"") and b"read_response_body_failed" in tail
    await gateway.flush()
    [row] = await logs(db)
    assert row.completion_tokens > 0 and row.usage_source == "counted"


async def test_relay_timeout(db: Database, upstream: MockOpenAI) -> None:
    from settings import load_settings

    gw = await Gateway(db, load_settings({"RELAY_TIMEOUT": "1"}, [])).start()
    try:
        acct = await add_account(db)
        await add_channel(db, base_url=upstream.url)
        await gw.reload()
        upstream.script.delay = 3
        with pytest.raises(openai.APIStatusError) as info:
            await client(gw, acct.key).chat.completions.create(model="gpt-4o-mini",
                                                               messages=[{"role": "user", "content": "hi"}])
        assert info.value.status_code == 504
        await gw.flush()
        b = await balances(db, acct)
        assert b["token_used"] == 0 and b["user_used"] == 0
    finally:
        await gw.close()


async def test_graceful_stop_flushes_everything(db: Database, upstream: MockOpenAI) -> None:
    """Settlements and log rows still pending when the worker stops reach the database."""
    gw = await Gateway(db).start()
    acct = await add_account(db, quota=10_000, token_quota=5_000)
    cid = await add_channel(db, base_url=upstream.url)
    await gw.reload()
    for _ in range(5):
        await client(gw, acct.key).chat.completions.create(model="gpt-4o-mini",
                                                           messages=[{"role": "user", "content": "hi"}])
    await gw.close()          # no explicit flush: the stop must do it
    b = await balances(db, acct, cid)
    assert (b["user_quota"], b["token_remain"], b["requests"], b["channel_used"]) == (
        10_000 - 5 * MINI_COST, 5_000 - 5 * MINI_COST, 5, 5 * MINI_COST)
    assert len(await logs(db)) == 5
