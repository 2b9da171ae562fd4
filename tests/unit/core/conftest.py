"""A pipeline over an in-memory upstream, served on loopback by aiohttp's test server (no upstream socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web import Application

from proxy.core.addon_manager import AddonManager
from proxy.core.pipeline import Pipeline
from proxy.core.testing import MemoryUpstream

CHAT = "/v1/chat/completions"
Serve = Callable[[Pipeline], Awaitable[TestClient[Any, Any]]]


def pipeline(upstream: MemoryUpstream, *addons: object) -> Pipeline:
    return Pipeline(AddonManager(addons), upstream, lambda: None, lambda: "req-1", lambda r: "127.0.0.1")


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """`await serve(pipeline)`: a client of an app whose only route is POST CHAT, handled by that pipeline."""
    clients: list[TestClient[Any, Any]] = []

    async def start(p: Pipeline) -> TestClient[Any, Any]:
        app = Application()
        app.router.add_post(CHAT, p.handle)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client
    yield start
    for client in clients:
        await client.close()
