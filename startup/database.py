"""The database every process opens from the settings, and the launcher's one-time preparation of it."""

from __future__ import annotations

import asyncio
import logging

from settings import Settings
from startup.dsns import check_dsns
from store import Database, PoolSettings, ensure_root

log = logging.getLogger(__name__)
__all__ = ["check_dsns", "database_for", "prepare_database", "wait_for_schema"]
SHOWN = 8    # missing tables and columns named in the waiting line


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
            await wait_for_schema(db)
        async with db.session() as session:
            root = await ensure_root(session, initial_root_token=settings.initial_root_token,
                                     initial_root_access_token=settings.initial_root_access_token)
        if root is not None:
            log.info("created the root account (username root, password 123456): change the password")
    finally:
        await db.dispose()


async def wait_for_schema(db: Database, interval: float = 1.0) -> None:
    """A slave never migrates (as One API): until the master has added every table and column this version
    reads, it waits here, so its workers and admin_api do not listen yet (not ready) instead of answering 500s."""
    said = False
    while missing := await db.missing_schema():
        if not said:
            more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
            log.warning("waiting for the master node to migrate the database: missing %s%s",
                        ", ".join(missing[:SHOWN]), more)
            said = True
        await asyncio.sleep(interval)
    if said:
        log.info("the master node has migrated the database: starting")
