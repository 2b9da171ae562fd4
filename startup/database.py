"""The database every process opens from the settings, and the launcher's one-time preparation of it."""

from __future__ import annotations

import logging

from settings import Settings, SettingsError
from store import Database, DSNError, PoolSettings, ensure_root, parse_dsn

log = logging.getLogger(__name__)


def check_dsns(settings: Settings) -> None:
    """SQL_DSN and LOG_SQL_DSN parse, or start-up stops with one line naming the variable (not the first query)."""
    for name, dsn in (("SQL_DSN", settings.sql_dsn), ("LOG_SQL_DSN", settings.log_sql_dsn)):
        if dsn:
            try:
                parse_dsn(dsn)
            except DSNError as e:
                raise SettingsError(f"{name}: {e}") from None


def database_for(settings: Settings) -> Database:
    pool = PoolSettings(max_idle=settings.sql_max_idle_conns, max_open=settings.sql_max_open_conns,
                        max_lifetime=settings.sql_max_lifetime, sqlite_busy_timeout=settings.sqlite_busy_timeout,
                        echo=settings.debug_sql)
    return Database.from_dsn(settings.sql_dsn, settings.log_sql_dsn, settings.sqlite_path, pool)


async def prepare_database(settings: Settings) -> None:
    """Schema on master nodes only (as One API), the root account on every node."""
    db = database_for(settings)
    try:
        if settings.is_master:
            await db.create_schema()
            log.info("database schema ready (%s)", db.dialect)
        else:
            log.info("slave node: schema migration skipped")
        async with db.session() as session:
            root = await ensure_root(session, initial_root_token=settings.initial_root_token,
                                     initial_root_access_token=settings.initial_root_access_token)
        if root is not None:
            log.info("created the root account (username root, password 123456): change the password")
    finally:
        await db.dispose()
