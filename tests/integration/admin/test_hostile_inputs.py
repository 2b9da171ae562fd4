"""Every admin route of the OpenAPI document with hostile inputs (odd unicode, NUL, huge numbers, wrong JSON
types, deep nesting, bad query and path parameters), as root and as a user: never a 5xx but a deliberate 503.
A fixed set (tests/hostile.py), so the run is bounded and a failure names what was sent."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

import aiohttp
from sqlalchemy import select

from store.models import Channel
from tests.hostile import STRINGS, Attempt, attempts

from .test_openapi import NOT_FUZZED

BUDGET = 20.0   # seconds for one backend's run, both callers


async def _send(http: aiohttp.ClientSession, base: str, token: str, attempt: Attempt) -> str | None:
    headers = {"Authorization": token, "Content-Type": attempt.content_type}
    async with http.request(attempt.method, base + attempt.path, params=attempt.query, data=attempt.body,
                            headers=headers, allow_redirects=False) as r:
        text = (await r.read())[:300].decode("utf-8", "replace")
        deliberate = r.status == 503 and '"success":false' in text.replace(" ", "")
        if r.status >= 500 and not deliberate:
            return f"{attempt.describe()}: {r.status} {text}"
    return None


def _paths() -> list[Attempt]:
    """Paths no route names: the web console's catch-all and /api's 404 (GET /%00 was a 500)."""
    return [Attempt("GET", f"{prefix}/{quote(value, safe='')}", (), None)
            for value in STRINGS for prefix in ("", "/api", "/assets")]


async def test_hostile_input_never_makes_a_server_error(api) -> None:
    _, doc = await api.call("GET", "/api/openapi.json")
    base = str(api.server.make_url("")).rstrip("/")
    started = time.monotonic()
    failures: list[str] = []
    sent = 0
    limit = asyncio.Semaphore(8)
    async with aiohttp.ClientSession() as http:
        async def one(token: str, attempt: Attempt) -> None:
            async with limit:
                failure = await _send(http, base, token, attempt)
            if failure:
                failures.append(failure)
        # a user gets every route a user may call (admin routes refuse them before reading anything), root all
        for who, access in (("alice", frozenset({"public", "user"})), ("root", None)):
            fuzzed = attempts(doc, frozenset(NOT_FUZZED), access=access)
            batch = [one(api.people[who].access_token, a) for a in (*fuzzed, *_paths())]
            sent += len(batch)
            await asyncio.wait_for(asyncio.gather(*batch), BUDGET)
    assert not failures, f"{len(failures)} of {sent} answers were server errors:\n" + "\n".join(failures[:40])
    assert time.monotonic() - started < BUDGET


async def test_a_channel_key_with_a_carriage_return_is_refused(api) -> None:
    """A CR inside a key can never be sent; a key list pasted with CRLF line ends is still one key a line."""
    refused = "渠道密钥不能包含回车符（\\r）"
    channel = {"type": 1, "name": "c", "models": "gpt-4o-mini", "group": "default"}
    status, body = await api.call("POST", "/api/channel/", who="root", json={**channel, "key": "sk-a\rb"})
    assert status == 200 and body == {"success": False, "message": refused}
    status, body = await api.call("POST", "/api/channel/", who="root", json={**channel, "key": "sk-one\r\nsk-two\r\n"})
    assert body["success"] is True, body
    async with api.db.session() as s:
        keys = sorted((await s.execute(select(Channel.key))).scalars())
        first = (await s.execute(select(Channel.id).order_by(Channel.id))).scalars().first()
    assert keys == ["sk-one", "sk-two"]
    status, body = await api.call("PUT", "/api/channel/", who="root", json={"id": first, "key": "sk-x\ry"})
    assert body == {"success": False, "message": refused}
