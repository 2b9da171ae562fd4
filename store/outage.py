"""Whether an error means the database cannot be reached (down, refusing connections, dropped, pool exhausted),
as opposed to a bug or bad data: callers answer such errors with 503 "try again later" instead of a 500."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

UNAVAILABLE = "database unavailable, try again later"
# ConnectionError: asyncpg's refused connect reaches the caller unwrapped (aiomysql's as OperationalError)
_OUTAGES = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, ConnectionError)
_CHAIN_DEPTH = 8


def is_outage(exc: BaseException) -> bool:
    """True when `exc`, or an error it was raised from, says the connection to the database failed; a dropped
    connection is a DBAPIError marked `connection_invalidated`. (OperationalError also covers a lock wait
    timeout or a deadlock: those are worth a retry too.)"""
    current: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        if current is None:
            return False
        if isinstance(current, _OUTAGES) or (isinstance(current, DBAPIError) and current.connection_invalidated):
            return True
        current = current.__cause__
    return False
