"""Budgets that reset (#17) through the real gateway: a 5-hour and a weekly budget on one token, 50 concurrent
requests per phase, an injected clock to roll the 5-hour window over (no sleeps)."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import pytest
from sqlalchemy import update

from proxy.limits.budgets import BudgetBook, BudgetScope
from rules.rate_limits import Budget
from store import Database, save_option
from store.models import Token, User
from tests.e2e.harness import Account, Gateway, add_account, add_channel, logs
from tests.e2e.mock_upstream import MockOpenAI

UTC = ZoneInfo("UTC")
WEDNESDAY = datetime.datetime(2026, 12, 9, 10, 0, tzinfo=UTC).timestamp()
FIVE_H, WEEK = 200, 300
ASK = {"model": "gpt-4o-mini", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


async def _phase(gw: Gateway, key: str) -> list[tuple[int, bytes]]:
    async def one(http: aiohttp.ClientSession) -> tuple[int, bytes]:
        async with http.post(gw.url + "/v1/chat/completions", json=ASK, headers={"Authorization": key}) as r:
            return r.status, await r.read()
    async with aiohttp.ClientSession() as http:
        return await asyncio.gather(*(one(http) for _ in range(50)))


async def _token_with_budgets(db: Database, gateway: Gateway, upstream: MockOpenAI,
                              budgets: list[dict[str, Any]]) -> tuple[Account, BudgetBook, list[float]]:
    """An account whose token has these budgets, a channel, no pre-consumed quota, and the budget book on an
    injected clock (set `now[0]` to move it), starting on WEDNESDAY in UTC."""
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    async with db.session() as s, s.begin():
        await s.execute(update(Token).where(Token.id == acct.token_id).values(budgets=orjson.dumps(budgets).decode()))
    async with db.session() as s:
        await save_option(s, "PreConsumedQuota", "0")
    await gateway.runtime.caches.reload_options()
    await gateway.reload()
    book = gateway.runtime.budgets
    now = [WEDNESDAY]
    book.clock, book.tz = (lambda: now[0]), UTC
    return acct, book, now


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
async def test_5h_and_week_budgets_never_overspent_and_the_5h_window_rolls_over(
        db: Database, gateway: Gateway, upstream: MockOpenAI) -> None:
    upstream.script.delay = 0.1                      # holds overlap: the budgets decide under concurrency
    upstream.script.usage = {"prompt_tokens": 11, "completion_tokens": 50, "total_tokens": 61}
    acct, book, now = await _token_with_budgets(db, gateway, upstream,
                                                [{"period": "5h", "quota": FIVE_H}, {"period": "week", "quota": WEEK}])
    scopes = [BudgetScope(f"t:{acct.token_id}:5h", "token", Budget("5h", FIVE_H)),
              BudgetScope(f"t:{acct.token_id}:week", "token", Budget("week", WEEK))]

    first = await _phase(gateway, acct.key)
    await gateway.flush()                                # settlements and budget corrections written
    spent_first = sum(r.quota or 0 for r in await logs(db))
    five_h, week = await book.states(scopes)
    assert five_h.used == week.used == spent_first <= FIVE_H         # exact, and never past the 5-hour budget
    assert five_h.resets_at == WEDNESDAY + 5 * 3600
    assert week.resets_at == datetime.datetime(2026, 12, 14, tzinfo=UTC).timestamp()   # next Monday
    refused = [orjson.loads(body)["error"]["message"] for status, body in first if status != 200]
    assert refused and all("the token's 5h budget is used up" in m for m in refused)
    assert spent_first > FIVE_H - 20                                 # it was used up, not merely approached
    async with aiohttp.ClientSession() as http, http.get(gateway.url + "/v1/dashboard/billing/subscription",
                                                         headers={"Authorization": acct.key}) as r:
        shown = (await r.json())["budgets"]
    assert [(b["owner"], b["period"], b["used"], b["resets_at"]) for b in shown] == [
        ("token", "5h", spent_first, WEDNESDAY + 5 * 3600), ("token", "week", spent_first, week.resets_at)]

    now[0] += 5 * 3600 + 1                               # five hours later: the 5-hour window starts again
    five_h, week = await book.states(scopes)
    assert five_h.used == 0 and week.used == spent_first
    second = await _phase(gateway, acct.key)
    await gateway.flush()
    spent_total = sum(r.quota or 0 for r in await logs(db))
    five_h, week = await book.states(scopes)
    assert week.used == spent_total <= WEEK                          # the week's budget bounds both phases
    assert five_h.used == spent_total - spent_first
    assert five_h.resets_at == WEDNESDAY + 2 * (5 * 3600) + 1
    assert any(status == 200 for status, _ in second)
    assert any(b"the token's week budget is used up" in body for status, body in second if status != 200)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_a_request_held_across_a_reset_gives_back_only_to_its_own_window(
        db: Database, gateway: Gateway, upstream: MockOpenAI) -> None:
    """A held in the old 5-hour window, B in the new one, A settles first: what A gives back (its hold above its
    cost) must not be taken off B's window, which would let the new window be overspent by it."""
    upstream.script.delay = 0.5
    upstream.script.usage = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}   # far below the hold
    acct, book, now = await _token_with_budgets(db, gateway, upstream, [{"period": "5h", "quota": 10_000}])

    async def ask(http: aiohttp.ClientSession) -> int:
        async with http.post(gateway.url + "/v1/chat/completions", json=ASK, headers={"Authorization": acct.key}) as r:
            await r.read()
            return r.status

    async def forwarded(n: int) -> None:
        async with asyncio.timeout(10):
            while len(upstream.requests) < n:
                await asyncio.sleep(0.01)

    async with aiohttp.ClientSession() as http:
        a = asyncio.create_task(ask(http))
        await forwarded(1)                       # A holds in the first window
        now[0] += 5 * 3600 + 1                   # the 5-hour window resets while A runs
        b = asyncio.create_task(ask(http))
        await forwarded(2)                       # B holds in the new window
        assert await a == 200 and await b == 200
    await gateway.flush()
    costs = {r.quota for r in await logs(db)}
    assert len(costs) == 1 and costs.pop() > 0
    [five_h] = await book.states([BudgetScope(f"t:{acct.token_id}:5h", "token", Budget("5h", 10_000))])
    assert five_h.used == (await logs(db))[0].quota        # B's cost alone: A's give-back went to its own window


