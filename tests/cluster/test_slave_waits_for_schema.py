"""A slave node started before the master migrated the database (#17): it waits, unready, then serves.

NODE_TYPE=slave never migrates (as One API). On a database One API left (GORM's schema, its rows), the slave
must neither fail nor answer relays with 500s on the columns this version reads (tokens.rpm_limit, ...): it
says once what it waits for, does not listen meanwhile, and serves as soon as the master has migrated."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp
import pytest

from store import Database
from tests.cluster.test_nodes import BODY, Node
from tests.conftest import backend_dsn
from tests.e2e.mock_upstream import MockOpenAI
from tests.one_api_ddl import load_one_api_schema

KEY = "abcdEFGH12345678A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6"


async def _one_api_rows(db: Database, upstream: str) -> None:
    """A user, a token and a channel as One API wrote them, in One API's own schema."""
    rows = [
        "INSERT INTO users (id, username, password, display_name, role, status, quota, `group`, aff_code) "
        "VALUES (1, 'alice', 'x', 'alice', 1, 1, 500000000, 'default', 'Ab1x')",
        "INSERT INTO tokens (id, user_id, `key`, status, name, created_time, accessed_time, expired_time, "
        f"remain_quota, unlimited_quota, used_quota) VALUES (1, 1, '{KEY}', 1, 'k', 1700000000, 1700000000, -1, "
        "5000000, false, 0)",
        "INSERT INTO channels (id, type, `key`, status, name, weight, created_time, base_url, models, `group`, "
        f"model_mapping, priority, config) VALUES (1, 1, 'sk-upstream', 1, 'main', 0, 1700000000, '{upstream}', "
        "'gpt-4o-mini', 'default', '', 0, '{}')",
        "INSERT INTO abilities (`group`, model, channel_id, enabled, priority) VALUES ('default', 'gpt-4o-mini', 1, true, 0)",
    ]
    async with db.engine.begin() as conn:
        for row in rows:
            await conn.exec_driver_sql(row)


async def _logged(workdir: Path, pattern: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = "".join(p.read_text() for p in (workdir / "logs").glob("*.log*"))
        if found := re.search(pattern, text):
            return found.group(0)
        assert time.monotonic() < deadline, f"never logged {pattern!r}"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_a_slave_waits_for_the_master_to_migrate_then_serves(db: Database, upstream: MockOpenAI,
                                                                     tmp_path: Path) -> None:
    await load_one_api_schema(db, "mysql")
    await _one_api_rows(db, upstream.url)
    slave = Node(tmp_path, {"SQL_DSN": backend_dsn("mysql") or "", "NODE_TYPE": "slave"})
    try:
        line = await _logged(tmp_path, r"waiting for the master node to migrate the database: missing [^\n]*")
        assert "tokens.rpm_limit" in line or "rate_events" in line, line
        async with aiohttp.ClientSession() as http:
            for path in ("/api/status", "/v1/chat/completions"):   # not ready: nothing answers, no 500
                with pytest.raises(aiohttp.ClientConnectionError):
                    async with http.post(slave.url + path, json=BODY, headers={"Authorization": KEY}) as r:
                        pytest.fail(f"{path} answered {r.status} before the schema was there")
            assert slave.proc.poll() is None                       # waiting, not failed
            await db.create_schema()                               # the master node migrates
            await asyncio.to_thread(slave.wait)
            async with http.post(slave.url + "/v1/chat/completions", json=BODY,
                                 headers={"Authorization": f"Bearer sk-{KEY}"}) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["choices"][0]["message"]["content"]
        await _logged(tmp_path, "the master node has migrated the database")
    finally:
        assert slave.stop() == 0
    assert len(upstream.requests) == 1
