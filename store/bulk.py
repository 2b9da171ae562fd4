"""Many rows into one table at the driver level: the background log writer's path.

SQLAlchemy's Core executemany processes every parameter of every row in Python
(about 3 µs a row of a 16-column log row, on the worker's event-loop thread);
here the INSERT is compiled once per dialect and column list, and the rows go to
the driver as plain tuples (one executemany; on SQLite, multi-row statements). Only for values
the drivers take as they are: int, str, bool, float and None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

SQLITE_MAX_VARIABLES = 8000   # far below SQLite's 32 766 bound parameters per statement
_COMPILED: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[str, ...]]] = {}


def compiled_insert(table: Table, dialect: Any, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """(SQL in the dialect's own parameter style, the bind names in positional order), built once."""
    key = (dialect.name, table.name, columns)
    found = _COMPILED.get(key)
    if found is None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(columns), for_executemany=True)
        order = tuple(compiled.positiontup or columns)
        missing = set(order) - set(columns)
        if missing:   # a column with a Python-side default: the driver would get no value for it
            raise ValueError(f"insert into {table.name} needs values for {sorted(missing)}")
        found = _COMPILED[key] = (str(compiled), order)
    return found


def _values_tuple(sql: str) -> str:
    """The `(?, ?, ...)` group of a compiled single-row INSERT."""
    return sql[sql.index(" VALUES ") + 8:]


async def insert_rows(session: AsyncSession, table: Table, columns: tuple[str, ...],
                      rows: Sequence[Sequence[Any]]) -> None:
    """Insert `rows` (each a tuple in `columns` order) inside the session's transaction."""
    if not rows:
        return
    conn = await session.connection()
    sql, order = compiled_insert(table, conn.dialect, columns)
    if order != columns:
        at = [columns.index(name) for name in order]
        rows = [tuple(row[i] for i in at) for row in rows]
    if conn.dialect.name != "sqlite":
        await conn.exec_driver_sql(sql, list(rows))   # aiomysql and asyncpg batch an executemany themselves
        return
    # sqlite3's executemany runs one statement per row and takes the GIL back after each: with the event loop
    # busy that is a thread switch per row. Multi-row VALUES: one statement, the GIL released for all of it.
    group = _values_tuple(sql)
    head = sql[: len(sql) - len(group)]
    start = 0
    for size in statement_sizes(len(rows), len(columns)):
        part = rows[start:start + size]
        start += size
        await conn.exec_driver_sql(head + ", ".join([group] * size), tuple(v for row in part for v in row))


def statement_sizes(count: int, width: int) -> list[int]:
    """How many rows each multi-row INSERT takes: powers of two only, so a connection's statement cache holds
    a few statements (every distinct row count would be another prepared statement, kept until evicted)."""
    largest = 1 << max(0, (SQLITE_MAX_VARIABLES // width).bit_length() - 1)
    sizes = [largest] * (count // largest)
    rest = count % largest
    sizes += [1 << bit for bit in range(rest.bit_length() - 1, -1, -1) if rest >> bit & 1]
    return sizes
