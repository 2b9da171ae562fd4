"""Vision prompts with remote image URLs: the gateway reads each image's size from its first bytes (as One API
fetches them) to count high-detail tokens, once per URL, and counts 0 when the fetch fails. The image host
runs on loopback, which the gateway refuses to fetch from unless allow-listed (IMAGE_FETCH_ALLOW_HOSTS):
these tests allow it; test_image_fetch_guard.py covers the refusals."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import AsyncIterator

import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from settings import load_settings
from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, logs
from tests.e2e.mock_upstream import MockOpenAI


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4)) + chunk(b"IEND", b"")


@pytest.fixture
async def gateway(db: Database) -> AsyncIterator[Gateway]:
    """The gateway, allowed to fetch from the loopback image host."""
    gw = await Gateway(db, load_settings({"IMAGE_FETCH_ALLOW_HOSTS": "127.0.0.1"}, [])).start()
    yield gw
    await gw.close()


@pytest.fixture
async def images() -> AsyncIterator[tuple[str, list[str]]]:
    """A local image host: /wide.png is 2048×1024; anything else is 404. Records the paths it served."""
    served: list[str] = []

    async def image(request: web.Request) -> web.Response:
        served.append(request.path)
        if request.path != "/wide.png":
            raise web.HTTPNotFound()
        return web.Response(body=png(2048, 1024), content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", image)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), served
    await server.close()


async def prompt_tokens(gateway: Gateway, db: Database, key: str, url: str) -> int:
    client = openai.AsyncOpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0)
    stream = await client.chat.completions.create(model="gpt-4o", stream=True, messages=[
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": url, "detail": "high"}}]}])
    async for _ in stream:
        pass
    await gateway.flush()
    return (await logs(db))[-1].prompt_tokens


async def test_a_remote_image_counts_as_its_data_url_twin_and_is_fetched_once(
        gateway: Gateway, upstream: MockOpenAI, db: Database, images: tuple[str, list[str]]) -> None:
    host, served = images
    acct = await add_account(db, quota=10**9, token_quota=10**8)
    await add_channel(db, base_url=upstream.url, models="gpt-4o")
    await gateway.reload()
    upstream.script.stream_usage = False          # no upstream usage: the prompt is counted by the gateway

    inline = await prompt_tokens(gateway, db, acct.key, "data:image/png;base64," + base64.b64encode(png(2048, 1024)).decode())
    remote = await prompt_tokens(gateway, db, acct.key, host + "/wide.png")
    again = await prompt_tokens(gateway, db, acct.key, host + "/wide.png")
    missing = await prompt_tokens(gateway, db, acct.key, host + "/gone.png")

    # 2048×1024 high detail: scaled to 1536×768, 3×2 tiles → 6 × 170 + 85 = 1105 tokens on top of the text
    assert remote == again == inline and inline - missing == 1105
    assert served == ["/wide.png", "/gone.png"]     # remembered per URL: the repeat was not fetched again
