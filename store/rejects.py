"""Whether a failed INSERT was refused for its values (the rows' fault) or for the database's state.

A batch refused for its values is worth splitting to find the bad row; a database that is down,
locked or out of connections refuses every row, so its batch is kept whole and retried later.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError, StatementError

# Python-side refusals: a driver that cannot encode a value (UnicodeEncodeError is a ValueError,
# sqlite3's "Python int too large" an OverflowError, asyncpg's "invalid input for query argument" a ValueError)
_VALUE_ERRORS = (ValueError, TypeError, OverflowError)
# SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation)
_VALUE_STATES = ("22", "23")


def rejected_for_values(exc: BaseException) -> bool:
    """True when the database or its driver refused the values themselves."""
    if isinstance(exc, (DataError, IntegrityError, *_VALUE_ERRORS)):
        return True
    if not isinstance(exc, StatementError):
        return False
    orig = exc.orig
    for error in (orig, getattr(orig, "__cause__", None)):
        if isinstance(error, _VALUE_ERRORS):
            return True
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str) and state.startswith(_VALUE_STATES):
            return True
    return False
