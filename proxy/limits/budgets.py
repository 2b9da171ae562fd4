"""Budgets that reset (#17): a token's or a user's spend per rolling 5 hours, day, week or month.

Held in the database whatever the deployment (store.budgets): every worker and node, and admin_api's reports,
read the same numbers, and a window refills by itself because its start is computed from the clock when it is
next used (no job that can fail to run). `BudgetLedger` puts them on the quota ledger's own path: whatever holds
quota (the reservation, a stream's growing hold, billing's top-up) first takes it from the budgets, under their
rows' locks, so concurrent requests cannot overspend a budget; a settlement's correction and a refund give back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from proxy.gateway.records import TokenRecord, UserRecord
from proxy.ledger import BudgetHolds, InsufficientQuota, Ledger
from rules.rate_limits import Budget, resets_at, window_start
from store import Database
from store.budgets import Spent, adjust, budgets_of, ensure_budgets, spend

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BudgetScope:
    key: str          # "t:<token id>:<period>" or "u:<user id>:<period>"
    owner: str        # "token" | "user"
    budget: Budget


def budget_scopes(token: TokenRecord | None, user: UserRecord | None) -> list[BudgetScope]:
    out = [BudgetScope(f"t:{token.id}:{b.period}", "token", b) for b in token.budgets] if token else []
    if user is not None:
        out.extend(BudgetScope(f"u:{user.id}:{b.period}", "user", b) for b in user.budgets)
    return out


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget as reported: its quota, what its current window used, when that window ends."""

    period: str
    quota: int
    used: int
    resets_at: int

    def as_json(self) -> dict[str, Any]:
        return {"period": self.period, "quota": self.quota, "used": self.used, "resets_at": self.resets_at}


class BudgetBook:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time, tz: tzinfo | None = None) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz                        # None: the process's local zone (TZ)
        self.known: set[str] = set()        # budgets whose row exists
        self.pending: set[asyncio.Task[None]] = set()

    def _current(self, scope: BudgetScope, start: int, used: int, now: int) -> tuple[int, int]:
        start_now = window_start(scope.budget.period, now, start, self.tz)
        return (start_now, used if start_now == start else 0)

    async def take(self, scopes: Sequence[BudgetScope], amount: int, holds: BudgetHolds) -> None:
        """Add `amount` to every budget's window, all or none, and to the request's `holds` in those windows;
        InsufficientQuota naming the budget otherwise."""
        now = int(self.clock())
        keys = [s.key for s in scopes]
        taken: Spent = {}

        def plan(found: Spent) -> tuple[Spent, str | None]:
            new: Spent = {}
            for scope in scopes:
                start, used = self._current(scope, *found.get(scope.key, (0, 0)), now)
                if used + amount > scope.budget.quota:
                    return {}, self._refusal(scope, used, amount, start)
                new[scope.key] = (start, used + amount)
            taken.clear()
            taken.update(new)
            return new, None

        async with self.db.session() as s:
            await ensure_budgets(s, keys, self.known)
            refusal = await spend(s, keys, plan)
        if refusal is not None:
            raise InsufficientQuota(refusal)
        for key, (start, _) in taken.items():
            holds[(key, start)] = holds.get((key, start), 0) + amount

    def _refusal(self, scope: BudgetScope, used: int, amount: int, start: int) -> str:
        b = scope.budget
        ends = datetime.fromtimestamp(resets_at(b.period, start, self.tz), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (f"the {scope.owner}'s {b.period} budget is used up: quota {b.quota}, used {used}, "
                f"requested {amount}; it resets at {ends}")

    async def states(self, scopes: Sequence[BudgetScope]) -> list[BudgetState]:
        """Each budget's current window (a window past its end reads as empty, starting now)."""
        now = int(self.clock())
        async with self.db.session() as s:
            found = await budgets_of(s, [x.key for x in scopes])
        out = []
        for scope in scopes:
            start, used = self._current(scope, *found.get(scope.key, (0, 0)), now)
            out.append(BudgetState(scope.budget.period, scope.budget.quota, used,
                                   resets_at(scope.budget.period, start, self.tz)))
        return out

    async def room(self, scopes: Sequence[BudgetScope]) -> int:
        """What the tightest budget still allows."""
        return min(max(0, s.quota - s.used) for s in await self.states(scopes))

    def give_back(self, scopes: Sequence[BudgetScope], amount: int, holds: BudgetHolds) -> None:
        """Give `amount` of the request's holds back to each budget, newest window first and never more than the
        request took from a window (what it held in a window that has since reset is given back to nothing: a
        reset must not be refilled by an older window's holds). In the background (settlement never waits);
        `close` waits for what is still running."""
        deltas: dict[tuple[str, int], int] = {}
        for scope in scopes if amount > 0 else ():
            left = amount
            for start in sorted((start for key, start in holds if key == scope.key), reverse=True):
                part = min(left, holds[(scope.key, start)])
                if part > 0:
                    holds[(scope.key, start)] -= part
                    deltas[(scope.key, start)] = -part
                    left -= part
        if not deltas:
            return
        task = asyncio.get_running_loop().create_task(self._adjust(deltas))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _adjust(self, deltas: dict[tuple[str, int], int]) -> None:
        try:
            async with self.db.session() as s:
                await adjust(s, deltas)
        except Exception:
            log.exception("budget correction %r failed", deltas)

    async def close(self) -> None:
        if self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)


