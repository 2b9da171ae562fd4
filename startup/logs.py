"""Logging to stdout and to a file under --log-dir (named as One API names it), with the request id on every line.

Several processes (admin_api, the proxy workers, the launcher) append to one
file. Python's RotatingFileHandler is unsafe there: each process rolls the file
over on its own, renaming files under the others' open descriptors, so lines
land in the wrong backup or are lost, and files rotate several times per limit.
Instead every process appends with `AppendFileHandler` (a WatchedFileHandler:
O_APPEND, reopened when the path names a new file) and only the launcher
rotates, by renaming (`SizeRotator`): no process ever truncates or renames a
file another one is writing, and a line written just before a reopen lands,
whole, in the backup.

A relay request logs one access line, so a line's cost is on the hot path: no
caller lookup (no format prints file or line), one formatting shared by both
handlers, the file's identity checked at most every REOPEN_CHECK seconds, and
no flush (a write system call per handler) per INFO line: those are flushed by
a background thread within FLUSH_EVERY; warnings and errors are flushed at once.
"""

from __future__ import annotations

import datetime
import logging
import logging.handlers
import multiprocessing
import os
import sys
import threading
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TextIO

import orjson

from settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(processName)s [%(request_id)s] %(name)s: %(message)s"
MAX_BYTES = 100 * 1024 * 1024
BACKUP_COUNT = 10
REOPEN_CHECK = 0.5      # seconds between checks that the path still names our file (one stat)
FLUSH_EVERY = 0.2       # seconds an INFO line may wait in a buffer before it is written
OWN_LOGGERS = ("one-api", "proxy", "admin_api", "store", "settings", "startup", "launcher", "rules", "__main__")


def log_file_path(settings: Settings) -> Path:
    name = "oneapi.log" if settings.only_one_log_file else f"oneapi-{time.strftime('%Y%m%d')}.log"
    return Path(settings.log_dir) / name


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record: the relay flow's id in the proxy, "-" outside a request."""

    def __init__(self, current: ContextVar[str] | None = None) -> None:
        super().__init__()
        self.current = current

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):   # an explicit extra={"request_id": ...} wins
            record.request_id = (self.current.get() if self.current is not None else "") or "-"
        return True


