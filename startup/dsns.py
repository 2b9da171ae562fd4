"""The DSN check `one-api` runs right after reading its settings: only the store's DSN grammar, no driver."""

from __future__ import annotations

from settings import Settings, SettingsError
from store.dsn import DSNError, parse_dsn


def check_dsns(settings: Settings) -> None:
    """SQL_DSN and LOG_SQL_DSN parse, or start-up stops with one line naming the variable (not the first query)."""
    for name, dsn in (("SQL_DSN", settings.sql_dsn), ("LOG_SQL_DSN", settings.log_sql_dsn)):
        if dsn:
            try:
                parse_dsn(dsn)
            except DSNError as e:
                raise SettingsError(f"{name}: {e}") from None
