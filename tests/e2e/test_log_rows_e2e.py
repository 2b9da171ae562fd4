"""An upstream reporting absurd usage still gets its consume log row, and so does every request after it."""

from __future__ import annotations

import aiohttp
import pytest

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, logs
from tests.e2e.mock_upstream import MockOpenAI

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
async def test_ten_billion_tokens_then_a_normal_request(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    account = await add_account(db, quota=10**15, unlimited=True)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    usages = [{"prompt_tokens": 10**10, "completion_tokens": 10**10, "total_tokens": 2 * 10**10},
              {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}]
    async with aiohttp.ClientSession() as http:
        for usage in usages:
            upstream.script.usage = usage
            async with http.post(gateway.url + "/v1/chat/completions", json=BODY,
                                 headers={"Authorization": account.key}) as answer:
                assert answer.status == 200, await answer.text()
    await gateway.flush()
    rows = await logs(db)
    assert [(r.prompt_tokens, r.completion_tokens) for r in rows] == [(2**31 - 1, 2**31 - 1), (11, 7)]
    assert rows[0].quota == 2**31 - 1 and "clamped to the column" in rows[0].content
    assert "prompt_tokens 10000000000 → 2147483647" in rows[0].content
    assert "clamped" not in rows[1].content and rows[1].quota > 0
