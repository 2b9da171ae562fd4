"""A slave node on a database the master has not migrated yet (#17): it sees what is missing and waits."""

from __future__ import annotations

import asyncio
import logging

import pytest

from startup.database import wait_for_schema
from store import Database
from tests.one_api_ddl import load_one_api_schema


async def test_missing_schema_names_what_the_master_adds(db: Database, backend: str) -> None:
    assert await db.missing_schema() == []
    await load_one_api_schema(db, backend)
    missing = await db.missing_schema()
    assert {"tokens.rpm_limit", "tokens.max_parallel_requests", "users.rpm_limit", "rate_events",
            "rate_scopes", "budget_windows"} <= set(missing)
    assert "tokens.key" not in missing and "users" not in missing
    await db.create_schema()
    assert await db.missing_schema() == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_slave_waits_for_the_master_then_goes_on(db: Database, backend: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    await load_one_api_schema(db, backend)
    caplog.set_level(logging.INFO, "startup.database")
    waiting = asyncio.create_task(wait_for_schema(db, interval=0.01))
    deadline = asyncio.get_running_loop().time() + 10
    while "waiting for the master node" not in caplog.text:
        assert asyncio.get_running_loop().time() < deadline and not waiting.done()
        await asyncio.sleep(0.01)
    assert "missing " in caplog.text and "tokens.rpm_limit" in caplog.text
    await asyncio.sleep(0.05)                       # a few more checks: still waiting, said once
    assert not waiting.done() and caplog.text.count("waiting for the master node") == 1
    await db.create_schema()                        # the master migrates
    await asyncio.wait_for(waiting, 10)
    assert "the master node has migrated the database" in caplog.text