class SharedFormatter(logging.Formatter):
    """Formats a record once for every handler that shares this formatter (stdout and the file).

    `line` builds the same text from plain values, for `LineSink` (no LogRecord at all).
    """

    def __init__(self, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._second, self._prefix = -1, ""

    def format(self, record: logging.LogRecord) -> str:
        cached = record.__dict__.get("_one_api_line")
        if cached is not None and cached[0] is self:
            text: str = cached[1]
            return text
        line = self.format_once(record)
        record._one_api_line = (self, line)
        return line

    def format_once(self, record: logging.LogRecord) -> str:
        return super().format(record)

    def line(self, created: float, level: str, process: str, request_id: str, name: str, message: str,
             fields: dict[str, Any]) -> str:
        """FORMAT's text for these values (a test holds it equal to formatting a record)."""
        return f"{self.time_text(created)} {level} {process} [{request_id}] {name}: {message}"

    def time_text(self, created: float) -> str:
        """logging's default time format, its date-and-seconds part computed once a second."""
        second = int(created)
        if second != self._second:
            self._second, self._prefix = second, time.strftime(self.default_time_format, self.converter(second))
        return (self.default_msec_format or "%s,%03d") % (self._prefix, int((created - second) * 1000))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self.time_text(record.created)


class JsonFormatter(SharedFormatter):
    """LOG_FORMAT=json: one object per line; a record's `fields` extra (the access log's) become keys."""

    def format_once(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        out = self._object(record.created, record.levelname, record.processName or "",
                           getattr(record, "request_id", "-"), record.name, record.getMessage(),
                           fields if isinstance(fields, dict) else {})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()

    def line(self, created: float, level: str, process: str, request_id: str, name: str, message: str,
             fields: dict[str, Any]) -> str:
        return orjson.dumps(self._object(created, level, process, request_id, name, message, fields),
                            default=str).decode()

    @staticmethod
    def _object(created: float, level: str, process: str, request_id: str, name: str, message: str,
                fields: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(created).astimezone().isoformat(timespec="milliseconds"),
            "level": level, "process": process, "logger": name, "request_id": request_id, "message": message}
        out.update(fields)
        return out


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that flushes only warnings and errors at once (the flusher thread does the rest),
    and takes finished lines from `LineSink` as well as records."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(self.format(record), urgent=record.levelno >= logging.WARNING)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write_line(self, line: str, urgent: bool = False) -> None:
        with self.lock:  # type: ignore[union-attr]
            self.stream.write(line + self.terminator)
            if urgent:
                self.flush()


class AppendFileHandler(LineHandler, logging.handlers.WatchedFileHandler):
    """Appends (O_APPEND); reopens when the launcher has renamed the file away, noticed within REOPEN_CHECK."""

    def __init__(self, filename: Path, encoding: str = "utf-8") -> None:
        logging.handlers.WatchedFileHandler.__init__(self, filename, encoding=encoding)
        self._next_check = 0.0

    def write_line(self, line: str, urgent: bool = False) -> None:
        with self.lock:  # type: ignore[union-attr]
            now = time.monotonic()
            if now >= self._next_check:   # a reopen flushes what is buffered into the renamed file first
                self._next_check = now + REOPEN_CHECK
                self.reopenIfNeeded()
            if self.stream is None:
                self.stream = self._open()
            super().write_line(line, urgent)


class LineSink:
    """One logger's INFO lines written straight to the handlers, formatted as every other line but without a
    LogRecord, its filters and its %-formatting: the access log's path (a line per relay request)."""

    def __init__(self, name: str, formatter: SharedFormatter, handlers: list[LineHandler]) -> None:
        self.logger = logging.getLogger(name)
        self.formatter, self.handlers = formatter, handlers
        self.process = multiprocessing.current_process().name

    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def __call__(self, message: str, request_id: str, fields: dict[str, Any]) -> None:
        line = self.formatter.line(time.time(), "INFO", self.process, request_id, self.logger.name, message, fields)
        for handler in self.handlers:
            handler.write_line(line)


def _buffered(stream: TextIO) -> TextIO:
    """stdout with a buffer of its own: under PYTHONUNBUFFERED (containers set it) every line would be a system
    call; the flusher thread bounds the delay instead. Streams without a descriptor (test captures) stay as they are."""
    try:
        return open(stream.fileno(), "w", buffering=1 << 16, encoding="utf-8", errors="backslashreplace",
                    closefd=False)
    except (AttributeError, OSError, ValueError):
        return stream


def _flush_forever(handlers: list[LineHandler]) -> None:
    while True:
        time.sleep(FLUSH_EVERY)
        for handler in handlers:
            handler.flush()           # takes the handler's lock; a no-op write when nothing is buffered


class SizeRotator:
    """Run by the launcher only: when the file passes `max_bytes`, shift the backups and rename it to `.1`.

    The writers (WatchedFileHandler) notice the renamed path on their next line and open a fresh file.
    """

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, backup_count: int = BACKUP_COUNT) -> None:
        self.path, self.max_bytes, self.backup_count = path, max_bytes, backup_count

    def check(self) -> bool:
        try:
            if self.path.stat().st_size < self.max_bytes:
                return False
        except FileNotFoundError:
            return False
        for i in range(self.backup_count - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        return True


def log_levels(settings: Settings) -> dict[str, int]:
    """Logger levels by name ("" is the root). DEBUG turns on our own packages' debug lines only: the
    database drivers' debug lines (aiosqlite, aiomysql, asyncpg) print every statement's bound values,
    token and channel keys among them. DEBUG_SQL logs the statements (SQLAlchemy's INFO; the engines hide
    the values), never the rows (SQLAlchemy's DEBUG)."""
    levels = {"": logging.INFO, "aiohttp.access": logging.INFO if settings.debug else logging.WARNING,
              "sqlalchemy.engine": logging.INFO if settings.debug_sql else logging.WARNING}
    if settings.debug:
        levels.update(dict.fromkeys(OWN_LOGGERS, logging.DEBUG))
    return levels


def setup_logging(settings: Settings, request_id: ContextVar[str] | None = None, path: Path | None = None) -> None:
    """Idempotent per process. `request_id`: the proxy's current-request variable; `path`: the launcher's file."""
    root = logging.getLogger()
    if getattr(root, "_one_api_configured", False):
        return
    for name, level in log_levels(settings).items():
        logging.getLogger(name).setLevel(level)
    # the logging HOWTO's optimisations: no format of ours prints the caller, thread or pid
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    formatter = JsonFormatter() if settings.log_format == "json" else SharedFormatter(FORMAT)
    ids = RequestIdFilter(request_id)
    handlers: list[LineHandler] = [LineHandler(_buffered(sys.stdout))]
    if settings.log_dir:
        path = path or log_file_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(AppendFileHandler(path))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(ids)     # on the handler: a logger's filter would miss records propagated from children
        root.addHandler(handler)
    threading.Thread(target=_flush_forever, args=(handlers,), name="log-flush", daemon=True).start()
    root._one_api_configured = True  # type: ignore[attr-defined]
    root._one_api_sink = (formatter, handlers)  # type: ignore[attr-defined]


def line_sink(name: str) -> LineSink | None:
    """A LineSink for logger `name` once setup_logging ran in this process, else None (use the logger)."""
    configured = getattr(logging.getLogger(), "_one_api_sink", None)
    return LineSink(name, *configured) if configured is not None else None
