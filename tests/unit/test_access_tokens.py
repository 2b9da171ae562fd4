"""AccessTokens (provider authentication apart from conversion) against a local token endpoint: one fetch per
channel while the token lives, a fresh one a minute before it expires or once dropped, clear errors."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.converters.base import ConvertContext
from proxy.converters.registry import CONVERTERS
from proxy.core.errors import RelayError, UpstreamError
from proxy.gateway.access_tokens import AccessTokens

BAIDU = CONVERTERS["baidu"].access_token
assert BAIDU is not None


class TokenEndpoint:
    """Baidu's OAuth endpoint: a new token per call, living `lifetime` seconds; `fail` answers an error."""

    def __init__(self) -> None:
        self.calls = 0
        self.lifetime = 3600
        self.fail = False
        app = web.Application()
        app.router.add_post("/oauth/2.0/token", self._token)
        self.server = TestServer(app, host="127.0.0.1")

    async def _token(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.fail:
            return web.json_response({"error": "invalid_client", "error_description": "unknown client id"})
        return web.json_response({"access_token": f"tok-{self.calls}", "expires_in": self.lifetime})

    def ctx(self, key: str = "ak|sk") -> ConvertContext:
        return ConvertContext(mode="chat", model="ERNIE-4.0-8K", base_url=str(self.server.make_url("")).rstrip("/"),
                              key=key, now=time.time())


@pytest.fixture
async def endpoint() -> AsyncIterator[TokenEndpoint]:
    ep = TokenEndpoint()
    await ep.server.start_server()
    yield ep
    await ep.server.close()


@pytest.fixture
async def tokens() -> AsyncIterator[AccessTokens]:
    async with aiohttp.ClientSession() as session:
        yield AccessTokens(lambda: session)


async def test_a_token_is_fetched_once_per_channel(endpoint: TokenEndpoint, tokens: AccessTokens) -> None:
    assert await tokens.token(BAIDU, endpoint.ctx()) == "tok-1"
    assert await tokens.token(BAIDU, endpoint.ctx()) == "tok-1"
    assert await tokens.token(BAIDU, endpoint.ctx("other|key")) == "tok-2"   # another key, another token
    assert endpoint.calls == 2


async def test_a_dropped_or_expiring_token_is_fetched_anew(endpoint: TokenEndpoint, tokens: AccessTokens) -> None:
    assert await tokens.token(BAIDU, endpoint.ctx()) == "tok-1"
    tokens.drop(endpoint.ctx())
    assert await tokens.token(BAIDU, endpoint.ctx()) == "tok-2"
    endpoint.lifetime = 59    # inside the minute before expiry: never served from the cache
    tokens.drop(endpoint.ctx())
    assert await tokens.token(BAIDU, endpoint.ctx()) == "tok-3"
    assert await tokens.token(BAIDU, endpoint.ctx()) == "tok-4"


async def test_a_refused_token_request_is_a_502(endpoint: TokenEndpoint, tokens: AccessTokens) -> None:
    endpoint.fail = True
    with pytest.raises(RelayError) as err:
        await tokens.token(BAIDU, endpoint.ctx())
    assert (err.value.status, err.value.code) == (502, "get_access_token_failed")
    assert "unknown client id" in err.value.message


async def test_an_unreachable_token_endpoint_is_a_502(tokens: AccessTokens) -> None:
    ctx = ConvertContext(mode="chat", model="m", base_url=f"http://127.0.0.1:{free_port()}", key="ak|sk",
                         now=time.time())
    with pytest.raises(UpstreamError) as err:
        await tokens.token(BAIDU, ctx)
    assert (err.value.status, err.value.code) == (502, "get_access_token_failed")


def free_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
