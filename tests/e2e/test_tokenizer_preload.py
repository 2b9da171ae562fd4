"""TIKTOKEN_PRELOAD=auto (the default): a worker loads, at start, the encodings of the models its channels serve
(cl100k_base only when one of them counts with it, as every model without an encoding of its own does); an
encoding a channel added later needs is loaded by its first request."""

from __future__ import annotations

import aiohttp
import orjson

from settings import load_settings
from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI


async def _chat(gw: Gateway, key: str, model: str) -> int:
    async with aiohttp.ClientSession() as http, http.post(
            gw.url + "/v1/chat/completions", headers={"Authorization": key},
            json={"model": model, "messages": [{"role": "user", "content": "hello there"}]}) as r:
        await r.read()
        return r.status


async def test_the_channels_models_decide_what_loads_at_start(db: Database, upstream: MockOpenAI) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url, models="claude-3-haiku,deepseek-chat")
    gw = await Gateway(db).start()
    try:
        assert gw.runtime.tokenizer.loaded == ("cl100k_base",)     # no channel serves a gpt-4o model
        assert await _chat(gw, acct.key, "deepseek-chat") == 200
        assert gw.runtime.tokenizer.loaded == ("cl100k_base",)
        await add_channel(db, base_url=upstream.url, models="gpt-4o-mini", name="later")
        await gw.reload()
        assert await _chat(gw, acct.key, "gpt-4o-mini") == 200      # loaded by this request, off the loop
        assert gw.runtime.tokenizer.loaded == ("cl100k_base", "o200k_base")
        prompt = orjson.loads(upstream.requests[-1].body)["messages"]
        assert prompt == [{"role": "user", "content": "hello there"}]
    finally:
        await gw.close()


async def test_gpt_4o_channels_alone_load_o200k_alone(db: Database, upstream: MockOpenAI) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url, models="gpt-4o-mini,gpt-4o")
    gw = await Gateway(db).start()
    try:
        assert gw.runtime.tokenizer.loaded == ("o200k_base",)        # no model here counts with cl100k_base
        assert await _chat(gw, acct.key, "gpt-4o-mini") == 200
        assert gw.runtime.tokenizer.loaded == ("o200k_base",)
    finally:
        await gw.close()


async def test_a_mapped_model_and_an_explicit_list(db: Database, upstream: MockOpenAI) -> None:
    await add_channel(db, base_url=upstream.url, models="house-model", model_mapping='{"house-model": "gpt-4o"}')
    gw = await Gateway(db).start()
    try:
        assert "o200k_base" in gw.runtime.tokenizer.loaded     # what it maps to counts
    finally:
        await gw.close()
    gw = await Gateway(db, load_settings({"TIKTOKEN_PRELOAD": "o200k_base"}, [])).start()
    try:
        assert gw.runtime.tokenizer.loaded == ("o200k_base",)    # a list: exactly those, nothing more at start
    finally:
        await gw.close()
