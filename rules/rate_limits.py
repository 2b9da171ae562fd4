"""Rate limits as data (#17): a limit triple and the GroupRateLimits option's grammar (standard library only,
read by the proxy to enforce and by admin_api to check a value before it is saved)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
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



__all__ = ["FIELDS", "GROUP_OPTION", "GroupLimits", "Limit", "group_limits_error", "parse_group_limits"]
