"""Id sequences moved past rows inserted with explicit ids.

MySQL and SQLite move their counters past an explicit id by themselves; PostgreSQL's serial sequence does
not, so the next row that takes the default id collides with the seeded one.
"""

from __future__ import annotations

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession


async def advance_id_sequence(session: AsyncSession, table: Table) -> None:
    """On PostgreSQL, make the next default `id` of `table` follow its largest id (inside the caller's transaction)."""
    if (await session.connection()).dialect.name != "postgresql":
        return
    name = table.name   # one of our models' names, never user input
    await session.execute(text(
        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"))
