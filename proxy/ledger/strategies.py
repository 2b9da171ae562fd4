"""Where a request's quota is reserved and settled.

Three strategies behind one interface:
- `MemoryLedger` (one process owns the balances: SQLite, one worker): reserve
  is a check-and-subtract on in-memory balances with no await in between, so
  it is atomic; balances are loaded once from the database and every change is
  written back as additive deltas in the background. No database round trip on
  the hot path.
- `DatabaseLedger` (several nodes, or workers on MySQL/PostgreSQL, share the
  balances): reserve is the store's conditional UPDATE, one short
  transaction; settlement still goes through the background batcher.
- `RemoteLedger` (SQLite, several workers): SQLite has one writer, so instead
  of a write transaction per request one ledger owner process holds a
  `MemoryLedger` and the workers reserve over a unix socket
  (owner.py, client.py, wire.py; server.py is the owner's process).
Whichever the strategy, settlement never blocks the client and `close()` flushes everything.
"""

from __future__ import annotations

from typing import Protocol

from proxy.gateway.records import TokenRecord
from proxy.ledger.batcher import DeltaBatcher
from proxy.ledger.client import RemoteLedger
from proxy.ledger.holds import BudgetHolds
from store import Database, InsufficientQuota, reserve
from store.quota import token_remain_of, user_quota_of


class Ledger(Protocol):
    async def reserve(self, token: TokenRecord, user_id: int, amount: int,
                      holds: BudgetHolds | None = None) -> None: ...
    def settle(self, token: TokenRecord, user_id: int, channel_id: int | None, reserved: int, actual: int,
               holds: BudgetHolds | None = None) -> None: ...
    def refund(self, token: TokenRecord, user_id: int, amount: int, holds: BudgetHolds | None = None) -> None: ...
    async def user_quota(self, user_id: int) -> int: ...
    async def token_remain(self, token: TokenRecord) -> int: ...
    async def forget(self, users: bool = True, tokens: bool = True) -> None: ...
    def start(self) -> None: ...
    async def close(self) -> None: ...


async def spendable(ledger: Ledger, token: TokenRecord, user_id: int) -> int:
    """What a request of this token can still hold: the smaller of the token's and the user's balance
    (the user's alone for an unlimited token), never below zero."""
    user = await ledger.user_quota(user_id)
    if token.unlimited_quota and not token.budgets:   # an unlimited token's budgets still bound it (#17)
        return max(0, user)
    return max(0, min(user, await ledger.token_remain(token)))


class _Settling:
    """Settlement and refunds as batched deltas (shared by every strategy that owns a batcher).

    The `*_ids` forms take primitive fields so the ledger owner process can apply what a worker sent.
    """

    batcher: DeltaBatcher

    def _delta(self, token_id: int, unlimited: bool, user_id: int, delta: int) -> None:
        self.batcher.token(token_id, remain=0 if unlimited else -delta, used=delta)
        self.batcher.user(user_id, quota=-delta)

    def settle(self, token: TokenRecord, user_id: int, channel_id: int | None, reserved: int, actual: int,
               holds: BudgetHolds | None = None) -> None:
        self.settle_ids(token.id, token.unlimited_quota, user_id, channel_id, reserved, actual)

    def settle_ids(self, token_id: int, unlimited: bool, user_id: int, channel_id: int | None, reserved: int,
                   actual: int) -> None:
        self._delta(token_id, unlimited, user_id, actual - reserved)
        self.batcher.user(user_id, used=actual, requests=1)
        if channel_id:
            self.batcher.channel(channel_id, actual)

    def refund(self, token: TokenRecord, user_id: int, amount: int, holds: BudgetHolds | None = None) -> None:
        self.refund_ids(token.id, token.unlimited_quota, user_id, amount)

    def refund_ids(self, token_id: int, unlimited: bool, user_id: int, amount: int) -> None:
        if amount:
            self._delta(token_id, unlimited, user_id, -amount)

    def start(self) -> None:
        self.batcher.start()

    async def close(self) -> None:
        await self.batcher.close()


