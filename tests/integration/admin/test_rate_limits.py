"""Per-IP rate limits (one-api.md §9.3) in process and in Redis, and whose X-Forwarded-For is believed."""

from __future__ import annotations

import ipaddress
import os
import random
import secrets

import pytest

from admin_api.client_address import resolve
from admin_api.ratelimit import RedisLimiter
from admin_api.state import STATE
from settings.network import LOOPBACK

from .conftest import make_settings, start_api

_HOSTS = iter(random.sample(range(1, 255), 254))   # no address twice in a run: a repeat shares its window


def _ip() -> str:
    return f"198.51.100.{next(_HOSTS)}"


async def _hammer(api, path: str, count: int, ip: str, method: str = "GET", json=None) -> list[int]:
    statuses = []
    for _ in range(count):
        status, _ = await api.call(method, path, headers={"X-Forwarded-For": ip}, json=json)
        statuses.append(status)
    return statuses


async def _check_limits(api) -> None:
    ip, other = _ip(), "203.0.113.9"
    assert await _hammer(api, "/api/status", 26, ip) == [200] * 25 + [429]
    assert await _hammer(api, "/api/status", 1, other) == [200]   # another client, its own window
    login = {"username": "nobody", "password": "password123"}
    api.last_ip = _ip()
    critical = await _hammer(api, "/api/user/login", 21, api.last_ip, "POST", login)
    assert critical[:20] == [200] * 20 and critical[20] == 429


async def test_in_process_limits(db):
    api = await start_api(db, make_settings(debug=False, global_api_rate_limit=25, trusted_proxies=LOOPBACK))
    try:
        await _check_limits(api)
    finally:
        await api.close()
        await api.server.close()


async def test_debug_disables_limits(db):
    api = await start_api(db, make_settings(debug=True, global_api_rate_limit=1))
    try:
        assert await _hammer(api, "/api/status", 3, _ip()) == [200] * 3
    finally:
        await api.close()
        await api.server.close()


async def test_redis_limits(db, backend):
    url = os.environ.get("ONEAPI_TEST_REDIS_URL", "")
    if backend != "sqlite":
        pytest.skip("the limiter does not depend on the database: one backend is enough")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("ONEAPI_TEST_REDIS_URL is not set")
        pytest.skip("ONEAPI_TEST_REDIS_URL not set")
    settings = make_settings(debug=False, global_api_rate_limit=25, redis_conn_string=url, sync_frequency_set=True,
                             trusted_proxies=LOOPBACK)   # the test server is TCP: its client stands in for the proxy
    api = await start_api(db, settings)
    try:
        await _check_limits(api)
        state = api.server.app[STATE]
        assert isinstance(state.limiter, RedisLimiter)
        assert await state.redis.llen(f"rateLimit:CT{api.last_ip}") == 20
        email = f"{secrets.token_hex(4)}@example.com"
        await state.codes.put("v", email, "abc123")
        assert await state.codes.check("v", email, "abc123") and not await state.codes.check("v", email, "zzz")
        await state.codes.forget("v", email)
        assert not await state.codes.check("v", email, "abc123")
    finally:
        await api.close()
        await api.server.close()


def test_forwarded_for_only_from_trusted_peers():
    nginx = (ipaddress.ip_network("10.1.0.0/16"),)
    assert resolve("", "203.0.113.5") == "203.0.113.5"                  # the unix socket's peer: the proxy
    assert resolve("", "203.0.113.5, 10.1.9.9", nginx) == "203.0.113.5"  # nginx behind it, as TRUSTED_PROXIES says
    assert resolve("", "10.9.9.9, 203.0.113.5", nginx) == "203.0.113.5"  # a hop the client made up is not believed
    assert resolve("", None) == "" and resolve("", "garbage") == ""
    assert resolve("127.0.0.1", "203.0.113.5") == "127.0.0.1"            # a local TCP client is not the proxy
    assert resolve("127.0.0.1", "203.0.113.5", LOOPBACK) == "203.0.113.5"
    assert resolve("192.0.2.7", "203.0.113.5") == "192.0.2.7"            # an untrusted peer can't claim an address
    assert resolve("10.1.2.3", "203.0.113.5, 10.1.9.9", nginx) == "203.0.113.5"
    assert resolve("10.1.2.3", "203.0.113.5", ()) == "10.1.2.3"
    assert resolve("127.0.0.1", "garbage", LOOPBACK) == "127.0.0.1"
    assert resolve("::1", None) == "::1"
