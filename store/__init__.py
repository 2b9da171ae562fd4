"""The one place that knows the database: models, engines, DSNs, bootstrap, options and the quota ledger."""

from store import channel_notices, events, leases, sessions
from store.bootstrap import check_password, ensure_root, hash_password
from store.dsn import DatabaseURL, DSNError, parse_dsn, sqlite_url
from store.engine import Database, PoolSettings
from store.options import DEFAULT_OPTIONS, as_bool, as_float, as_int, load_options, save_option
from store.quota import InsufficientQuota, add_counters, refund, reserve, settle

__all__ = [
    "DEFAULT_OPTIONS", "DSNError", "Database", "DatabaseURL", "InsufficientQuota", "PoolSettings",
    "add_counters", "as_bool", "as_float", "as_int", "channel_notices", "check_password", "ensure_root", "events",
    "hash_password", "leases", "sessions",
    "load_options", "parse_dsn", "refund", "reserve", "save_option", "settle", "sqlite_url",
]
