"""Fixtures: a scripted OpenAI mock upstream and the real gateway in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from store import Database
from tests.e2e.harness import Gateway
from tests.e2e.mock_upstream import MockOpenAI


@pytest.fixture
async def upstream() -> AsyncIterator[MockOpenAI]:
    mock = await MockOpenAI().start()
    yield mock
    await mock.close()


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """End-to-end tests run on SQLite by default; the concurrency tests add MariaDB explicitly."""
    return request.param


@pytest.fixture
async def gateway(db: Database) -> AsyncIterator[Gateway]:
    gw = await Gateway(db).start()
    yield gw
    await gw.close()
