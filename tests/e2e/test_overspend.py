"""Zero overspend (#14): a hundred concurrent long answers on a balance that affords ten never spend past it.

The upstream here behaves as a real one does: it writes as many tokens as the request's output limit
allows (3,000 when there is none, ten times what the balance was sized for), reports hidden reasoning
tokens beyond the visible text, and honours `max_tokens` / `max_completion_tokens`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, balances, logs

LONG = 3000            # tokens an answer runs to when the request sets no limit
ANSWER = 300           # the balance is sized for ten answers of this length
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "write a lot"}]}


class LongAnswers:
    """An OpenAI-style upstream whose answers are as long as the request lets them be."""

    def __init__(self, reported_prompt: int = 12, honour_limit: bool = True) -> None:
        self.reported_prompt = reported_prompt
        self.honour_limit = honour_limit     # False: an upstream that ignores max_tokens and shows every token
        self.limits: list[int | None] = []
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        self.limits.append(limit)
        tokens = min(limit or LONG, LONG) if self.honour_limit else LONG
        visible = max(1, tokens // 3) if self.honour_limit else tokens   # the rest: hidden reasoning
        usage = {"prompt_tokens": self.reported_prompt, "completion_tokens": tokens,
                 "total_tokens": self.reported_prompt + tokens}
        await asyncio.sleep(0.3)             # every request holds its reservation while the others arrive
        if not body.get("stream"):
            answer = {"id": "x", "object": "chat.completion", "model": body["model"], "usage": usage,
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": " word" * visible},
                                   "finish_reason": "length"}]}
            return web.json_response(answer)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for start in range(0, visible, 100):
            chunk = {"id": "x", "object": "chat.completion.chunk", "model": body["model"],
                     "choices": [{"index": 0, "delta": {"content": " word" * min(100, visible - start)}}]}
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        final = {"id": "x", "object": "chat.completion.chunk", "model": body["model"], "choices": [], "usage": usage}
        await response.write(b"data: " + orjson.dumps(final) + b"\n\ndata: [DONE]\n\n")
        await response.write_eof()
        return response


@pytest.fixture
async def long_answers() -> AsyncIterator[LongAnswers]:
    upstream = LongAnswers()
    await upstream.server.start_server()
    yield upstream
    await upstream.server.close()


async def _post(http: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with http.post(url + "/v1/chat/completions", json=body, headers={"Authorization": key}) as r:
        return r.status, await r.read()


async def _hundred(gateway: Gateway, key: str, body: dict[str, Any]) -> Counter[int]:
    async with aiohttp.ClientSession() as http:
        results = await asyncio.gather(*(_post(http, gateway.url, key, body) for _ in range(100)))
    for status, raw in results:
        if status == 200 and body.get("stream"):
            assert raw.rstrip().endswith(b"data: [DONE]"), raw[-200:]
    return Counter(status for status, _ in results)


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
@pytest.mark.parametrize("max_tokens", [None, 2000], ids=["no-max_tokens", "max_tokens"])
async def test_hundred_long_answers_on_a_balance_for_ten_spend_at_most_the_balance(
        gateway: Gateway, long_answers: LongAnswers, db: Database, stream: bool, max_tokens: int | None) -> None:
    prices = gateway.runtime.prices
    affordable = 10 * prices.quota_for(12, ANSWER, "gpt-4o-mini", 1, "default")
    acct = await add_account(db, quota=10_000_000, token_quota=affordable)
    cid = await add_channel(db, base_url=long_answers.url)
    await gateway.reload()
    body = {**BODY, "stream": stream} | ({"max_tokens": max_tokens} if max_tokens else {})

    statuses = await _hundred(gateway, acct.key, body)

    assert set(statuses) <= {200, 401, 403}, statuses
    assert statuses[200] >= 1, statuses
    await gateway.flush()
    b = await balances(db, acct, cid)
    rows = await logs(db)
    charged = sum(r.quota for r in rows)
    assert len(rows) == statuses[200]
    assert b["token_remain"] >= 0 and charged <= affordable            # zero overspend
    assert affordable - b["token_remain"] == charged == b["token_used"] == b["channel_used"]
    assert 10_000_000 - b["user_quota"] == charged == b["user_used"]
    # the answers that ran were capped to what their hold paid for, and each was charged in full
    assert all(limit is not None and limit <= (max_tokens or LONG) for limit in long_answers.limits)
    assert all(r.quota == prices.quota_for(r.prompt_tokens, r.completion_tokens, "gpt-4o-mini", 1, "default")
               for r in rows)


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
async def test_the_users_quota_as_the_limit_is_never_overspent_either(
        gateway: Gateway, long_answers: LongAnswers, db: Database) -> None:
    prices = gateway.runtime.prices
    affordable = 10 * prices.quota_for(12, ANSWER, "gpt-4o-mini", 1, "default")
    acct = await add_account(db, quota=affordable, unlimited=True)          # the token sets no limit
    cid = await add_channel(db, base_url=long_answers.url)
    await gateway.reload()

    statuses = await _hundred(gateway, acct.key, {**BODY, "stream": True})

    assert set(statuses) <= {200, 403} and statuses[200] >= 1, statuses
    await gateway.flush()
    b = await balances(db, acct, cid)
    charged = sum(r.quota for r in await logs(db))
    assert b["user_quota"] >= 0 and affordable - b["user_quota"] == charged == b["user_used"] <= affordable


async def test_a_rich_balance_is_not_capped_and_the_body_passes_unchanged(
        gateway: Gateway, long_answers: LongAnswers, db: Database) -> None:
    acct = await add_account(db, quota=10**9, token_quota=10**9)
    await add_channel(db, base_url=long_answers.url)
    await gateway.reload()
    async with aiohttp.ClientSession() as http:
        status, _ = await _post(http, gateway.url, acct.key, BODY)
    assert status == 200 and long_answers.limits == [None]     # nothing added to the client's body


async def test_an_upstream_counting_more_than_was_held_takes_the_balance_to_zero_not_below(
        gateway: Gateway, db: Database) -> None:
    upstream = LongAnswers(reported_prompt=5_000_000)             # far more prompt than any hold covered
    await upstream.server.start_server()
    try:
        acct = await add_account(db, quota=10_000_000, token_quota=200_000)
        cid = await add_channel(db, base_url=upstream.url)
        await gateway.reload()
        async with aiohttp.ClientSession() as http:
            results = await asyncio.gather(*(_post(http, gateway.url, acct.key, {**BODY, "max_tokens": 50})
                                             for _ in range(5)))
        assert {status for status, _ in results} == {200}
        await gateway.flush()
        b = await balances(db, acct, cid)
        rows = await logs(db)
        assert b["token_remain"] == 0 and b["token_used"] == 200_000 == sum(r.quota for r in rows)
    finally:
        await upstream.server.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_streams_from_an_upstream_ignoring_the_cap_are_ended_when_the_balance_runs_out(
        gateway: Gateway, db: Database) -> None:
    upstream = LongAnswers(honour_limit=False)
    await upstream.server.start_server()
    try:
        prices = gateway.runtime.prices
        affordable = 10 * prices.quota_for(12, ANSWER, "gpt-4o-mini", 1, "default")
        acct = await add_account(db, quota=10_000_000, token_quota=affordable)
        cid = await add_channel(db, base_url=upstream.url)
        await gateway.reload()
        async with aiohttp.ClientSession() as http:
            results = await asyncio.gather(*(_post(http, gateway.url, acct.key, {**BODY, "stream": True})
                                             for _ in range(100)))
        ended = [raw for status, raw in results if status == 200 and b'"insufficient_quota"' in raw]
        assert ended, "no stream was ended for want of quota"
        for raw in ended:      # the stream's last event is the error, after the part that was paid for
            last = raw.rstrip().rsplit(b"\n\n", 1)[-1]
            assert last.startswith(b"data: {") and orjson.loads(last[6:])["error"]["code"] == "insufficient_quota"
        await gateway.flush()
        b = await balances(db, acct, cid)
        charged = sum(r.quota for r in await logs(db))
        assert b["token_remain"] >= 0 and affordable - b["token_remain"] == charged <= affordable
    finally:
        await upstream.server.close()
