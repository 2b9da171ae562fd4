"""Every /v1 route of the proxy with hostile inputs, as a user and as an admin (who may pin channels): never a
5xx but a deliberate 503 (no channel for that model). The same fixed values as the admin run (tests/hostile.py),
so the run is bounded and a failure names what was sent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from proxy.app import RELAY_POST
from store import Database
from tests.conftest import BACKENDS
from tests.e2e.harness import Gateway, add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI
from tests.hostile import JSON_VALUES, RAW_BODIES, STRINGS, Attempt

BUDGET = 20.0
MODEL = "gpt-4o-mini"
# the fields the relay reads in any mode; each attempt sets all of them (but the model) to one hostile value
FIELDS = ("messages", "prompt", "input", "instruction", "max_tokens", "max_completion_tokens", "stream",
          "stream_options", "n", "tools", "functions", "size", "quality", "response_format", "voice", "user",
          "temperature", "logit_bias", "image", "modalities", "audio", "reasoning_effort")
GET_ROUTES = ("/v1/models", "/dashboard/billing/subscription", "/dashboard/billing/usage",
              "/v1/dashboard/billing/usage")


def nested_multipart(levels: int = 1000) -> tuple[bytes, str]:
    """A multipart body whose one part is a multipart body whose one part is ... `levels` deep."""
    inner = b"Content-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1"
    for level in range(levels):
        boundary = f"b{level}".encode()
        inner = (b"Content-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\n--" + boundary + b"\r\n"
                 + inner + b"\r\n--" + boundary + b"--\r\n")
    header, _, body = inner.partition(b"\r\n\r\n")
    return body, header.decode().removeprefix("Content-Type: ").replace("multipart/mixed", "multipart/form-data")


def relay_attempts() -> Iterator[Attempt]:
    for path in (*RELAY_POST, "/v1/oneapi/proxy/1/v1/chat/completions"):
        path = path.replace("{model}", MODEL)
        for value in JSON_VALUES:
            yield Attempt("POST", path, (), json.dumps({"model": MODEL, **{f: value for f in FIELDS}}).encode())
            yield Attempt("POST", path, (), json.dumps({"model": value, "messages": value}).encode())
        for raw in RAW_BODIES:
            yield Attempt("POST", path, (), raw)
        body, content_type = nested_multipart()
        yield Attempt("POST", path, (), body, content_type)
        yield Attempt("POST", path, (), b"--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n\x00",
                      "multipart/form-data; boundary=\"")
    for value in STRINGS:
        part = quote(value, safe="")
        yield Attempt("GET", f"/v1/models/{part}", (), None)
        yield Attempt("POST", f"/v1/engines/{part}/embeddings", (), json.dumps({"input": "hi"}).encode())
        yield Attempt("POST", f"/v1/oneapi/proxy/{part}/v1/chat/completions", (), b"{}")
        yield Attempt("GET", f"/v1/{part}", (), None)
        for path in GET_ROUTES:
            yield Attempt("GET", path, (("start_date", value), ("end_date", value)), None)


async def _send(http: aiohttp.ClientSession, base: str, key: str, attempt: Attempt) -> str | None:
    headers = {"Authorization": key, "Content-Type": attempt.content_type}
    async with http.request(attempt.method, base + attempt.path, params=attempt.query, data=attempt.body,
                            headers=headers, allow_redirects=False) as r:
        text = (await r.read()).decode("utf-8", "replace")
        if r.status >= 500 and not _deliberate(r.status, text):
            return f"{attempt.describe()}: {r.status} {text[:300]}"
    return None


def _deliberate(status: int, text: str) -> bool:
    """A 503 with an OpenAI-style error (no channel for the model), or an upstream's error relayed as One API
    relays it (the mock answers a completions stream with JSON: One API's 500 "bad response status code")."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and (status == 503 or error.get("type") == "upstream_error")


@pytest.mark.parametrize("backend", BACKENDS)   # ids and names reach each database's own types
async def test_hostile_input_never_makes_a_server_error(gateway: Gateway, upstream: MockOpenAI,
                                                        db: Database) -> None:
    user = await add_account(db)
    admin = await add_account(db, role=10, username="admin")
    await add_channel(db, base_url=upstream.url, models=f"{MODEL},whisper-1,text-embedding-ada-002,dall-e-2,"
                                                         "text-moderation-stable,tts-1")
    await gateway.reload()
    odd = [f"{admin.key}-²", f"{admin.key}-{'9' * 30}", "Bearer ²", "sk-" + "x" * 5000]
    started = time.monotonic()
    failures: list[str] = []
    sent = 0
    limit = asyncio.Semaphore(8)
    async with aiohttp.ClientSession() as http:
        async def one(key: str, attempt: Attempt) -> None:
            async with limit:
                failure = await _send(http, gateway.url, key, attempt)
            if failure:
                failures.append(failure)
        # the user everywhere; the admin where only an admin gets further (the raw proxy route, pinned channels)
        batch = [one(user.key, a) for a in relay_attempts()]
        batch += [one(admin.key, a) for a in relay_attempts() if a.path.startswith("/v1/oneapi/proxy/")]
        sent += len(batch)
        await asyncio.wait_for(asyncio.gather(*batch), BUDGET)
        await asyncio.gather(*(one(key, Attempt("POST", "/v1/chat/completions", (), b"{}")) for key in odd))
    assert not failures, f"{len(failures)} of {sent} answers were server errors:\n" + "\n".join(failures[:40])
    assert time.monotonic() - started < BUDGET


async def test_a_channel_key_with_a_line_break_is_a_channel_error(gateway: Gateway, upstream: MockOpenAI,
                                                                  db: Database) -> None:
    """No HTTP client sends a header holding CR, LF or NUL (each raised a ValueError: a 500): a channel error,
    503 naming the header, never the key (with RetryTimes set, the next channel is tried)."""
    acct = await add_account(db)
    for key, channel_type in (("sk-a\rb", 1), ("sk-a\nb", 14), ("sk-a\x00b", 24)):
        await add_channel(db, base_url=upstream.url, key=key, type=channel_type, name=f"bad-{channel_type}",
                          priority=10)
    await gateway.reload()
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as http:
        for stream in (False, True):
            async with http.post(gateway.url + "/v1/chat/completions", json={**body, "stream": stream},
                                 headers={"Authorization": acct.key}) as r:
                status, answer = r.status, await r.json()
            assert status == 503, answer
            assert answer["error"]["code"] == "channel_request_invalid"
            assert "holds a line break or NUL" in answer["error"]["message"] and "sk-a" not in str(answer)
    assert upstream.requests == []