class DatabaseLedger(_Settling):
    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.batcher = DeltaBatcher(db, interval)

    async def reserve(self, token: TokenRecord, user_id: int, amount: int,
                      holds: BudgetHolds | None = None) -> None:
        async with self.db.session() as s:
            await reserve(s, token_id=token.id, user_id=user_id, amount=amount, token_limited=not token.unlimited_quota)

    async def user_quota(self, user_id: int) -> int:
        async with self.db.session() as s:
            value = await user_quota_of(s, user_id)
        return value + self.batcher.pending_user_quota(user_id)

    async def token_remain(self, token: TokenRecord) -> int:
        async with self.db.session() as s:
            value = await token_remain_of(s, token.id)
        return value + self.batcher.pending_token_remain(token.id)

    async def forget(self, users: bool = True, tokens: bool = True) -> None:
        return None


class MemoryLedger(_Settling):
    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.batcher = DeltaBatcher(db, interval)
        self.users: dict[int, int] = {}
        self.tokens: dict[int, int] = {}

    async def _load(self, token_id: int | None, user_id: int) -> None:
        # under the batcher's lock: no flush half-applied while we read
        async with self.batcher.lock, self.db.session() as s:
            if user_id not in self.users:
                quota = await user_quota_of(s, user_id)
                self.users.setdefault(user_id, quota + self.batcher.pending_user_quota(user_id))
            if token_id is not None and token_id not in self.tokens:
                remain = await token_remain_of(s, token_id)
                self.tokens.setdefault(token_id, remain + self.batcher.pending_token_remain(token_id))

    def try_reserve(self, token_id: int, user_id: int, amount: int, limited: bool) -> bool:
        """Check-and-subtract with no await, so no other request can interleave.

        False when a balance is not loaded yet (nothing changed); raises InsufficientQuota on refusal.
        """
        if user_id not in self.users or (limited and token_id not in self.tokens):
            return False
        if limited and self.tokens[token_id] < amount:
            raise InsufficientQuota("token")
        if self.users[user_id] < amount:
            raise InsufficientQuota("user")
        if limited:
            self.tokens[token_id] -= amount
        self.users[user_id] -= amount
        self.batcher.token(token_id, remain=-amount if limited else 0, used=amount)
        self.batcher.user(user_id, quota=-amount)
        return True

    async def reserve_ids(self, token_id: int, user_id: int, amount: int, limited: bool) -> None:
        while not self.try_reserve(token_id, user_id, amount, limited):
            await self._load(token_id if limited else None, user_id)

    async def reserve(self, token: TokenRecord, user_id: int, amount: int,
                      holds: BudgetHolds | None = None) -> None:
        await self.reserve_ids(token.id, user_id, amount, not token.unlimited_quota)

    def _delta(self, token_id: int, unlimited: bool, user_id: int, delta: int) -> None:
        super()._delta(token_id, unlimited, user_id, delta)
        if not unlimited and token_id in self.tokens:
            self.tokens[token_id] -= delta
        if user_id in self.users:
            self.users[user_id] -= delta

    async def user_quota(self, user_id: int) -> int:
        while user_id not in self.users:
            await self._load(None, user_id)
        return self.users[user_id]

    async def token_remain(self, token: TokenRecord) -> int:
        return await self.token_remain_ids(token.id, token.user_id)

    async def token_remain_ids(self, token_id: int, user_id: int) -> int:
        while token_id not in self.tokens:
            await self._load(token_id, user_id)
        return self.tokens[token_id]

    async def forget(self, users: bool = True, tokens: bool = True) -> None:
        """An admin changed balances in the database: reload them on next use."""
        async with self.batcher.lock:
            if users:
                self.users.clear()
            if tokens:
                self.tokens.clear()


def ledger_for(db: Database, *, sqlite: bool, workers: int, interval: float, owner: str | None = None) -> Ledger:
    """`owner`: the unix socket of the ledger owner process (SQLite with several workers)."""
    if owner is not None:
        return RemoteLedger(owner)
    if sqlite and workers == 1:
        return MemoryLedger(db, interval)
    return DatabaseLedger(db, interval)
