"""Budget windows (#17): what each budget spent in its current window, changed only under its row's lock.

`spend` locks the rows of a request's budgets in one order (an UPDATE first, so SQLite takes its write lock at
once and MySQL/PostgreSQL row locks), hands their (start, used) to the caller's `plan`, and writes the plan's new
values, or nothing when the plan refuses. So concurrent requests on any number of nodes never spend a budget
twice. Which window holds `now` and whether the request fits is the caller's (rules.rate_limits, proxy.limits).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TypeVar

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.engine import write_transaction
from store.models import BudgetWindow

R = TypeVar("R")
Spent = dict[str, tuple[int, int]]   # scope -> (window start, used)


async def ensure_budgets(session: AsyncSession, scopes: Collection[str], known: set[str]) -> None:
    """Create the budgets' rows once (a row another node created first is fine); `known` remembers them."""
    for scope in sorted(set(scopes) - known):
        try:
            async with write_transaction(session):
                if await session.get(BudgetWindow, scope) is None:
                    session.add(BudgetWindow(scope=scope, start=0, used=0))
        except IntegrityError:
            pass
        known.add(scope)


async def spend(session: AsyncSession, scopes: Sequence[str],
                plan: Callable[[Spent], tuple[Spent, R | None]]) -> R | None:
    """Under the rows' locks: `plan({scope: (start, used)})` returns the new values and None, or a refusal
    (then nothing is written)."""
    async with write_transaction(session):
        for scope in sorted(scopes):   # one lock order for every process
            await session.execute(update(BudgetWindow).where(BudgetWindow.scope == scope)
                                  .values(used=BudgetWindow.used))
        rows = (await session.execute(select(BudgetWindow.scope, BudgetWindow.start, BudgetWindow.used)
                                      .where(BudgetWindow.scope.in_(scopes)))).all()
        values, refusal = plan({r[0]: (int(r[1]), int(r[2])) for r in rows})
        if refusal is not None:
            return refusal
        for scope, (start, used) in sorted(values.items()):
            await session.execute(update(BudgetWindow).where(BudgetWindow.scope == scope)
                                  .values(start=start, used=used))
    return None


async def adjust(session: AsyncSession, deltas: Mapping[tuple[str, int], int]) -> None:
    """Add each delta to its budget if the window it was taken in is still the current one (a correction of a
    window that has since reset is void); never below zero."""
    async with write_transaction(session):
        for (scope, start), delta in sorted(deltas.items()):
            if delta:
                used = BudgetWindow.used + delta
                await session.execute(update(BudgetWindow)
                                      .where(BudgetWindow.scope == scope, BudgetWindow.start == start)
                                      .values(used=case((used < 0, 0), else_=used)))


async def budgets_of(session: AsyncSession, scopes: Collection[str]) -> Spent:
    """{scope: (start, used)} for the scopes that have a row (read-only, for reports)."""
    if not scopes:
        return {}
    rows = (await session.execute(select(BudgetWindow.scope, BudgetWindow.start, BudgetWindow.used)
                                  .where(BudgetWindow.scope.in_(list(scopes))))).all()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


__all__ = ["Spent", "adjust", "budgets_of", "ensure_budgets", "spend"]