async def test_no_budgets_no_rows(db: Database, gateway: Gateway, upstream: MockOpenAI) -> None:
    """Without budgets nothing is read or written for them: the request costs what it cost before."""
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    answers = await _phase(gateway, acct.key)
    assert all(status == 200 for status, _ in answers)
    book: Any = gateway.runtime.budgets
    assert book.known == set() and not book.pending


async def test_a_users_day_budget_bounds_all_of_its_tokens(db: Database, gateway: Gateway,
                                                           upstream: MockOpenAI) -> None:
    upstream.script.usage = {"prompt_tokens": 11, "completion_tokens": 50, "total_tokens": 61}
    first = await add_account(db)
    async with db.session() as s, s.begin():
        await s.execute(update(User).where(User.id == first.user_id).values(
            budgets=orjson.dumps([{"period": "day", "quota": 100}]).decode()))
        other = Token(user_id=first.user_id, key="k" * 48, name="second", remain_quota=10**9)
        s.add(other)
    await add_channel(db, base_url=upstream.url)
    async with db.session() as s:
        await save_option(s, "PreConsumedQuota", "0")
    await gateway.runtime.caches.reload_options()
    await gateway.reload()
    book = gateway.runtime.budgets
    book.clock, book.tz = (lambda: WEDNESDAY), UTC
    statuses = []
    async with aiohttp.ClientSession() as http:
        for i in range(12):
            key = first.key if i % 2 else "sk-" + "k" * 48
            async with http.post(gateway.url + "/v1/chat/completions", json=ASK, headers={"Authorization": key}) as r:
                statuses.append((r.status, await r.read()))
    await gateway.flush()
    spent = sum(r.quota or 0 for r in await logs(db))
    [day] = await book.states([BudgetScope(f"u:{first.user_id}:day", "user", Budget("day", 100))])
    assert day.used == spent <= 100 and spent > 80
    assert day.resets_at == datetime.datetime(2026, 12, 10, tzinfo=UTC).timestamp()
    assert {s for s, _ in statuses} == {200, 403}
    assert any(b"the user's day budget is used up" in body for _, body in statuses)
