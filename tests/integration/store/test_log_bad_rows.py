"""One bad consume log row never stops logging: values are fitted to the columns, a refused row is dropped alone."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from proxy.gateway.logwriter import LOG_COLUMNS, LogRow, LogWriter
from store import Database
from store.bulk import insert_rows
from store.models import Log
from store.rejects import rejected_for_values

INT32 = 2**31 - 1


def good(i: int) -> LogRow:
    return LogRow(3, 1_700_000_000 + i, 2, "倍率：1.00 × 1.00", "carol", "t", "gpt-4o-mini", 7 + i, 5, i, 2, f"r{i}",
                  9, False, False, "upstream")


async def rows_written(db: Database) -> list[Log]:
    async with db.log_session() as s:
        return list((await s.execute(select(Log).order_by(Log.id))).scalars())


async def test_values_outside_the_columns_are_fitted_and_noted(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Quota 10^10 from an upstream, a 300-character model name, a NUL: written, clamped, the clamp recorded."""
    writer = LogWriter(db, interval=60)
    writer.add(good(0))
    writer.add(good(1)._replace(quota=10**10, prompt_tokens=10**10, model_name="m" * 300))
    writer.add(good(2)._replace(token_name="a\x00b", usage_source="x" * 40, completion_tokens=-(2**40)))
    writer.add(good(3))
    with caplog.at_level(logging.WARNING, logger="proxy.gateway.logwriter"):
        writer.add(good(4)._replace(request_id="big", quota=2**70))
    await writer.close()
    got = await rows_written(db)
    assert [r.request_id for r in got] == ["r0", "r1", "r2", "r3", "big"] and writer.pending == []
    assert (got[1].quota, got[1].prompt_tokens, got[1].model_name) == (INT32, INT32, "m" * 191)
    assert got[1].content == ("倍率：1.00 × 1.00 [clamped to the column: quota 10000000000 → 2147483647; "
                              "prompt_tokens 10000000000 → 2147483647; model_name 300 chars → 191]")
    assert (got[2].token_name, got[2].usage_source, got[2].completion_tokens) == ("ab", "x" * 16, -(2**31))
    assert "token_name: NUL" in got[2].content and "usage_source 40 chars → 16" in got[2].content
    assert got[4].quota == INT32 and [r.content for r in (got[0], got[3])] == ["倍率：1.00 × 1.00"] * 2
    assert any("request big" in r.getMessage() and "quota 1180591620717411303424 → 2147483647" in r.getMessage()
               for r in caplog.records)


async def test_a_refused_row_among_good_ones_is_dropped_alone(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """A row the database refuses (put past the fitting here) costs only itself: every good row is written."""
    writer = LogWriter(db, interval=60)
    rows = [good(i) for i in range(40)]
    rows[13] = rows[13]._replace(quota=10**30, request_id="bad")   # refused everywhere (SQLite: int too large)
    writer.pending.extend(rows)
    with caplog.at_level(logging.ERROR, logger="proxy.gateway.logwriter"):
        await writer.close()
    got = await rows_written(db)
    assert [r.request_id for r in got] == [r.request_id for r in rows if r.request_id != "bad"]
    assert writer.pending == []
    assert sum("dropping a consume log row" in r.getMessage() for r in caplog.records) == 1


async def test_logging_goes_on_after_a_refused_row(db: Database) -> None:
    """The next batches are written too (before, every later batch failed behind the stuck row)."""
    writer = LogWriter(db, interval=60)
    writer.pending.append(good(0)._replace(model_name="\ud800", quota=10**30))
    await writer.flush()
    writer.add(good(1))
    await writer.flush()
    assert [r.request_id for r in await rows_written(db)] == ["r1"]


async def test_a_database_that_is_down_keeps_the_batch(db: Database) -> None:
    """A failure that is not about the values drops nothing: the rows wait for the next flush."""
    writer = LogWriter(db, interval=60)
    writer.add(good(0))
    async with db.log_engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE logs")
    with pytest.raises(Exception) as failed:
        await writer.flush()
    assert not rejected_for_values(failed.value) and len(writer.pending) == 1
    await db.create_schema()
    await writer.flush()
    assert [r.request_id for r in await rows_written(db)] == ["r0"]


@pytest.mark.parametrize("bad, refused_by", [
    ({"quota": 10**30}, "sqlite mysql postgres"), ({"model_name": "a\ud800"}, "sqlite mysql postgres"),
    ({"model_name": "m" * 300}, "mysql postgres"), ({"token_name": "a\x00"}, "postgres")])
async def test_the_database_refusals_are_recognised(db: Database, backend: str, bad: dict[str, object],
                                                    refused_by: str) -> None:
    if backend not in refused_by.split():
        pytest.skip(f"{backend} takes {bad}")
    with pytest.raises(Exception) as failed:
        async with db.log_session() as s, s.begin():
            await insert_rows(s, Log.__table__, LOG_COLUMNS, [good(0)._replace(**bad)])
    assert rejected_for_values(failed.value)
