"""Redis going away and coming back: one warning, one recovery line, requests served all along."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import unused_port

from admin_api.ratelimit import Limit, RedisLimiter
from store.redis_client import connect_redis
from store.redis_health import RedisHealth
from tests.redis_helpers import shared_redis_url

from .conftest import make_settings, start_api


def _redis_url() -> str:
    return shared_redis_url()


def _redis_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "redis" in r.getMessage()]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def _forward_to(host: str, port: int, listen: int) -> AsyncIterator[None]:
    """Redis "comes back" on `listen`: every connection there is piped to the real server."""
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", listen)
    try:
        yield
    finally:
        server.close()


async def test_a_dead_redis_warns_once_then_its_return_once(caplog: pytest.LogCaptureFixture) -> None:
    real = urlsplit(_redis_url())
    port = unused_port()                     # nothing listens here yet: connections are refused
    redis = connect_redis(f"redis://127.0.0.1:{port}{real.path}")
    limiter = RedisLimiter(redis, RedisHealth(retry_every=0.02))
    limit, client = Limit("GA", 1000, 180), f"198.51.100.{port % 250 + 1}"
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(40):              # about 0.4 s: a dozen probes fail, each request is served
                assert await limiter.allow(limit, client)
                await asyncio.sleep(0.01)
            lines = _redis_lines(caplog)
            assert len(lines) == 1 and "redis unreachable" in lines[0] and limiter.health.down, lines
            async with _forward_to(real.hostname or "127.0.0.1", real.port or 6379, port):
                await asyncio.sleep(0.03)
                for _ in range(20):
                    assert await limiter.allow(limit, client)
                assert await redis.llen(f"rateLimit:GA{client}") == 20     # counted in Redis again
                await redis.delete(f"rateLimit:GA{client}")
        lines = _redis_lines(caplog)
        assert len(lines) == 2 and lines[1].startswith("redis answers again") and not limiter.health.down, lines
    finally:
        await redis.aclose()


async def test_api_requests_with_redis_down_log_one_warning(db, backend: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    if backend != "sqlite":
        pytest.skip("no database involved in the limiter: one run is enough")
    settings = make_settings(debug=False, global_api_rate_limit=1000, sync_frequency_set=True,
                             redis_conn_string=f"redis://127.0.0.1:{unused_port()}/0")
    api = await start_api(db, settings)
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(30):
                status, _ = await api.call("GET", "/api/status")
                assert status == 200
        lines = _redis_lines(caplog)
        assert len(lines) == 1 and "rate limits are kept in this process" in lines[0], lines
    finally:
        await api.close()
        await api.server.close()


async def test_the_proxy_change_listener_warns_once_then_its_return_once(caplog: pytest.LogCaptureFixture) -> None:
    """The proxy workers' pub/sub listener (it warned at every reconnect attempt)."""
    from proxy.gateway.change_listener import ChangeListener

    real = urlsplit(_redis_url())
    port = unused_port()
    changes: list[int] = []

    async def on_change() -> None:
        changes.append(1)

    listener = ChangeListener(connect_redis(f"redis://127.0.0.1:{port}{real.path}"), on_change, first_backoff=0.02)
    with caplog.at_level(logging.INFO):
        listener.start()
        try:
            await asyncio.sleep(0.35)          # attempts at 0, 0.02, 0.06, 0.14, 0.30 s: all refused
            assert len(_redis_lines(caplog)) == 1 and listener.health.down and not changes
            async with _forward_to(real.hostname or "127.0.0.1", real.port or 6379, port):
                for _ in range(200):
                    if changes:
                        break
                    await asyncio.sleep(0.01)
                assert changes                 # subscribed: it caught up on what it missed
        finally:
            await listener.close()
    lines = _redis_lines(caplog)
    assert len(lines) == 2 and "change events are read by polling" in lines[0], lines
    assert lines[1].startswith("redis answers again"), lines
