"""Gzip request bodies: inflated once, by the proxy, after the key was accepted, never past the body limit.

The gateway runs in this process, so its memory is this process's resident set (/proc/self/status)."""

from __future__ import annotations

import ctypes
import gc
import gzip
import struct
import zlib

import aiohttp
import orjson

from proxy.core.request_body import MAX_BODY
from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI

BODY = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
MiB = 1 << 20


def gzip_bomb(mib: int = 1024) -> bytes:
    """One gzip member of `mib` MiB of zeros, about 1 KiB per MiB, built in a fraction of a second: one MiB
    deflated and fully flushed (no back-references across it), repeated."""
    zeros = bytes(MiB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + segment * mib + deflate.flush() + struct.pack("<II", crc, (mib * MiB) & 0xFFFFFFFF)


_LIBC = ctypes.CDLL("libc.so.6")


def rss_mib() -> float:
    """This process's resident memory once freed memory went back to the system: what is still held, not what the
    allocator keeps cached from earlier tests (CI flaked on that, depending on test order)."""
    gc.collect()
    _LIBC.malloc_trim(0)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def _post(gw: Gateway, body: bytes, key: str = "", encoding: str = "gzip") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    if key:
        headers["Authorization"] = key
    async with aiohttp.ClientSession() as http, http.post(gw.url + "/v1/chat/completions", data=body, headers=headers) as r:
        return r.status, orjson.loads(await r.read())


async def test_a_gzip_bomb_without_a_key_is_refused_before_inflating(gateway: Gateway) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 1.1 * MiB
    before = rss_mib()
    status, body = await _post(gateway, bomb)
    grown = rss_mib() - before
    assert status == 401 and body["error"]["message"].startswith("未提供令牌")
    assert grown < 8, f"the gateway grew by {grown:.0f} MiB on an unauthenticated 1 MB gzip body"
    status, _ = await _post(gateway, bomb, key="sk-not-a-key")
    assert status == 401 and rss_mib() - before < 8


async def test_a_gzip_bomb_with_a_key_stops_at_the_body_limit(gateway: Gateway, upstream: MockOpenAI,
                                                               db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    before = rss_mib()
    status, body = await _post(gateway, gzip_bomb(), key=acct.key)
    grown = rss_mib() - before
    assert status == 413, body
    assert body["error"]["code"] == "request_body_too_large" and str(MAX_BODY) in body["error"]["message"]
    assert grown < 16, f"the gateway kept {grown:.0f} MiB after a refused gzip bomb"
    assert upstream.requests == []


async def test_a_valid_gzip_body_is_inflated_exactly_once(gateway: Gateway, upstream: MockOpenAI,
                                                          db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    status, body = await _post(gateway, gzip.compress(BODY), key=acct.key)
    assert status == 200, body
    assert body["choices"][0]["message"]["role"] == "assistant"
    [sent] = upstream.requests
    assert orjson.loads(sent.body) == orjson.loads(BODY)      # the upstream got the JSON, not gzip
    assert "Content-Encoding" not in sent.headers


async def test_a_corrupt_gzip_body_is_a_clear_400(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    for corrupt in (b"this is not gzip", gzip.compress(BODY)[:-12]):
        status, body = await _post(gateway, corrupt, key=acct.key)
        assert status == 400, body
        assert body["error"]["code"] == "invalid_gzip_body"
        assert body["error"]["message"].startswith("invalid gzip request body")
    assert (await _post(gateway, b"not gzip either"))[0] == 401     # no key: refused before reading the body
    assert upstream.requests == []


async def test_the_raw_proxy_route_forwards_the_inflated_body_without_its_encoding(
        gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    admin = await add_account(db, role=10, username="admin")
    channel = await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    headers = {"Authorization": admin.key, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    async with aiohttp.ClientSession() as http, http.post(f"{gateway.url}/v1/oneapi/proxy/{channel}/v1/chat/completions",
                                                          data=gzip.compress(BODY), headers=headers) as r:
        assert r.status == 200, await r.text()
    [sent] = upstream.requests
    assert sent.body == BODY and "Content-Encoding" not in sent.headers
