"""The ledger owner: one `MemoryLedger` served to the proxy workers over a unix socket (SQLite, several workers).

SQLite has one writer, so a write transaction per reservation would serialise
the workers on the database. Instead this process holds every balance in
memory and answers each worker's reservations in the order they arrive: a
reservation whose balances are loaded is answered inside `data_received`, with
no await, so it is as atomic as in a single worker. Settlements arrive as
fire-and-forget messages and become the same batched deltas as there.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from typing import Any, cast

from proxy.ledger.strategies import MemoryLedger
from proxy.ledger.wire import (
    BARRIER,
    FAILED,
    FORGET,
    LIMIT_ACQUIRE,
    LIMIT_FINISH,
    OK,
    REFUND,
    REFUSED,
    RESERVE,
    SETTLE,
    TOKEN_REMAIN,
    USER_QUOTA,
    FrameError,
    FrameReader,
    frame,
)
from proxy.limits.policy import Limit, Scope
from proxy.limits.windows import LimitExceeded, MemoryWindows, Ticket
from store import InsufficientQuota

log = logging.getLogger(__name__)


class _WorkerConnection(asyncio.Protocol):
    """One worker's connection: answers go out in one write per batch of received messages."""

    def __init__(self, ledger: MemoryLedger, windows: MemoryWindows) -> None:
        self.ledger = ledger
        self.windows = windows
        self.tickets: dict[int, Ticket] = {}          # this worker's requests holding rate-limit places
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.tasks: set[asyncio.Task[None]] = set()    # answers that had to wait for a database load

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)   # uvloop's transports are not its subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        """A worker gone (stopped or killed) frees the concurrency slots its requests held, each once."""
        self.transport = None
        tickets, self.tickets = self.tickets, {}
        for ticket in tickets.values():
            self.windows.finish(ticket, ticket.tokens)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.reader.feed(data)
        except FrameError as e:
            log.error("ledger: dropping a connection that sent a broken frame: %s", e)
            if self.transport is not None:
                self.transport.close()
            return
        out = bytearray()
        for message in messages:
            try:
                self._handle(message, out)
            except Exception:   # a malformed message must not take the owner down
                log.exception("ledger: cannot handle %r", message)
                if isinstance(message, list) and len(message) > 1 and message[0] not in (SETTLE, REFUND):
                    out += frame([message[1], FAILED, "malformed ledger request"])
        self._write(out)

    def _write(self, data: bytes | bytearray) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _handle(self, m: list[Any], out: bytearray) -> None:
        op, ledger = m[0], self.ledger
        if op == SETTLE:
            ledger.settle_ids(m[1], bool(m[2]), m[3], m[4], m[5], m[6])
        elif op == RESERVE:
            rid, token_id, user_id, amount, limited = m[1:]
            try:
                if ledger.try_reserve(token_id, user_id, amount, limited):
                    out += frame([rid, OK, 0])
                else:
                    self._later(rid, ledger.reserve_ids(token_id, user_id, amount, limited))
            except InsufficientQuota as e:
                out += frame([rid, REFUSED, e.pool])
        elif op == REFUND:
            ledger.refund_ids(m[1], bool(m[2]), m[3], m[4])
        elif op == USER_QUOTA:
            value = ledger.users.get(m[2])
            if value is not None:
                out += frame([m[1], OK, value])
            else:
                self._later(m[1], ledger.user_quota(m[2]))
        elif op == TOKEN_REMAIN:
            value = ledger.tokens.get(m[2])
            if value is not None:
                out += frame([m[1], OK, value])
            else:
                self._later(m[1], ledger.token_remain_ids(m[2], m[3]))
        elif op == FORGET:
            self._later(m[1], ledger.forget(users=bool(m[2]), tokens=bool(m[3])))
        elif op == LIMIT_ACQUIRE:
            self._acquire(m, out)
        elif op == LIMIT_FINISH:
            ticket = self.tickets.pop(m[1], None)
            if ticket is not None:
                self.windows.finish(ticket, m[2])
        elif op == BARRIER:   # answered once everything received before it is applied
            if self.tasks:
                self._later(m[1], asyncio.gather(*self.tasks))
            else:
                out += frame([m[1], OK, 0])
        else:
            raise ValueError(f"unknown ledger operation {op!r}")

    def _acquire(self, m: list[Any], out: bytearray) -> None:
        """Rate limits: checked and taken with no await, so as atomic across workers as in one."""
        rid, ticket_id, tokens, raw = m[1:]
        scopes = [Scope(key, name, Limit(rpm, tpm, parallel)) for key, name, rpm, tpm, parallel in raw]
        try:
            ticket = self.windows.try_acquire(scopes, tokens)
        except LimitExceeded as e:
            r = e.refusal
            out += frame([rid, REFUSED, [scopes.index(r.scope), r.kind, r.limit, r.used, r.requested,
                                         r.retry_after, e.headers]])
            return
        self.tickets[ticket_id] = ticket
        out += frame([rid, OK, ticket.headers])

    def _later(self, rid: int, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(self._answer(rid, work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, rid: int, work: Awaitable[Any]) -> None:
        try:
            value = await work
            answer: list[int | str] = [rid, OK, value if isinstance(value, int) else 0]
        except InsufficientQuota as e:
            answer = [rid, REFUSED, e.pool]
        except Exception as e:   # e.g. the database could not be read: the worker answers 503
            log.exception("ledger: request failed")
            answer = [rid, FAILED, f"{type(e).__name__}: {e}"]
        self._write(frame(answer))


class LedgerOwner:
    """Serves one MemoryLedger on a unix socket; `close()` flushes its deltas to the database."""

    def __init__(self, ledger: MemoryLedger, windows: MemoryWindows | None = None) -> None:
        self.ledger = ledger
        self.windows = windows or MemoryWindows()   # every worker's rate-limit windows (#17)
        self.server: asyncio.AbstractServer | None = None
        self.connections: list[_WorkerConnection] = []

    async def start(self, path: str) -> None:
        self.ledger.start()
        loop = asyncio.get_running_loop()
        self.server = await loop.create_unix_server(self._connection, path)
        os.chmod(path, 0o600)

    def _connection(self) -> _WorkerConnection:
        self.connections = [c for c in self.connections if c.transport is not None]
        conn = _WorkerConnection(self.ledger, self.windows)
        self.connections.append(conn)
        return conn

    async def close(self) -> None:
        """Stop listening, finish answers in progress, write every delta (call after the workers have exited)."""
        if self.server is not None:
            self.server.close()
        pending = [t for c in self.connections for t in c.tasks]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for conn in self.connections:
            if conn.transport is not None:
                conn.transport.close()
        await self.ledger.close()


__all__ = ["LedgerOwner"]
