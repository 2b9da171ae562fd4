"""Logging to stdout and to a file under --log-dir, the file named as One API names it."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from pathlib import Path

from settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"


def log_file_path(settings: Settings) -> Path:
    name = "oneapi.log" if settings.only_one_log_file else f"oneapi-{time.strftime('%Y%m%d')}.log"
    return Path(settings.log_dir) / name


def setup_logging(settings: Settings) -> None:
    """Idempotent per process; every process appends to the same file (O_APPEND line writes)."""
    root = logging.getLogger()
    if getattr(root, "_one_api_configured", False):
        return
    root.setLevel(logging.DEBUG if settings.debug else logging.INFO)
    formatter = logging.Formatter(FORMAT)
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(formatter)
    root.addHandler(stream)
    if settings.log_dir:
        path = log_file_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        # size-based rotation on top of One API's daily file name: 100 MB, 10 kept
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=100 * 1024 * 1024, backupCount=10, encoding="utf-8")
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING if not settings.debug else logging.INFO)
    if settings.debug_sql:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    root._one_api_configured = True  # type: ignore[attr-defined]
