"""Shared fixtures: the store on every real database the environment provides.

`scripts/services` starts MariaDB and PostgreSQL and exports their DSNs
(ONEAPI_TEST_MYSQL_DSN, ONEAPI_TEST_PG_DSN). Under CI a missing server is an
error, not a skip: a store test that only ran on SQLite proves little.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from store import Database, PoolSettings, parse_dsn, sqlite_url
from store.models import Base, LogBase
from tests.e2e.mock_upstream import MockOpenAI

BACKENDS = ("sqlite", "mysql", "postgres")
_ENV = {"mysql": "ONEAPI_TEST_MYSQL_DSN", "postgres": "ONEAPI_TEST_PG_DSN"}
_LOG_ENV = {"mysql": "ONEAPI_TEST_MYSQL_LOG_DSN", "postgres": "ONEAPI_TEST_PG_LOG_DSN"}


def backend_dsn(backend: str) -> str | None:
    dsn = os.environ.get(_ENV[backend], "")
    if not dsn:
        if os.environ.get("CI"):
            pytest.fail(f"{_ENV[backend]} is not set: run scripts/services start (CI must test every backend)")
        pytest.skip(f"{_ENV[backend]} not set (run: eval \"$(scripts/services env)\")")
    return dsn


async def _reset(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    async with db.log_engine.begin() as conn:
        await conn.run_sync(LogBase.metadata.drop_all)
    await db.create_schema()


def make_database(backend: str, tmp_path: Path, pool: PoolSettings | None = None) -> Database:
    if backend == "sqlite":
        return Database(sqlite_url(str(tmp_path / "one-api.db")), pool=pool)
    return Database(parse_dsn(backend_dsn(backend)), pool=pool)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty One API schema on the parametrised backend."""
    database = make_database(backend, tmp_path, PoolSettings(max_idle=20, max_open=60))
    await _reset(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def upstream() -> AsyncIterator[MockOpenAI]:
    """A local OpenAI-style upstream (real HTTP on 127.0.0.1) for any test that relays; a module may define its own."""
    mock = await MockOpenAI().start()
    yield mock
    await mock.close()
