"""Rate limits and budgets as data (#17): a limit triple, the GroupRateLimits option's grammar, budgets and
their calendar (standard library only: read by the proxy to enforce and by admin_api to check and report)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

GROUP_OPTION = "GroupRateLimits"
FIELDS = ("rpm_limit", "tpm_limit", "max_parallel_requests")


@dataclass(frozen=True, slots=True)
class Limit:
    """Requests and tokens per minute, requests at once; 0 = unlimited."""

    rpm: int = 0
    tpm: int = 0
    parallel: int = 0

    def __bool__(self) -> bool:
        return bool(self.rpm or self.tpm or self.parallel)

    def tighter(self, other: Limit) -> Limit:
        """Kind by kind, the smaller of two set limits (an unset one never loosens)."""
        return Limit(_min_set(self.rpm, other.rpm), _min_set(self.tpm, other.tpm),
                     _min_set(self.parallel, other.parallel))

    @classmethod
    def of(cls, value: Any) -> Limit:
        """From a record or a mapping with rpm_limit, tpm_limit, max_parallel_requests (absent, None, <0 = 0)."""
        get = value.get if isinstance(value, Mapping) else lambda name: getattr(value, name, 0)
        return cls(*(_count(get(name)) for name in FIELDS))


def _min_set(a: int, b: int) -> int:
    return min(a, b) if a and b else a or b


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@dataclass(frozen=True, slots=True)
class GroupLimits:
    """A group's limits: a default for every member, and per model."""

    default: Limit = Limit()
    models: Mapping[str, Limit] = field(default_factory=dict)


def parse_group_limits(raw: str | None) -> dict[str, GroupLimits]:
    """The GroupRateLimits option: {"group": {"rpm_limit": .., ..., "models": {"model": {"rpm_limit": ..}}}}.
    Invalid JSON or shapes read as no limits (checked when saved, see admin_api.option_rules)."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    groups = {}
    for name, spec in value.items():
        if not isinstance(spec, dict):
            continue
        models = spec.get("models")
        per_model = {str(m): Limit.of(v) for m, v in models.items() if isinstance(v, dict)} \
            if isinstance(models, dict) else {}
        groups[str(name)] = GroupLimits(Limit.of(spec), {m: lim for m, lim in per_model.items() if lim})
    return groups


def group_limits_error(raw: str) -> str | None:
    """Why a GroupRateLimits value would be refused when saved (None: fine)."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return "GroupRateLimits must be JSON"
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        return "GroupRateLimits must be an object of groups, each an object"
    for group, spec in value.items():
        for key, item in spec.items():
            if key == "models":
                if not isinstance(item, dict) or not all(isinstance(v, dict) for v in item.values()):
                    return f"GroupRateLimits.{group}.models must be an object of models, each an object"
                bad = [f"{m}.{k}" for m, v in item.items() for k, n in v.items() if not _valid(k, n)]
                if bad:
                    return f"GroupRateLimits.{group}.models: invalid {bad[0]}"
            elif not _valid(key, item):
                return f"GroupRateLimits.{group}: invalid {key}"
    return None


def _valid(key: str, value: Any) -> bool:
    return key in FIELDS and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53



PERIODS = ("5h", "day", "week", "month")
FIVE_HOURS = 5 * 3600


@dataclass(frozen=True, slots=True)
class Budget:
    """At most `quota` spent per period: "5h" (rolling: five hours from the first request after the last
    window ended), "day", "week" (from Monday), "month" (calendar, in the operator's time zone)."""

    period: str
    quota: int


def budgets_error(value: Any) -> str | None:
    """Why a `budgets` value would be refused (None: fine): a list of {"period", "quota"}, one per period."""
    if value is None:
        return None
    if not isinstance(value, list):
        return "budgets must be a list of {period, quota}"
    seen = set()
    for item in value:
        if not isinstance(item, dict) or set(item) - {"period", "quota", "used", "resets_at"}:
            return "budgets must be a list of {period, quota}"
        period, quota = item.get("period"), item.get("quota")
        if period not in PERIODS:
            return f"budget period must be one of {', '.join(PERIODS)}"
        if not isinstance(quota, int) or isinstance(quota, bool) or not 0 <= quota < 2**53:
            return "budget quota must be a non-negative integer"
        if period in seen:
            return f"budget period {period} is given twice"
        seen.add(period)
    return None


def parse_budgets(raw: str | None) -> tuple[Budget, ...]:
    """A stored `budgets` column (JSON); anything invalid reads as no budgets."""
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return ()
    if not value or budgets_error(value) is not None:
        return ()
    return tuple(Budget(item["period"], item["quota"]) for item in value)


def encode_budgets(value: list[dict[str, Any]] | None) -> str | None:
    """What a valid `budgets` value is stored as (only period and quota; None for none)."""
    if not value:
        return None
    return json.dumps([{"period": item["period"], "quota": item["quota"]} for item in value])


def _local(ts: float, tz: tzinfo | None) -> datetime:
    return datetime.fromtimestamp(ts, tz) if tz is not None else datetime.fromtimestamp(ts).astimezone()


def window_start(period: str, now: int, previous: int, tz: tzinfo | None = None) -> int:
    """The start (Unix seconds) of the period's window holding `now`; `previous` is the last window's start
    (0: none), which a rolling 5-hour window keeps until five hours have passed."""
    if period == "5h":
        return previous if previous and previous <= now < previous + FIVE_HOURS else now
    day = _local(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return int(day.timestamp())


def resets_at(period: str, start: int, tz: tzinfo | None = None) -> int:
    """When the window that started at `start` ends (Unix seconds)."""
    if period == "5h":
        return start + FIVE_HOURS
    begin = _local(start, tz)
    if period == "day":
        end = begin + timedelta(days=1)
    elif period == "week":
        end = begin + timedelta(days=7)
    else:
        end = begin.replace(year=begin.year + 1, month=1) if begin.month == 12 else begin.replace(month=begin.month + 1)
    # a calendar day across a DST change is 23 or 25 hours: the next local midnight, not start + 24 h
    midnight = datetime(end.year, end.month, end.day, tzinfo=tz)
    return int((midnight if tz is not None else midnight.astimezone()).timestamp())


__all__ = ["FIELDS", "GROUP_OPTION", "PERIODS", "Budget", "GroupLimits", "Limit", "budgets_error", "encode_budgets",
           "group_limits_error", "parse_budgets", "resets_at", "window_start"]
