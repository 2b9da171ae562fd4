"""Typed access to a JSON request body: wrong types are refused the way Go's decoder refuses them."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from admin_api.envelope import INVALID_PARAMETER, Refusal

INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)
QUOTA = (-(10**17), 10**17)   # far beyond any real balance, far from BIGINT overflow when added up


class Payload:
    """A decoded JSON object; each getter checks the field's type and refuses with 无效的参数."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @classmethod
    async def read(cls, request: web.Request, status: int = 200) -> Payload:
        raw = await request.read()
        try:
            data = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise Refusal(INVALID_PARAMETER, status) from None
        if not isinstance(data, dict):
            raise Refusal(INVALID_PARAMETER, status)
        return cls(data)

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def text(self, name: str, default: str = "") -> str:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, str) or "\x00" in value:
            raise Refusal(INVALID_PARAMETER)
        return value

    def integer(self, name: str, default: int = 0, bounds: tuple[int, int] = INT64) -> int:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
            raise Refusal(INVALID_PARAMETER)
        return value

    def number(self, name: str, default: float = 0.0) -> float:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) > 1e300:
            raise Refusal(INVALID_PARAMETER)
        return float(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise Refusal(INVALID_PARAMETER)
        return value
