"""The rate-limit policy and the in-memory sliding windows (#17), with an injected clock: no sleeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from proxy.limits import LimitExceeded, MemoryWindows, parse_group_limits, scopes_for
from proxy.limits.policy import Limit, Scope, Window, decide, duration, headers
from rules.rate_limits import (
    Budget,
    budgets_error,
    encode_budgets,
    group_limits_error,
    parse_budgets,
    resets_at,
    window_start,
)


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Who:
    id: int
    rpm_limit: int = 0
    tpm_limit: int = 0
    max_parallel_requests: int = 0

    @property
    def limit(self) -> Limit:
        return Limit.of(self)


def test_tightest_limit_wins_and_unset_is_unlimited() -> None:
    groups = parse_group_limits('{"vip": {"rpm_limit": 30, "max_parallel_requests": 2,'
                                ' "models": {"gpt-5": {"rpm_limit": 20}}}}')
    assert scopes_for(Who(1), Who(2), "default", "gpt-5", groups) == []
    token, user = Who(1, rpm_limit=100), Who(2, rpm_limit=50, tpm_limit=1000)
    scopes = scopes_for(token, user, "vip", "gpt-5", groups)
    assert [(s.key, s.name, s.limit) for s in scopes] == [
        ("t:1", "token", Limit(100, 0, 0)), ("u:2", "user", Limit(30, 1000, 2)), ("m:2:gpt-5", "model gpt-5",
                                                                                  Limit(20, 0, 0))]
    assert len(scopes_for(token, user, "vip", "x" * 400, groups)[1].key) <= 191


def test_group_option_is_checked_before_it_is_saved() -> None:
    assert group_limits_error('{"default": {"rpm_limit": 10, "models": {"gpt-5": {"tpm_limit": 5}}}}') is None
    assert group_limits_error("{") == "GroupRateLimits must be JSON"
    assert group_limits_error('{"default": {"rpm": 10}}') == "GroupRateLimits.default: invalid rpm"
    assert group_limits_error('{"default": {"rpm_limit": -1}}') is not None
    assert group_limits_error('{"default": {"models": {"m": {"rpm_limit": "5"}}}}') is not None
    assert parse_group_limits("not json") == {} and parse_group_limits('[1]') == {}


def test_decide_names_the_first_limit_broken_and_when_to_retry() -> None:
    scope = Scope("t:1", "token", Limit(rpm=2, tpm=100, parallel=1))
    assert decide([scope], [Window(1, 50, 0, 1000)], 50, 2000) is None
    full = decide([scope], [Window(2, 0, 0, 1000)], 1, 2000)
    assert full is not None and (full.kind, full.retry_after) == ("requests", 59)
    tokens = decide([scope], [Window(1, 60, 0, 1000)], 41, 2000)
    assert tokens is not None and tokens.kind == "tokens" and "used 60, requested 41" in tokens.message()
    busy = decide([scope], [Window(0, 0, 1, None)], 1, 2000)
    assert busy is not None and busy.kind == "parallel" and busy.retry_after == 1
    assert [duration(20), duration(1000), duration(1500), duration(360_000)] == ["20ms", "1s", "1.5s", "6m0s"]
    assert headers([scope], [Window(1, 10, 0, 1000)], 5, 2000, admitted=True) == {
        "x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "59s",
        "x-ratelimit-limit-tokens": "100", "x-ratelimit-remaining-tokens": "85", "x-ratelimit-reset-tokens": "59s"}


async def test_sliding_window_admits_at_most_n_in_any_60_seconds() -> None:
    """Requests every half second for 90 s on 10 RPM: every 60 s window holds at most 10 admitted."""
    clock = Clock()
    windows = MemoryWindows(clock)
    scope = [Scope("t:1", "token", Limit(rpm=10))]
    admitted: list[float] = []
    for second in range(180):
        clock.now = 1_000_000.0 + second * 0.5      # one every half second
        try:
            ticket = await windows.acquire(scope, 0)
        except LimitExceeded as e:
            assert e.refusal.kind == "requests"
            continue
        admitted.append(clock.now)
        windows.finish(ticket, 0)
    assert all(sum(1 for t in admitted if start <= t < start + 60) <= 10 for start in admitted)
    assert len(admitted) == 20        # 10 at the start, 10 more once the first ones left the window
    assert admitted[10] == admitted[0] + 60          # a request counts for exactly 60 s


async def test_tpm_estimate_is_corrected_at_settlement_and_concurrency_released_once() -> None:
    clock = Clock()
    windows = MemoryWindows(clock)
    scope = [Scope("t:1", "token", Limit(tpm=1000, parallel=2))]
    first = await windows.acquire(scope, 900)
    with pytest.raises(LimitExceeded) as refused:
        await windows.acquire(scope, 200)
    assert refused.value.refusal.kind == "tokens"
    windows.finish(first, 30)
    windows.finish(first, 30)                           # a second finish frees nothing twice
    second = await windows.acquire(scope, 900)
    third = await windows.acquire(scope, 10)
    with pytest.raises(LimitExceeded) as busy:
        await windows.acquire(scope, 0)
    assert busy.value.refusal.kind == "parallel"
    windows.finish(second, 0)
    windows.finish(third, 0)
    assert windows.logs["t:1"].open == 0 and windows.logs["t:1"].tokens == 30
    clock.now += 61                                    # the window rolled over: everything is free again
    await windows.acquire(scope, 1000)


def test_a_busy_window_keeps_exact_counts_as_its_ring_grows_and_wraps() -> None:
    """Thousands of requests a minute on one scope, finished out of order while the ring grows and its oldest
    requests leave: the window's requests, tokens and open slots stay what a plain list of them says."""
    clock = Clock()
    windows = MemoryWindows(clock)
    scope = [Scope("t:1", "token", Limit(rpm=10**9, tpm=10**12, parallel=10**6))]
    live: list[tuple[float, int]] = []          # (admitted at, tokens) of every request, the reference
    open_tickets = []
    for n in range(5000):
        clock.now = 1_000_000.0 + n * 0.03        # 2000 a minute: the window holds ~2000 at once
        ticket = windows.try_acquire(scope, 100)
        live.append((clock.now, 100))
        open_tickets.append((n, ticket))
        if n % 3 == 0 and len(open_tickets) > 50:   # finish an older one with its real tokens
            m, done = open_tickets.pop(len(open_tickets) // 2)
            windows.finish(done, m % 7)
            live[m] = (live[m][0], m % 7)
    log = windows.logs["t:1"]
    window = log.window(int(clock.now * 1000))
    in_window = [(at, tok) for at, tok in live if int(at * 1000) > int(clock.now * 1000) - 60_000]
    assert window.requests == len(in_window) == len(log)
    assert window.tokens == sum(tok for _, tok in in_window)
    assert window.parallel == len(open_tickets)
    assert window.oldest_ms == int(in_window[0][0] * 1000)


def test_budget_windows_follow_the_calendar_of_the_operators_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    saturday = int(datetime(2026, 3, 28, 15, 0, tzinfo=berlin).timestamp())   # DST starts the next night

    def local(ts: int) -> datetime:
        return datetime.fromtimestamp(ts, berlin)
    day, week, month = (window_start(p, saturday, 0, berlin) for p in ("day", "week", "month"))
    assert local(day) == datetime(2026, 3, 28, tzinfo=berlin)
    assert local(week) == datetime(2026, 3, 23, tzinfo=berlin)                # Monday
    assert local(month) == datetime(2026, 3, 1, tzinfo=berlin)
    assert local(resets_at("day", day, berlin)) == datetime(2026, 3, 29, tzinfo=berlin)
    assert resets_at("week", week, berlin) - week == 7 * 86400 - 3600       # a week with a 23-hour Sunday
    assert local(resets_at("month", window_start("month", saturday + 300 * 86400, 0, berlin), berlin)) == \
        datetime(2027, 2, 1, tzinfo=berlin)                                   # December rolls into the next year
    # rolling 5 hours: kept while inside, a new window from the first request after it ended
    assert window_start("5h", saturday + 4 * 3600, saturday) == saturday
    assert window_start("5h", saturday + 5 * 3600, saturday) == saturday + 5 * 3600
    assert window_start("5h", saturday, 0) == saturday


def test_budgets_column_grammar() -> None:
    assert parse_budgets('[{"period": "5h", "quota": 10}, {"period": "week", "quota": 20}]') == (
        Budget("5h", 10), Budget("week", 20))
    assert parse_budgets(None) == () and parse_budgets("x") == () and parse_budgets('[{"period": "year"}]') == ()
    assert budgets_error([{"period": "day", "quota": True}]) == "budget quota must be a non-negative integer"
    assert encode_budgets([{"period": "day", "quota": 5, "used": 3, "resets_at": 9}]) == \
        '[{"period": "day", "quota": 5}]'
