"""Image URLs in vision prompts never make the gateway reach loopback, private, link-local or metadata
addresses (SSRF): not as a literal, not through a name, not through a redirect, not through RELAY_PROXY.
A refused image counts 0 tokens and the request is served, as One API does for an unreadable image;
an operator's IMAGE_FETCH_ALLOW_HOSTS lets chosen internal hosts through."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from settings import load_settings
from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, logs
from tests.e2e.mock_upstream import MockOpenAI
from tests.e2e.test_remote_images import png
from tests.e2e.test_upstream_transport import ForwardProxy

WIDE_TOKENS = 1105          # 2048×1024 high detail on gpt-4o: 6 tiles × 170 + 85


class ImageHost:
    """A local web server that counts every request: /wide.png is an image, /to?url=… redirects there."""

    def __init__(self, host: str) -> None:
        self.hits: list[str] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app, host=host)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path_qs)
        if request.path == "/to":
            raise web.HTTPFound(request.query["url"])
        return web.Response(body=png(2048, 1024), content_type="image/png")

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port


@pytest.fixture
async def image_host() -> AsyncIterator[ImageHost]:
    host = ImageHost("127.0.0.1")
    await host.server.start_server()
    yield host
    await host.server.close()


@pytest.fixture
async def redirector() -> AsyncIterator[ImageHost]:
    """A second host on another loopback address, so it alone can be allow-listed."""
    host = ImageHost("127.0.0.2")
    await host.server.start_server()
    yield host
    await host.server.close()


async def prompt_tokens(gateway: Gateway, db: Database, key: str, urls: list[str]) -> int:
    """One streamed vision request with these images; the prompt tokens its log row records."""
    parts = [{"type": "image_url", "image_url": {"url": url, "detail": "high"}} for url in urls]
    async with openai.AsyncOpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0) as client:
        stream = await client.chat.completions.create(model="gpt-4o", stream=True, messages=[
            {"role": "user", "content": [{"type": "text", "text": "what is this?"}, *parts]}])
        assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "Hello there!"
    await gateway.flush()
    return (await logs(db))[-1].prompt_tokens


async def seeded(db: Database, upstream: MockOpenAI) -> str:
    """A rich account and a gpt-4o channel; the account's key."""
    acct = await add_account(db, quota=10**9, token_quota=10**8)
    await add_channel(db, base_url=upstream.url, models="gpt-4o")
    upstream.script.stream_usage = False          # no upstream usage: the gateway counts the prompt
    return acct.key


async def started(db: Database, upstream: MockOpenAI, env: dict[str, str]) -> tuple[Gateway, str]:
    key = await seeded(db, upstream)
    return await Gateway(db, load_settings(env, [])).start(), key


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
async def test_internal_addresses_are_never_fetched(db: Database, upstream: MockOpenAI, image_host: ImageHost,
                                                   redirector: ImageHost) -> None:
    """Loopback by literal, by legacy numeric form and by name, the admin port, a redirect to loopback, and
    private/link-local/metadata literals: no connection, 0 image tokens, the answer served."""
    port = image_host.port
    # a loopback admin-looking URL goes to the counting server here, so a fetch of it would show
    gateway, key = await started(db, upstream, {"IMAGE_FETCH_ALLOW_HOSTS": "127.0.0.2"})
    try:
        text_only = await prompt_tokens(gateway, db, key, [])
        internal = [f"http://127.0.0.1:{port}/wide.png", f"http://localhost:{port}/wide.png",
                    f"http://127.1:{port}/wide.png", f"http://2130706433:{port}/wide.png",
                    f"http://0x7f.0.0.1:{port}/wide.png", f"http://[::ffff:127.0.0.1]:{port}/wide.png",
                    f"http://127.0.0.1:{port}/api/user/login",
                    f"http://127.0.0.2:{redirector.port}/to?url=http://127.0.0.1:{port}/wide.png",
                    f"http://127.0.0.2:{redirector.port}/to?url=http://localhost:{port}/wide.png",
                    "http://169.254.169.254/latest/meta-data/iam.png", "http://10.0.0.1/a.png",
                    "http://192.168.1.1/a.png", "http://[fd00::1]/a.png", "http://100.64.0.1/a.png",
                    "http://0.0.0.0/a.png"]
        assert await prompt_tokens(gateway, db, key, internal) == text_only
        assert image_host.hits == []
        assert len(redirector.hits) == 2          # the allowed host was asked; its redirects were not followed
        # the same image from the allow-listed address is fetched and counted
        allowed = f"http://127.0.0.2:{redirector.port}/wide.png"
        assert await prompt_tokens(gateway, db, key, [allowed]) == text_only + WIDE_TOKENS
    finally:
        await gateway.close()


async def test_an_allow_listed_redirect_target_is_followed(db: Database, upstream: MockOpenAI,
                                                           image_host: ImageHost, redirector: ImageHost) -> None:
    gateway, key = await started(db, upstream, {"IMAGE_FETCH_ALLOW_HOSTS": "127.0.0.2, 127.0.0.1/32"})
    try:
        text_only = await prompt_tokens(gateway, db, key, [])
        url = f"http://127.0.0.2:{redirector.port}/to?url=http://localhost:{image_host.port}/wide.png"
        assert await prompt_tokens(gateway, db, key, [url]) == text_only + WIDE_TOKENS
        assert image_host.hits == ["/wide.png"]
    finally:
        await gateway.close()


async def test_fetching_can_be_switched_off(db: Database, upstream: MockOpenAI, image_host: ImageHost) -> None:
    gateway, key = await started(db, upstream, {"IMAGE_FETCH_ENABLED": "false", "IMAGE_FETCH_ALLOW_HOSTS": "127.0.0.1"})
    try:
        text_only = await prompt_tokens(gateway, db, key, [])
        assert await prompt_tokens(gateway, db, key, [f"http://127.0.0.1:{image_host.port}/wide.png"]) == text_only
        assert image_host.hits == []
    finally:
        await gateway.close()


async def test_through_relay_proxy_the_checked_address_is_what_the_proxy_gets(
        db: Database, upstream: MockOpenAI, image_host: ImageHost) -> None:
    """The proxy would resolve names itself: the gateway resolves and checks first, then hands the proxy the
    checked address (a name that re-resolves elsewhere later cannot slip through)."""
    proxy = ForwardProxy()
    proxy_url = await proxy.start()
    port = image_host.port
    key = await seeded(db, upstream)
    refused = await Gateway(db, load_settings({"RELAY_PROXY": proxy_url}, [])).start()
    try:
        text_only = await prompt_tokens(refused, db, key, [])
        urls = [f"http://localhost:{port}/wide.png", f"http://127.0.0.1:{port}/wide.png",
                "http://169.254.169.254/x.png"]
        assert await prompt_tokens(refused, db, key, urls) == text_only
        assert b"GET " not in proxy.sent and image_host.hits == []     # only the relay's own POSTs went through
    finally:
        await refused.close()
    env = {"RELAY_PROXY": proxy_url, "IMAGE_FETCH_ALLOW_HOSTS": "127.0.0.1"}
    allowed = await Gateway(db, load_settings(env, [])).start()
    try:
        assert await prompt_tokens(allowed, db, key, [f"http://localhost:{port}/wide.png"]) == text_only + WIDE_TOKENS
        assert f"GET http://127.0.0.1:{port}/wide.png HTTP/1.1\r\n".encode() in proxy.sent
        assert f"Host: localhost:{port}\r\n".encode() in proxy.sent
        assert image_host.hits == ["/wide.png"]
    finally:
        await allowed.close()
        assert proxy.server is not None
        proxy.server.close()
