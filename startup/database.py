"""The database every process opens from the settings, and the launcher's one-time preparation of it."""

from __future__ import annotations

import logging

from settings import Settings
from startup.dsns import check_dsns
from store import Database, PoolSettings, ensure_root

log = logging.getLogger(__name__)
__all__ = ["check_dsns", "database_for", "prepare_database"]


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
