"""In-process caches of tokens, users, channels and options, kept fresh by change events.

Reads on the hot path are dictionary lookups. A miss reads the database once.
Every second the poller reads new change events (written by admin_api in the
same transaction as the change) and drops what they name, so an edit reaches
every worker on every node within about a second; SYNC_FREQUENCY stays as a
full-refresh fallback. On the node where the edit was made it is seen at once:
admin_api bumps the node's change counter before it answers, and every request
starts with `token()`, which reads the new events first when the counter moved.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from proxy.gateway.background import cancel_and_wait
from proxy.gateway.records import ChannelRecord, TokenRecord, UserRecord
from proxy.gateway.timed_cache import TimedCache
from store import Database, events, load_options
from store import relay_queries as q
from store.change_counter import ChangeCounter

log = logging.getLogger(__name__)
K = TypeVar("K")   # a cache's key
R = TypeVar("R")   # a cache's record
CATCH_UP_WAIT = 2.0   # seconds a request waits for the change events an admin write on this node announced


class ChannelIndex:
    """group → model → channels, sorted by priority (highest first)."""

    def __init__(self, rows: list[tuple[str, str, ChannelRecord]],
                 served: frozenset[tuple[str, str]] = frozenset()) -> None:
        """`served`: (group, model) of every ability, a disabled channel's too (tells 503 from 404)."""
        self.served = served | {(g, m) for g, m, _ in rows}
        index: dict[str, dict[str, list[ChannelRecord]]] = defaultdict(lambda: defaultdict(list))
        self.by_id: dict[int, ChannelRecord] = {}
        for group, model, channel in rows:
            index[group][model].append(channel)
            self.by_id[channel.id] = channel
        self._index = {g: {m: sorted(cs, key=lambda c: -c.priority) for m, cs in models.items()}
                       for g, models in index.items()}

    def candidates(self, group: str, model: str) -> list[ChannelRecord]:
        return self._index.get(group, {}).get(model, [])

    def serves(self, group: str, model: str) -> bool:
        """Whether any channel of the group has the model, enabled or not (no: the model is unknown there)."""
        return (group, model) in self.served

    def models(self, group: str) -> list[str]:
        return sorted(self._index.get(group, {}))

    def channels(self, group: str) -> list[ChannelRecord]:
        """Every channel serving the group (whatever the model), each once, highest priority first."""
        seen: dict[int, ChannelRecord] = {}
        for channels in self._index.get(group, {}).values():
            for channel in channels:
                seen.setdefault(channel.id, channel)
        return sorted(seen.values(), key=lambda c: (-c.priority, c.id))

    def without(self, channel_id: int) -> ChannelIndex:
        """A copy that no longer routes to one channel (used right after a disable)."""
        copy = ChannelIndex([], self.served)
        copy._index = {g: {m: [c for c in cs if c.id != channel_id] for m, cs in ms.items()}
                       for g, ms in self._index.items()}
        copy.by_id = {i: c for i, c in self.by_id.items() if i != channel_id}
        return copy


