"""The one place that knows the database: models, engines, DSNs, bootstrap, options and the quota ledger.

Names are loaded on first use (PEP 562): the launcher (`one-api`'s supervisor) needs only the DSN grammar and
the change counter, and a supervisor that imported SQLAlchemy with them held ~40 MiB for nothing. Any name but
the DSN ones loads the whole store as before, every table module included (they register on the metadata).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store import channel_notices, events, leases, sessions
    from store.bootstrap import check_password, ensure_root, hash_password
    from store.dsn import DatabaseURL, DSNError, parse_dsn, sqlite_url
    from store.engine import Database, PoolSettings
    from store.options import DEFAULT_OPTIONS, as_bool, as_float, as_int, load_options, save_option
    from store.quota import InsufficientQuota, add_counters, refund, reserve, settle

_HOME = {
    "DatabaseURL": "store.dsn", "DSNError": "store.dsn", "parse_dsn": "store.dsn", "sqlite_url": "store.dsn",
    "check_password": "store.bootstrap", "ensure_root": "store.bootstrap", "hash_password": "store.bootstrap",
    "Database": "store.engine", "PoolSettings": "store.engine",
    "DEFAULT_OPTIONS": "store.options", "as_bool": "store.options", "as_float": "store.options",
    "as_int": "store.options", "load_options": "store.options", "save_option": "store.options",
    "InsufficientQuota": "store.quota", "add_counters": "store.quota", "refund": "store.quota",
    "reserve": "store.quota", "settle": "store.quota",
}
_MODULES = ("channel_notices", "events", "leases", "sessions")


def __getattr__(name: str) -> Any:
    if name not in _MODULES and name not in _HOME:
        raise AttributeError(f"module 'store' has no attribute {name!r}")
    if _HOME.get(name) != "store.dsn":
        for module in _MODULES:            # what `import store` loaded before: every table on the metadata
            globals()[module] = importlib.import_module(f"store.{module}")
    value = globals()[name] if name in _MODULES else getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_OPTIONS", "DSNError", "Database", "DatabaseURL", "InsufficientQuota", "PoolSettings",
    "add_counters", "as_bool", "as_float", "as_int", "channel_notices", "check_password", "ensure_root", "events",
    "hash_password", "leases", "sessions",
    "load_options", "parse_dsn", "refund", "reserve", "save_option", "settle", "sqlite_url",
]