class BudgetLedger:
    """A Ledger whose every hold also goes through the token's and the user's budgets (none set: the inner
    ledger alone, at the cost of two attribute reads)."""

    def __init__(self, inner: Ledger, book: BudgetBook, user: Callable[[int], Awaitable[UserRecord | None]],
                 cached_user: Callable[[int], UserRecord | None]) -> None:
        self.inner = inner
        self.book = book
        self.user = user                  # the user's record (its budgets), as auth read it
        self.cached_user = cached_user    # the same without waiting, for settlements

    async def _scopes(self, token: TokenRecord, user_id: int) -> list[BudgetScope]:
        user = self.cached_user(user_id)      # auth just read it: almost always there, with no await
        return budget_scopes(token, user if user is not None else await self.user(user_id))

    def _cached_scopes(self, token: TokenRecord, user_id: int) -> list[BudgetScope]:
        return budget_scopes(token, self.cached_user(user_id))

    async def reserve(self, token: TokenRecord, user_id: int, amount: int,
                      holds: BudgetHolds | None = None) -> None:
        scopes = await self._scopes(token, user_id)
        mine: BudgetHolds = {} if holds is None else holds
        if scopes and amount > 0:
            await self.book.take(scopes, amount, mine)
        try:
            await self.inner.reserve(token, user_id, amount)
        except BaseException:
            self.book.give_back(scopes, amount, mine)
            raise

    def settle(self, token: TokenRecord, user_id: int, channel_id: int | None, reserved: int, actual: int,
               holds: BudgetHolds | None = None) -> None:
        self.inner.settle(token, user_id, channel_id, reserved, actual)
        if holds:
            self.book.give_back(self._cached_scopes(token, user_id), reserved - actual, holds)

    def refund(self, token: TokenRecord, user_id: int, amount: int, holds: BudgetHolds | None = None) -> None:
        self.inner.refund(token, user_id, amount)
        if holds:
            self.book.give_back(self._cached_scopes(token, user_id), amount, holds)

    async def user_quota(self, user_id: int) -> int:
        quota = await self.inner.user_quota(user_id)
        user = self.cached_user(user_id) or await self.user(user_id)
        scopes = budget_scopes(None, user)
        return min(quota, await self.book.room(scopes)) if scopes else quota

    async def token_remain(self, token: TokenRecord) -> int:
        remain = await self.inner.token_remain(token)
        scopes = budget_scopes(token, None)
        if not scopes:
            return remain
        room = await self.book.room(scopes)
        return room if token.unlimited_quota else min(remain, room)

    async def forget(self, users: bool = True, tokens: bool = True) -> None:
        await self.inner.forget(users, tokens)

    def start(self) -> None:
        self.inner.start()

    async def close(self) -> None:
        await self.book.close()
        await self.inner.close()


__all__ = ["BudgetBook", "BudgetLedger", "BudgetScope", "BudgetState", "budget_scopes"]
