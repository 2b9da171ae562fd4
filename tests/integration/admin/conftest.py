"""The admin API served over real HTTP on each backend, with a cast of users of every role and state."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import CookieJar, web
from aiohttp.test_utils import TestClient, TestServer, unused_port
from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from admin_api import create_app
from admin_api.jobs import JobTiming
from admin_api.state import STATE
from settings import Settings
from store import Database, DatabaseURL, PoolSettings, ensure_root, hash_password, users
from store.models import ROLE_ADMIN, USER_DISABLED, Base, LogBase
from tests.conftest import _reset, make_database

from .fakes import SmtpInbox

# Our own database on the shared servers, so suites of other packages running at the same time
# (they drop and recreate the tables of the default test database) never pull tables away from us.
# Named after the configured test database, so runs against different test databases never share it.
ADMIN_TEST_DB_SUFFIX = "_admin"

PASSWORD = "password123"
_HASH = hash_password(PASSWORD)


@dataclass
class Person:
    """A seeded user: id, username and system access token."""

    id: int
    username: str
    access_token: str


@dataclass
class AdminApi:
    """Talks to a running admin_api: `call` as anyone, by access token, or through a logged-in client."""

    server: TestServer
    db: Database
    settings: Settings
    people: dict[str, Person] = field(default_factory=dict)
    _clients: list[TestClient] = field(default_factory=list)

    async def client(self) -> TestClient:
        """A client with its own cookie jar (its own session)."""
        client = TestClient(self.server, cookie_jar=CookieJar(unsafe=True))
        await client.start_server()
        self._clients.append(client)
        return client

    async def call(self, method: str, path: str, *, who: str | None = None, client: TestClient | None = None,
                   json: Any = None, data: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        client = client or await self.client()
        headers = dict(headers or {})
        if who is not None:
            headers["Authorization"] = self.people[who].access_token
        async with client.request(method, path, json=json, data=data, headers=headers) as resp:
            body = await resp.json(content_type=None) if resp.content_type == "application/json" else await resp.text()
            return resp.status, body

    async def login(self, who: str, password: str = PASSWORD) -> TestClient:
        client = await self.client()
        status, body = await self.call("POST", "/api/user/login", client=client,
                                       json={"username": self.people[who].username, "password": password})
        assert status == 200 and body["success"], body
        return client

    async def add_user(self, name: str, role: int = 1, status: int = 1) -> Person:
        async with self.db.session() as s:
            user = await users.create(s, users.NewUser(username=name, password_hash=_HASH, role=role),
                                      users.Bonuses())
        if status != 1:
            async with self.db.session() as s:
                await users.update_fields(s, user.id, {"status": status})
        person = Person(user.id, name, user.access_token or "")
        self.people[name] = person
        return person

    async def close(self) -> None:
        for client in self._clients:
            await client.close()


def make_settings(**changes: Any) -> Settings:
    base = Settings(debug=True, session_secret="test-secret", port=unused_port(), polling_interval=0)
    return base.with_(**changes)


def fast_jobs(app: web.Application) -> None:
    """`start_api(..., prepare=fast_jobs)`: leases of 1 s, rows looked at every 50 ms, notices every 100 ms."""
    app[STATE].job_timing = JobTiming(lease_ttl=1.0, poll=0.05, notice_every=0.1)


async def eventually(check: Callable[[], Any], seconds: float = 5.0) -> Any:
    """Poll `check` (plain or async) every 20 ms until it is truthy, and return its value."""
    for _ in range(int(seconds / 0.02)):
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {seconds} s")


async def start_api(db: Database, settings: Settings,
                    prepare: Callable[[web.Application], None] | None = None) -> AdminApi:
    """admin_api on `db` over real HTTP; `prepare` may adjust the application before it starts."""
    async with db.session() as s:
        root = await ensure_root(s)
    if root is None:   # a second admin_api on the same database
        async with db.session() as s:
            root = await users.first_root(s)
    app = create_app(settings, db)
    if prepare is not None:
        prepare(app)
    server = TestServer(app)
    await server.start_server()
    api = AdminApi(server, db, settings)
    assert root is not None
    api.people["root"] = Person(root.id, "root", root.access_token or "")
    async with db.session() as s:
        await users.update_fields(s, root.id, {"password": _HASH})
    return api


async def _own_database(url: DatabaseURL) -> DatabaseURL:
    name = f"{make_url(url.url).database}{ADMIN_TEST_DB_SUFFIX}"
    target = make_url(url.url).set(database=name)
    engine = create_async_engine(url.url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            if url.dialect == "mysql":
                await conn.execute(text(f"CREATE DATABASE IF NOT EXISTS {name}"))
            elif not (await conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                         {"n": name})).first():
                await conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await engine.dispose()
    return DatabaseURL(url.dialect, target.render_as_string(hide_password=False))


_SCHEMA_READY: set[str] = set()


async def _empty(db: Database) -> None:
    """Delete every row: much faster than dropping and recreating the tables on MySQL."""
    for engine, metadata in ((db.engine, Base.metadata), (db.log_engine, LogBase.metadata)):
        async with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(table.delete())


@pytest.fixture
async def db(backend: str, tmp_path) -> AsyncIterator[Database]:
    """Like the shared `db` fixture (every backend), on a database of this suite's own.

    The schema is made once per backend and run; later tests start from empty tables.
    """
    pool = PoolSettings(max_idle=20, max_open=60)
    shared = make_database(backend, tmp_path, pool)
    if backend != "sqlite":
        url = await _own_database(shared.url)
        await shared.dispose()
        shared = Database(url, pool=pool)
    if backend in _SCHEMA_READY:
        await _empty(shared)
    else:
        await _reset(shared)
        if backend != "sqlite":
            _SCHEMA_READY.add(backend)
    try:
        yield shared
    finally:
        await shared.dispose()


@pytest.fixture
async def api(db: Database) -> AsyncIterator[AdminApi]:
    """admin_api on the backend with root, an admin, two users, a disabled and a deleted user."""
    api = await start_api(db, make_settings())
    await api.add_user("admin", role=ROLE_ADMIN)
    await api.add_user("alice")
    await api.add_user("bob")
    await api.add_user("mallory", status=USER_DISABLED)
    gone = await api.add_user("ghost")
    async with db.session() as s:
        await users.soft_delete(s, gone.id)
    try:
        yield api
    finally:
        await api.close()
        await api.server.close()


@pytest.fixture
def smtp() -> Any:
    """A real SMTP server on 127.0.0.1 whose inbox the test reads."""
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=unused_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()
