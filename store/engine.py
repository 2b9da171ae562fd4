"""Engines and sessions for the main and log databases, built from the settings."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from store.dsn import DatabaseURL, parse_dsn, sqlite_url
from store.models import Base, LogBase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolSettings:
    max_idle: int = 100
    max_open: int = 1000
    max_lifetime: int = 60
    sqlite_busy_timeout: int = 3000
    echo: bool = False


def make_engine(db: DatabaseURL, pool: PoolSettings) -> AsyncEngine:
    """`hide_parameters`: statements are logged (DEBUG_SQL) and errors raised without their bound values,
    which carry token keys, channel keys, access tokens and password hashes."""
    if db.is_sqlite:
        engine = create_async_engine(db.url, echo=pool.echo, hide_parameters=True,
                                     pool_size=max(1, min(pool.max_idle, 10)),
                                     max_overflow=max(0, min(pool.max_open, 50) - 10),
                                     connect_args={"timeout": pool.sqlite_busy_timeout / 1000})
        _SQLITE_WRITE_LOCKS[engine.sync_engine] = asyncio.Lock()
        _sqlite_pragmas(engine, pool.sqlite_busy_timeout)
        return engine
    idle = max(1, min(pool.max_idle, pool.max_open))
    kwargs: dict[str, Any] = dict(echo=pool.echo, hide_parameters=True, pool_pre_ping=True, pool_size=idle,
                                  max_overflow=max(0, pool.max_open - idle))
    if pool.max_lifetime > 0:
        kwargs["pool_recycle"] = pool.max_lifetime
    if db.dialect == "postgresql":
        # One API uses the simple protocol; statement caches break behind pgbouncer-style poolers
        kwargs["connect_args"] = {"statement_cache_size": 0}
    return create_async_engine(db.url, **kwargs)


def _sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


# SQLite has one writer at a time; queueing writers of this process on a lock
# instead of in SQLite's busy handler (which backs off and starves under load)
# keeps the busy timeout for what it is for: other processes.
_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def write_transaction(session: AsyncSession) -> AsyncIterator[None]:
    """`session.begin()` for a transaction that writes; serialised per process on SQLite."""
    bind = session.bind
    lock = _SQLITE_WRITE_LOCKS.get(bind.sync_engine) if bind is not None else None
    if lock is None:
        async with session.begin():
            yield
        return
    async with lock, session.begin():
        yield


class Database:
    """The main engine, the log engine (same one unless LOG_SQL_DSN) and their session factories."""

    def __init__(self, main: DatabaseURL, log_db: DatabaseURL | None = None, pool: PoolSettings | None = None) -> None:
        pool = pool or PoolSettings()
        self.url = main
        self.engine = make_engine(main, pool)
        self.log_url = log_db or main
        self.log_engine = make_engine(log_db, pool) if log_db else self.engine
        self.session = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        self.log_session = async_sessionmaker(self.log_engine, expire_on_commit=False, class_=AsyncSession)

    @classmethod
    def from_dsn(cls, sql_dsn: str = "", log_sql_dsn: str = "", sqlite_path: str = "one-api.db",
                 pool: PoolSettings | None = None) -> Database:
        main = parse_dsn(sql_dsn) if sql_dsn else sqlite_url(sqlite_path)
        return cls(main, parse_dsn(log_sql_dsn) if log_sql_dsn else None, pool)

    @property
    def dialect(self) -> str:
        return self.url.dialect

    async def create_schema(self) -> None:
        """Create missing tables and add missing nullable columns (never drops or alters)."""
        from store import channel_notices, events, leases, sessions  # noqa: F401  (their tables join the metadata)

        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.run_sync(_add_missing_columns, Base.metadata)
        async with self.log_engine.begin() as conn:
            await conn.run_sync(LogBase.metadata.create_all)
            await conn.run_sync(_add_missing_columns, LogBase.metadata)

    async def missing_schema(self) -> list[str]:
        """What `create_schema` would still add: missing tables by name, missing columns as `table.column`
        (a slave node, which never migrates, waits until the master has added them)."""
        from store import channel_notices, events, leases, sessions  # noqa: F401  (their tables join the metadata)

        async with self.engine.connect() as conn:
            missing: list[str] = await conn.run_sync(_missing, Base.metadata)
        async with self.log_engine.connect() as conn:
            missing += await conn.run_sync(_missing, LogBase.metadata)
        return missing

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.log_engine is not self.engine:
            await self.log_engine.dispose()


def _missing(sync_conn: Any, metadata: Any) -> list[str]:
    insp = inspect(sync_conn)
    tables = set(insp.get_table_names())
    missing: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in tables:
            missing.append(table.name)
            continue
        existing = {c["name"] for c in insp.get_columns(table.name)}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in existing and c.nullable]
    return missing


def _add_missing_columns(sync_conn: Any, metadata: Any) -> None:
    """Like GORM's AutoMigrate for added fields: an older table gets our new nullable columns."""
    insp = inspect(sync_conn)
    preparer = sync_conn.dialect.identifier_preparer
    for table in metadata.sorted_tables:
        existing = {c["name"] for c in insp.get_columns(table.name)}
        for column in table.columns:
            if column.name in existing or not column.nullable:
                continue
            ddl_type = column.type.compile(dialect=sync_conn.dialect)
            table_name, column_name = preparer.quote(table.name), preparer.quote(column.name)
            sync_conn.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {column_name} {ddl_type}"))
            log.info("added column %s.%s", table.name, column.name)
