"""`RemoteLedger`: a proxy worker's side of the ledger owner (SQLite, several workers).

One connection per worker carries every request, pipelined. A reservation
waits for its answer; settlements and refunds are written and not waited for.

Delivery: a message handed to a live connection counts as delivered and is
never sent again, so nothing is applied twice. Messages made while no
connection is up wait in a backlog that goes out first on the next connection,
so nothing is lost there. The one window is the owner dying: messages still in
the dead socket's buffers are lost, with the owner's own unwritten deltas, and
the supervisor then stops the whole gateway. `close()` ends with a barrier
round trip, so on a graceful stop every settlement sent has reached the owner.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from proxy.core.errors import RelayError
from proxy.gateway.records import TokenRecord
from proxy.ledger.holds import BudgetHolds
from proxy.ledger.wire import (
    BARRIER,
    FAILED,
    FORGET,
    OK,
    REFUND,
    RESERVE,
    SETTLE,
    TOKEN_REMAIN,
    USER_QUOTA,
    FrameError,
    FrameReader,
    frame,
)
from store import InsufficientQuota

log = logging.getLogger(__name__)


class LedgerUnavailable(RelayError):
    """The ledger owner cannot be reached or did not answer: the request fails with 503, nothing reserved."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message, code="quota_ledger_unavailable")


class _Connection(asyncio.Protocol):
    """Frames sent in one event-loop turn leave in one write: at 64 requests in flight, a system call
    (and an owner wake-up) per message would cost more than the messages themselves."""

    def __init__(self, client: RemoteLedger) -> None:
        self.client = client
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.outgoing: list[tuple[bytes, bool]] = []    # (frame, is a settlement to keep if never sent)

    def queue(self, data: bytes, settlement: bool) -> None:
        if not self.outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self.outgoing.append((data, settlement))

    def _flush(self) -> None:
        outgoing, self.outgoing = self.outgoing, []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(data for data, _ in outgoing))
        else:
            self._keep(outgoing)

    def _keep(self, outgoing: list[tuple[bytes, bool]]) -> None:
        """Settlements that never reached the socket wait for the next connection; reservations are answered
        as lost by `RemoteLedger._lost`, so they must not be sent later."""
        self.client._backlog.extend(data for data, settlement in outgoing if settlement)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)   # uvloop's transports are not its subclasses

    def data_received(self, data: bytes) -> None:
        try:
            answers = self.reader.feed(data)
        except FrameError as e:
            log.error("ledger: broken answer stream: %s", e)
            assert self.transport is not None
            self.transport.close()
            return
        for rid, status, value in answers:
            self.client._answered(rid, status, value)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        outgoing, self.outgoing = self.outgoing, []
        self._keep(outgoing)
        self.client._lost(self)


