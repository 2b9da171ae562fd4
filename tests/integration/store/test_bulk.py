"""Driver-level bulk inserts (the consume log writer's path) on every backend: the rows as written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from store import Database
from store.bulk import SQLITE_MAX_VARIABLES, insert_rows, statement_sizes
from store.models import Log

COLUMNS = ("user_id", "created_at", "type", "content", "username", "token_name", "model_name", "quota",
           "prompt_tokens", "completion_tokens", "channel_id", "request_id", "elapsed_time", "is_stream",
           "system_prompt_reset", "usage_source")


async def test_rows_arrive_as_given(db: Database) -> None:
    rows = [(7, 1_700_000_000 + i, 2, f"倍率：0.07 × 1.00 × 4.00 #{i}", "alice", "t1", "gpt-4o-mini", 100 + i, 12, i,
             3, f"req{i}", 15, i % 2 == 0, False, "upstream" if i else None) for i in range(250)]
    async with db.log_session() as s, s.begin():
        await insert_rows(s, Log.__table__, COLUMNS, rows)
    async with db.log_session() as s:
        got = (await s.execute(select(*(getattr(Log, c) for c in COLUMNS)).order_by(Log.id))).all()
    assert [tuple(r) for r in got] == rows


async def test_columns_in_any_order(db: Database) -> None:
    reordered = COLUMNS[::-1]
    row = dict(zip(COLUMNS, (1, 5, 2, "c", "bob", "t", "m", 9, 1, 2, 4, "r", 3, True, True, "counted"), strict=True))
    async with db.log_session() as s, s.begin():
        await insert_rows(s, Log.__table__, reordered, [tuple(row[c] for c in reordered)])
    async with db.log_session() as s:
        log = (await s.execute(select(Log))).scalar_one()
    assert {c: getattr(log, c) for c in COLUMNS} == row


async def test_a_missing_defaulted_column_is_refused_before_writing(db: Database) -> None:
    with pytest.raises(ValueError, match="needs values"):
        async with db.log_session() as s, s.begin():
            await insert_rows(s, Log.__table__, ("user_id", "content"), [(1, "x")])
    async with db.log_session() as s:
        assert (await s.execute(select(Log))).first() is None


async def test_a_failed_batch_leaves_nothing(db: Database) -> None:
    rows = [(1, 1, 2, "ok", "a", "t", "m", 1, 1, 1, 1, "r", 1, False, False, None),
            (1, 1, 2, "bad", "a", "t", "m", object(), 1, 1, 1, "r", 1, False, False, None)]
    with pytest.raises(Exception):   # noqa: B017 - each driver raises its own error for an unencodable value
        async with db.log_session() as s, s.begin():
            await insert_rows(s, Log.__table__, COLUMNS, rows)
    async with db.log_session() as s:
        assert (await s.execute(select(Log))).first() is None


def test_sqlite_statements_come_in_a_few_sizes() -> None:
    """Every distinct row count would be one more prepared statement in each connection's cache."""
    seen: set[int] = set()
    for count in range(0, 3000, 7):
        sizes = statement_sizes(count, len(COLUMNS))
        assert sum(sizes) == count
        assert all(size & (size - 1) == 0 and size * len(COLUMNS) <= SQLITE_MAX_VARIABLES for size in sizes)
        seen.update(sizes)
    assert len(seen) <= 9
    assert statement_sizes(3, SQLITE_MAX_VARIABLES + 1) == [1, 1, 1]    # a row wider than the bound: one by one


async def test_the_log_writer_flushes_its_rows_on_close(db: Database) -> None:
    """The consume log's own writer (named-tuple rows, background batches) on every backend."""
    from proxy.gateway.logwriter import LOG_COLUMNS, LogRow, LogWriter

    writer = LogWriter(db, interval=60)
    writer.start()
    rows = [LogRow(3, 1_700_000_000, 2, "倍率：1.00 × 1.00", "carol", "t", "gpt-4o-mini", 7 + i, 5, i, 2, f"r{i}",
                   9, bool(i % 2), False, "counted") for i in range(300)]
    for row in rows:
        writer.add(row)
    await writer.close()          # long before the 60 s interval: close() writes what is pending
    async with db.log_session() as s:
        got = (await s.execute(select(*(getattr(Log, c) for c in LOG_COLUMNS)).order_by(Log.id))).all()
    assert [tuple(r) for r in got] == [tuple(r) for r in rows] and writer.pending == []
