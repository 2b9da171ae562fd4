"""startup/logs.py: the request id on every record, JSON lines, and rotation while several processes append."""

from __future__ import annotations

import json
import logging
import logging.handlers
import multiprocessing
from contextvars import ContextVar
from pathlib import Path

from startup import logs
from startup.logs import (
    FORMAT,
    AppendFileHandler,
    JsonFormatter,
    LineHandler,
    LineSink,
    RequestIdFilter,
    SharedFormatter,
    SizeRotator,
)


def _record(msg: str = "hello", **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("one-api.test", logging.INFO, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def test_request_id_filter_takes_the_context_variable_or_a_dash() -> None:
    var: ContextVar[str] = ContextVar("rid", default="")
    ids = RequestIdFilter(var)
    record = _record()
    assert ids.filter(record) and record.request_id == "-"
    token = var.set("2024010112000012345678")
    try:
        record = _record()
        ids.filter(record)
        assert logging.Formatter(FORMAT).format(record).endswith("[2024010112000012345678] one-api.test: hello")
        explicit = _record(request_id="from-extra")         # an explicit extra wins over the variable
        ids.filter(explicit)
        assert explicit.request_id == "from-extra"
    finally:
        var.reset(token)
    record = _record()
    RequestIdFilter(None).filter(record)                    # admin_api and the launcher: no variable
    assert record.request_id == "-"


def test_json_lines_carry_the_request_id_and_the_access_fields() -> None:
    record = _record("POST /v1/chat/completions 200", request_id="r-1",
                     fields={"status": 200, "channel_id": 3, "elapsed_ms": 12})
    line = JsonFormatter().format(record)
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["request_id"] == "r-1" and obj["status"] == 200 and obj["channel_id"] == 3
    assert obj["level"] == "INFO" and obj["logger"] == "one-api.test" and obj["message"].startswith("POST")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = _record("failed", request_id="-", exc_info=sys.exc_info())
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exception"]


def test_rotator_shifts_backups_and_keeps_at_most_backup_count(tmp_path: Path) -> None:
    path = tmp_path / "oneapi.log"
    rotator = SizeRotator(path, max_bytes=10, backup_count=2)
    assert not rotator.check()                              # no file yet
    for n in range(1, 4):
        path.write_text(f"generation {n} " * 2)
        assert rotator.check()
    assert not path.exists()
    assert (tmp_path / "oneapi.log.1").read_text().startswith("generation 3")
    assert (tmp_path / "oneapi.log.2").read_text().startswith("generation 2")
    assert not (tmp_path / "oneapi.log.3").exists()
    path.write_text("small")
    assert not rotator.check()


def test_a_record_is_formatted_once_for_both_handlers() -> None:
    shared, other = SharedFormatter("%(message)s %(request_id)s"), SharedFormatter("%(message)s")
    record = _record(request_id="r")
    first = shared.format(record)
    record.request_id = "changed"            # a second handler with the same formatter reuses the line
    assert shared.format(record) is first == "hello r"
    assert other.format(record) == "hello"   # another formatter formats for itself


def test_a_sink_line_is_the_line_a_record_gives_and_reaches_every_handler(tmp_path: Path) -> None:
    """The access log's fast path (LineSink) writes what logging would, text and JSON, to each handler."""
    fields = {"method": "POST", "status": 200, "elapsed_ms": 7, "request_id": "r-9"}
    for formatter in (SharedFormatter(FORMAT), JsonFormatter()):
        record = _record("POST 200 7ms", request_id="r-9", fields=fields, created=1767225600.25,
                         msecs=250.0, processName="proxy-0", name="one-api.access")
        line = formatter.line(1767225600.25, "INFO", "proxy-0", "r-9", "one-api.access", "POST 200 7ms", fields)
        assert line == formatter.format_once(record)
        assert "[r-9] one-api.access: POST 200 7ms" in line or json.loads(line)["status"] == 200

    files = [tmp_path / "a.log", tmp_path / "b.log"]
    handlers: list[LineHandler] = [AppendFileHandler(files[0]), LineHandler(files[1].open("a"))]
    sink = LineSink("one-api.access-test", SharedFormatter(FORMAT), handlers)
    logging.getLogger("one-api.access-test").setLevel(logging.INFO)
    assert sink.enabled()
    sink("GET /v1/models 200", "r-1", {})
    for handler in handlers:
        handler.flush()
    assert [f.read_text().count("[r-1] one-api.access-test: GET /v1/models 200\n") for f in files] == [1, 1]
    logging.getLogger("one-api.access-test").setLevel(logging.WARNING)   # silencing the logger silences the sink
    assert not sink.enabled()


def _writer(path: str, name: str, lines: int) -> None:
    logs.REOPEN_CHECK = 0.001                # notice the launcher's renames quickly: many rotations in the test
    handler = AppendFileHandler(Path(path))
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger(f"writer-{name}")
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    log.propagate = False
    for i in range(lines):   # INFO lines wait in the buffer (flushed by a thread or at exit), warnings go at once
        log.log(logging.INFO if i % 2 else logging.WARNING, "%s %06d %s", name, i, "x" * 100)


def test_several_processes_append_while_the_launcher_rotates_and_no_line_is_lost_or_torn(tmp_path: Path) -> None:
    path = tmp_path / "oneapi.log"
    rotator = SizeRotator(path, max_bytes=64 * 1024, backup_count=1000)
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_writer, args=(str(path), f"w{n}", 5000)) for n in range(3)]
    for w in writers:
        w.start()
    rotations = 0
    while any(w.is_alive() for w in writers):
        rotations += rotator.check()
    for w in writers:
        w.join()
        assert w.exitcode == 0
    files = [path, *tmp_path.glob("oneapi.log.*")]
    lines = [line for f in files if f.exists() for line in f.read_text().splitlines()]
    assert rotations >= 5
    assert len(lines) == 3 * 5000
    assert all(len(line) == len("w0 000000 ") + 100 for line in lines)       # no line torn or interleaved
    assert {line[:9] for line in lines} == {f"w{n} {i:06d}" for n in range(3) for i in range(5000)}


def test_debug_raises_our_loggers_only_and_debug_sql_logs_statements_not_rows() -> None:
    from settings import Settings

    def effective(levels: dict[str, int], name: str) -> int:
        while name not in levels:
            name = name.rpartition(".")[0]
        return levels[name]

    debug = logs.log_levels(Settings(debug=True, debug_sql=True))
    assert effective(debug, "proxy.core.pipeline") == logging.DEBUG
    assert effective(debug, "admin_api.routes.tokens") == logging.DEBUG
    for driver in ("aiosqlite", "aiomysql", "asyncpg"):       # they print every statement's bound values
        assert effective(debug, driver) == logging.INFO
    assert effective(debug, "sqlalchemy.engine.Engine") == logging.INFO   # statements; rows are DEBUG
    quiet = logs.log_levels(Settings())
    assert effective(quiet, "proxy") == logging.INFO and effective(quiet, "sqlalchemy.engine") == logging.WARNING