class RemoteLedger:
    """The `Ledger` protocol over a unix socket to the process that owns the balances."""

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None
        self._backlog: list[bytes] = []
        # rid -> (future, the refund owed if an "ok" arrives after the caller gave up, or None)
        self._waiting: dict[int, tuple[asyncio.Future[tuple[int, Any]], list[Any] | None]] = {}
        self._rid = 0

    # -- the Ledger protocol

    async def reserve(self, token: TokenRecord, user_id: int, amount: int,
                      holds: BudgetHolds | None = None) -> None:
        limited = not token.unlimited_quota
        undo = [REFUND, token.id, not limited, user_id, amount]
        status, value = await self._call([RESERVE, 0, token.id, user_id, amount, limited], undo)
        if status != OK:
            raise InsufficientQuota(value)

    def settle(self, token: TokenRecord, user_id: int, channel_id: int | None, reserved: int, actual: int,
               holds: BudgetHolds | None = None) -> None:
        self._send([SETTLE, token.id, token.unlimited_quota, user_id, channel_id, reserved, actual])

    def refund(self, token: TokenRecord, user_id: int, amount: int, holds: BudgetHolds | None = None) -> None:
        if amount:
            self._send([REFUND, token.id, token.unlimited_quota, user_id, amount])

    async def user_quota(self, user_id: int) -> int:
        return int((await self._call([USER_QUOTA, 0, user_id]))[1])

    async def token_remain(self, token: TokenRecord) -> int:
        return int((await self._call([TOKEN_REMAIN, 0, token.id, token.user_id]))[1])

    async def forget(self, users: bool = True, tokens: bool = True) -> None:
        try:
            await self._call([FORGET, 0, users, tokens])
        except LedgerUnavailable as e:   # an owner that is gone holds no stale balances
            log.warning("ledger: could not pass on a balance change: %s", e.message)

    def start(self) -> None:
        return None     # connects on first use

    # -- other requests on the same connection (rate limits: proxy.ledger.remote_limits)

    async def request(self, message: list[Any], undo: list[Any] | None = None) -> tuple[int, Any]:
        """`message` (its request id, message[1], is set here) and its answer; `undo` is sent when an OK
        arrives after the caller gave up."""
        return await self._call(message, undo)

    def post(self, message: list[Any]) -> None:
        """A message with no answer, delivered like a settlement."""
        self._send(message)

    async def close(self) -> None:
        """Graceful stop: returns once the owner has applied everything this worker sent."""
        try:
            if self._conn is not None or self._backlog:
                await self._call([BARRIER, 0])
        except LedgerUnavailable as e:
            if self._backlog:
                log.error("ledger: %d settlement messages not delivered at stop: %s", len(self._backlog), e.message)
        finally:
            if self._conn is not None and self._conn.transport is not None:
                self._conn.transport.close()

    # -- the connection

    def _send(self, message: list[Any]) -> None:
        data = frame(message)
        transport = self._conn.transport if self._conn is not None else None
        if transport is not None and not transport.is_closing():
            self._conn.queue(data, settlement=True)  # type: ignore[union-attr]
            return
        self._backlog.append(data)
        if self._connecting is None:    # deliver it without waiting for the next reservation
            self._open_soon().add_done_callback(_quiet)

    async def _call(self, message: list[Any], undo: list[Any] | None = None) -> tuple[int, Any]:
        conn = self._conn if self._conn is not None else await asyncio.shield(self._open_soon())
        if conn.transport is None or conn.transport.is_closing():
            raise LedgerUnavailable("quota ledger connection lost")
        self._rid += 1
        rid = message[1] = self._rid
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, Any]] = loop.create_future()
        self._waiting[rid] = (future, undo)
        conn.queue(frame(message), settlement=False)
        timer = loop.call_later(self.timeout, _expire, future, self.timeout)
        try:
            status, value = await future
        finally:
            timer.cancel()
        if status == FAILED:
            raise LedgerUnavailable(f"quota ledger failed: {value}")
        return status, value

    def _answered(self, rid: int, status: int, value: Any) -> None:
        entry = self._waiting.pop(rid, None)
        if entry is None:
            return
        future, undo = entry
        if not future.done():
            future.set_result((status, value))
        elif undo is not None and status == OK:   # the caller timed out or was cancelled: give it back
            self._send(undo)

    def _open_soon(self) -> asyncio.Future[_Connection]:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        return self._connecting

    async def _open(self) -> _Connection:
        try:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_unix_connection(lambda: _Connection(self), self.path)
        except OSError as e:
            raise LedgerUnavailable(f"quota ledger unreachable: {e.strerror or e}") from None
        finally:
            self._connecting = None
        if conn.transport is None:     # closed again at once: the backlog waits for the next try
            raise LedgerUnavailable("quota ledger connection lost")
        if self._backlog:    # first, in their order: what was settled while disconnected
            conn.transport.write(b"".join(self._backlog))
            self._backlog.clear()
        self._conn = conn
        return conn

    def _lost(self, conn: _Connection) -> None:
        if self._conn is conn:
            self._conn = None
        waiting, self._waiting = self._waiting, {}
        for future, _ in waiting.values():
            if not future.done():
                future.set_exception(LedgerUnavailable("quota ledger connection lost"))


def _expire(future: asyncio.Future[Any], timeout: float) -> None:
    if not future.done():
        future.set_exception(LedgerUnavailable(f"quota ledger did not answer within {timeout:.0f}s"))


def _quiet(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()   # retrieved: a failed background connect is retried on the next call


__all__ = ["LedgerUnavailable", "RemoteLedger"]
