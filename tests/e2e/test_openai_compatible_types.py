"""Every OpenAI-style channel type of the catalog: one request through each, checking the URL, headers and
body the upstream received (the types' quirks are data in rules/channel_types.toml, not code)."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest

from rules import ChannelType, load_catalog
from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI

TYPES = [t for t in load_catalog() if t.api_style in ("openai", "azure") and not t.placeholder]
RAW = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"seed":0,"x_vendor":{"k":[1]}}'


def _base_path(ctype: ChannelType) -> str:
    if ctype.id == 50:
        return "/api/v4"                      # generic type: the operator's base URL carries its version
    return urlsplit(ctype.base_url).path.rstrip("/")


def _expected_path(ctype: ChannelType, base_path: str) -> str:
    if ctype.api_style == "azure":
        return "/openai/deployments/gpt-4o-mini/chat/completions"
    if ctype.paths:
        return base_path + ctype.paths["/v1/chat/completions"]
    if ctype.strip_v1:
        return base_path + "/chat/completions"
    return base_path + "/v1/chat/completions"


def test_every_openai_style_type_is_covered() -> None:
    assert {t.id for t in TYPES} >= {1, 2, 3, 4, 8, 20, 22, 25, 26, 27, 29, 36, 40, 41, 45, 47, 48, 49, 50, 51}


@pytest.mark.parametrize("ctype", TYPES, ids=[f"{t.id}-{t.name}" for t in TYPES])
async def test_type_sends_what_its_upstream_expects(gateway: Gateway, upstream: MockOpenAI, db: Database,
                                                    ctype: ChannelType) -> None:
    base_path = _base_path(ctype)
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url + base_path, type=ctype.id, key="sk-upstream-secret",
                      models="gpt-4o-mini", config='{"api_version":"2024-10-21"}' if ctype.api_style == "azure" else "")
    await gateway.reload()
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", data=RAW,
                                                          headers={"Authorization": acct.key, "Content-Type": "application/json"}) as resp:
        assert resp.status == 200, await resp.read()
        answer = orjson.loads(await resp.read())
    assert answer["choices"][0]["message"]["content"] == "Hello there!"
    sent = upstream.requests[-1]
    assert sent.path == _expected_path(ctype, base_path)
    if ctype.api_style == "azure":
        assert sent.query == "api-version=2024-10-21"
        assert sent.headers["api-key"] == "sk-upstream-secret" and "Authorization" not in sent.headers
    else:
        assert sent.headers["Authorization"] == "Bearer sk-upstream-secret"
    for name, value in ctype.headers.items():
        assert sent.headers[name] == value
    if ctype.always_convert:
        assert orjson.loads(sent.body) == orjson.loads(RAW)       # re-encoded, nothing lost
    else:
        assert sent.body == RAW                                    # byte-exact
