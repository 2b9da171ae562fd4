"""The rows a write touched. SQLAlchemy types `AsyncSession.execute` as a plain `Result`; only the
`CursorResult` an UPDATE or DELETE really returns has `rowcount`."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def rowcount(result: Result[Any]) -> int:
    """Rows matched by the UPDATE or DELETE that produced `result` (0 when the driver does not say)."""
    return cast("CursorResult[Any]", result).rowcount or 0


__all__ = ["rowcount"]