class Caches:
    def __init__(self, db: Database, option_defaults: Mapping[str, str], sync_frequency: int,
                 on_options: Callable[[dict[str, str]], None] | None = None,
                 on_change: Callable[[set[str]], Awaitable[None]] | None = None,
                 poll_interval: float = 0.5, counter: ChangeCounter | None = None) -> None:
        """`counter`: the node's change counter (admin writes on this node), None without one."""
        self.db = db
        self.option_defaults = dict(option_defaults)
        self.sync_frequency = sync_frequency
        self.on_options = on_options
        self.on_change = on_change
        self.poll_interval = poll_interval
        self._refresh_lock = asyncio.Lock()
        self.tokens: TimedCache[str, TokenRecord] = TimedCache(maxsize=100_000, ttl=sync_frequency)
        self.users: TimedCache[int, UserRecord] = TimedCache(maxsize=100_000, ttl=sync_frequency)
        self.channels: dict[int, ChannelRecord] = {}
        self.index = ChannelIndex([])
        self.options: dict[str, str] = dict(option_defaults)
        self._last_event = 0
        self._last_full = 0.0
        self.counter = counter
        self._seen = 0            # the counter's value the events were last read at
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._seen = self.counter.value() if self.counter is not None else 0
        async with self.db.session() as s:
            self._last_event = await events.latest_id(s)
        await self.reload_options()
        await self.reload_channels()
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def token(self, key: str) -> TokenRecord | None:
        """Every request starts here: first catch up with a write made on this node since the last one."""
        if self.counter is not None and self.counter.value() != self._seen:
            await self.catch_up()
        return await self._read_through(self.tokens, key, q.token_by_key, TokenRecord.from_row)

    async def user(self, user_id: int) -> UserRecord | None:
        return await self._read_through(self.users, user_id, q.user_by_id, UserRecord.from_row)

    async def _read_through(self, cache: TimedCache[K, R], key: K, load: Callable[[Any, K], Awaitable[Any]],
                            snapshot: Callable[[Any], R]) -> R | None:
        """The cached record, or one database read that fills the cache (None when there is no row)."""
        record = cache.get(key)
        if record is None:
            async with self.db.session() as s:
                row = await load(s, key)
            if row is None:
                return None
            record = cache[key] = snapshot(row)
        return record

    async def channel(self, channel_id: int) -> ChannelRecord | None:
        """Any channel by id, enabled or not (pinning must tell 'disabled' from 'missing')."""
        if channel_id in self.channels:
            return self.channels[channel_id]
        async with self.db.session() as s:
            row = await q.channel_by_id(s, channel_id)
        if row is None:
            return None
        record = self.channels[channel_id] = ChannelRecord.from_row(row)
        return record

    async def mark_token(self, token: TokenRecord, status: int) -> None:
        """Write a refused token's status (expired 3, exhausted 4); its record leaves this worker's cache (the next
        request reads the row: the new status, or the row's own truth when it disagreed), the change event reaches
        the others. A failed write only costs the console its reason: logged, not raised."""
        self.tokens.pop(token.key, None)
        try:
            async with self.db.session() as s:
                await q.mark_token_unusable(s, token.id, status, int(time.time()))
        except Exception as e:   # noqa: BLE001 - the refusal is answered whatever the write did
            log.warning("could not record status %d of token #%d: %r", status, token.id, e)

    def served_models(self) -> set[str]:
        """Every model a channel offers, under its own name and the upstream name it maps to."""
        models = {model for _, model in self.index.served}
        for channel in self.channels.values():
            models.update(channel.model_mapping.values())
        return models

    def forget_channel(self, channel_id: int) -> None:
        """Stop routing to a channel in this process at once (auto-disable)."""
        self.channels.pop(channel_id, None)
        self.index = self.index.without(channel_id)

    async def reload_channels(self) -> None:
        async with self.db.session() as s:
            rows = await q.routable(s)
            served = frozenset(await q.served_models(s))
        records: dict[int, ChannelRecord] = {}
        triples = []
        for group, model, row in rows:
            record = records.setdefault(row.id, ChannelRecord.from_row(row))
            triples.append((group, model, record))
        self.index = ChannelIndex(triples, served)
        self.channels = dict(records)

    async def reload_options(self) -> None:
        async with self.db.session() as s:
            self.options = await load_options(s, self.option_defaults)
        if self.on_options:
            self.on_options(self.options)

    async def _poll(self) -> None:
        while True:
            # admin changes reach other nodes within a second
            await asyncio.sleep(self.poll_interval * (1 + random.random() * 0.2))
            try:
                await self._apply_events()
                if time.monotonic() - self._last_full > self.sync_frequency:
                    self._last_full = time.monotonic()
                    self.tokens.clear()
                    self.users.clear()
                    await self.reload_options()
                    await self.reload_channels()
            except Exception:
                log.exception("cache refresh failed; keeping the current view")

    async def refresh_now(self) -> None:
        """Read new change events at once (a Redis nudge); concurrent calls collapse into one."""
        if self._refresh_lock.locked():
            return
        try:
            await self._apply_events()
        except Exception:
            log.exception("cache refresh failed; keeping the current view")

    async def catch_up(self) -> None:
        """Read the change events now, once for every request waiting here (the counter moved).

        A read that fails or hangs is given up after CATCH_UP_WAIT: the request goes on with the current view
        and the poller retries, as it would without the counter."""
        assert self.counter is not None
        target = self.counter.value()
        try:
            async with asyncio.timeout(CATCH_UP_WAIT), self._refresh_lock:
                if self._seen < target:   # else another request caught up while this one waited
                    # shielded: a request that stops waiting must not cut a refresh in half
                    await asyncio.shield(self._read_events())
        except Exception as e:   # noqa: BLE001 - TimeoutError included; a failed read must not fail the request
            log.warning("could not read the change events at once (%r); the poller will", e)
        self._seen = max(self._seen, target)

    async def _apply_events(self) -> None:
        async with self._refresh_lock:
            await self._read_events()

    async def _read_events(self) -> None:
        async with self.db.session() as s:
            new = await events.since(s, self._last_event)
        if not new:
            return
        kinds = {e.kind for e in new}
        if events.TOKEN in kinds:
            self.tokens.clear()   # events name ids, the cache is keyed by key: drop all (cheap to refill)
        if events.USER in kinds:
            for e in new:
                if e.kind == events.USER and e.ref.isdigit():
                    self.users.pop(int(e.ref), None)
        if events.CHANNEL in kinds:
            await self.reload_channels()
        if events.OPTION in kinds:
            await self.reload_options()
        if self.on_change is not None:
            await self.on_change(kinds)
        self._last_event = new[-1].id   # last: a refresh that failed half-way is read again, not skipped
