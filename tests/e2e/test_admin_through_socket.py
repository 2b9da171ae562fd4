"""The proxy reaches admin_api over its unix socket, and admin_api takes the client address the proxy resolved
(X-Forwarded-For from TRUSTED_PROXIES at the public port) for its per-IP limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from admin_api.app import create_app
from settings import load_settings
from store import Database
from tests.e2e.harness import Gateway


@asynccontextmanager
async def _admin_behind_gateway(db: Database, tmp_path: Path, **settings: str) -> AsyncIterator[Gateway]:
    """admin_api on a unix socket in `tmp_path` and the gateway in front of it, with these settings."""
    path = str(tmp_path / "admin.sock")
    loaded = load_settings({"ADMIN_SOCKET": path, "SESSION_SECRET": "s", **settings}, [])
    runner = web.AppRunner(create_app(loaded, db))
    await runner.setup()
    await web.UnixSite(runner, path).start()
    gateway = await Gateway(db, loaded).start()
    try:
        yield gateway
    finally:
        await gateway.close()
        await runner.cleanup()


async def test_admin_api_limits_the_address_the_proxy_resolved(db: Database, tmp_path: Path) -> None:
    trusted = {"TRUSTED_PROXIES": "127.0.0.1/32", "GLOBAL_API_RATE_LIMIT": "2"}
    async with _admin_behind_gateway(db, tmp_path, **trusted) as gateway, aiohttp.ClientSession() as http:
        async def status(client: str) -> int:
            async with http.get(gateway.url + "/api/status", headers={"X-Forwarded-For": client}) as r:
                return r.status

        assert [await status("203.0.113.7") for _ in range(3)] == [200, 200, 429]
        assert await status("203.0.113.8") == 200      # another client behind the trusted proxy: its own window


async def test_admin_answers_through_the_port_carry_one_request_id(db: Database, tmp_path: Path) -> None:
    """admin_api's id passes through unchanged (one id per answer, the one admin_api logged), 404s included."""
    async with _admin_behind_gateway(db, tmp_path) as gateway, aiohttp.ClientSession() as http:
        for route in ("/api/status", "/api/no/such/route", "/api/user/self"):
            async with http.get(gateway.url + route) as r:
                ids = r.headers.getall("X-Oneapi-Request-Id", [])
                assert len(ids) == 1 and len(ids[0]) >= 20, (route, r.status, ids)
