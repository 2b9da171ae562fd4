"""Email verification and password-reset codes (one-api.md §9.5): 10 minutes, single use.

In this process by default; in Redis when it is configured, so any node can check a code another
node sent (One API keeps them per process and needs sticky sessions).
"""

from __future__ import annotations

import hmac
import time
from typing import Any

VALID_SECONDS = 600
VERIFY, RESET = "v", "r"


class MemoryCodes:
    def __init__(self) -> None:
        self._codes: dict[str, tuple[str, float]] = {}

    async def put(self, purpose: str, email: str, code: str) -> None:
        now = time.monotonic()
        if len(self._codes) > 10:
            self._codes = {k: v for k, v in self._codes.items() if now - v[1] < VALID_SECONDS}
        self._codes[purpose + email] = (code, now)

    async def check(self, purpose: str, email: str, code: str) -> bool:
        found = self._codes.get(purpose + email)
        return (found is not None and time.monotonic() - found[1] < VALID_SECONDS
                and hmac.compare_digest(found[0], code))

    async def forget(self, purpose: str, email: str) -> None:
        self._codes.pop(purpose + email, None)


class RedisCodes:
    def __init__(self, redis: Any) -> None:
        self._redis = redis

    async def put(self, purpose: str, email: str, code: str) -> None:
        await self._redis.set(f"verification:{purpose}:{email}", code, ex=VALID_SECONDS)

    async def check(self, purpose: str, email: str, code: str) -> bool:
        found = await self._redis.get(f"verification:{purpose}:{email}")
        if isinstance(found, bytes):
            found = found.decode()
        return found is not None and hmac.compare_digest(found, code)

    async def forget(self, purpose: str, email: str) -> None:
        await self._redis.delete(f"verification:{purpose}:{email}")


Codes = MemoryCodes | RedisCodes
