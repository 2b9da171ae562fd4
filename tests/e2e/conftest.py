"""Fixtures: a scripted OpenAI mock upstream and the real gateway in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from store import Database
from tests.e2e.harness import Gateway
from tests.e2e.mock_providers import ProviderMock
from tests.e2e.sdk_clients import close_opened


@pytest.fixture
async def mock() -> AsyncIterator[ProviderMock]:
    """A provider mock with no routes; a test adds the upstream it plays (a module may define its own)."""
    server = await ProviderMock().start()
    yield server
    await server.close()


@pytest.fixture(autouse=True)
async def _close_sdk_clients() -> AsyncIterator[None]:
    """The SDK clients a test opened (tests.e2e.sdk_clients) are closed while its event loop runs."""
    yield
    await close_opened()


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """End-to-end tests run on SQLite by default; the concurrency tests add MariaDB explicitly."""
    return request.param


@pytest.fixture
async def gateway(db: Database) -> AsyncIterator[Gateway]:
    gw = await Gateway(db).start()
    yield gw
    await gw.close()
