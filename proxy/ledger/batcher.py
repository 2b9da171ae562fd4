"""Accumulates additive balance and counter deltas and writes them in one transaction per flush.

Sums are exact: a delta is removed from the pending set only after the
transaction that applied it committed; a failed flush keeps it for the next.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from proxy.gateway.flusher import Flusher
from store import Database, add_counters


class DeltaBatcher(Flusher):
    what = "quota deltas"

    def __init__(self, db: Database, interval: float) -> None:
        super().__init__(interval)
        self.db = db
        self.users: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])    # quota, used_quota, request_count
        self.tokens: dict[int, list[int]] = defaultdict(lambda: [0, 0])      # remain_quota, used_quota
        self.channels: dict[int, int] = defaultdict(int)
        self.lock = asyncio.Lock()

    def user(self, user_id: int, quota: int = 0, used: int = 0, requests: int = 0) -> None:
        row = self.users[user_id]
        row[0] += quota
        row[1] += used
        row[2] += requests
        self.wake()

    def token(self, token_id: int, remain: int = 0, used: int = 0) -> None:
        row = self.tokens[token_id]
        row[0] += remain
        row[1] += used
        self.wake()

    def channel(self, channel_id: int, used: int) -> None:
        if channel_id and used:
            self.channels[channel_id] += used
            self.wake()

    def pending_user_quota(self, user_id: int) -> int:
        return self.users[user_id][0] if user_id in self.users else 0

    def pending_token_remain(self, token_id: int) -> int:
        return self.tokens[token_id][0] if token_id in self.tokens else 0

    async def flush(self) -> None:
        async with self.lock:
            if not (self.users or self.tokens or self.channels):
                return
            users = {k: tuple(v) for k, v in self.users.items() if any(v)}
            tokens = {k: tuple(v) for k, v in self.tokens.items() if any(v)}
            channels = {k: v for k, v in self.channels.items() if v}
            async with self.db.session() as s:
                await add_counters(s, user_deltas=users, token_deltas=tokens, channel_deltas=channels)  # type: ignore[arg-type]
            self._subtract(users, tokens, channels)

    def _subtract(self, users: dict[int, tuple[int, ...]], tokens: dict[int, tuple[int, ...]],
                  channels: dict[int, int]) -> None:
        """Remove exactly what was written (new deltas may have arrived during the flush)."""
        for uid, (dq, du, dr) in users.items():
            row = self.users[uid]
            row[0] -= dq
            row[1] -= du
            row[2] -= dr
            if not any(row):
                del self.users[uid]
        for tid, (dr, du) in tokens.items():
            row = self.tokens[tid]
            row[0] -= dr
            row[1] -= du
            if not any(row):
                del self.tokens[tid]
        for cid, du in channels.items():
            self.channels[cid] -= du
            if not self.channels[cid]:
                del self.channels[cid]
