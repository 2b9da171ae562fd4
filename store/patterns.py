"""LIKE patterns built from user input, with `%`, `_` and the escape character escaped."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

ESCAPE = "!"   # not a backslash: MySQL treats backslashes in literals specially


def escape_like(text: str) -> str:
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def starts_with(column: InstrumentedAttribute[str | None], prefix: str) -> ColumnElement[bool]:
    """`column LIKE '<prefix>%'` with the prefix taken literally (no wildcards from the user)."""
    return column.like(escape_like(prefix) + "%", escape=ESCAPE)


def page_bounds(page: int, size: int = 10) -> tuple[int, int]:
    """(offset, limit) of zero-based page `page`; a negative page is page 0 (One API's `p`)."""
    return min(max(page, 0), 10**12) * size, size   # a huge page number is just past the end
