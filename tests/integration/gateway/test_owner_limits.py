"""Rate limits through the ledger owner (#17): two workers' RemoteWindows over a real unix socket."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from proxy.ledger import RemoteLedger, RemoteWindows
from proxy.ledger.owner import LedgerOwner
from proxy.ledger.strategies import MemoryLedger
from proxy.limits import LimitExceeded, Ticket
from proxy.limits.policy import Limit, Scope
from store import Database

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
SCOPES = [Scope("t:1", "token", Limit(rpm=10, parallel=3))]


async def _try(windows: RemoteWindows) -> Ticket | str:
    try:
        return await windows.acquire(SCOPES, 0)
    except LimitExceeded as e:
        return e.refusal.kind


async def test_two_workers_share_one_window_and_a_lost_worker_frees_its_slots(db: Database, tmp_path: Path) -> None:
    sock = str(tmp_path / "ledger.sock")
    owner = LedgerOwner(MemoryLedger(db, 0.05))
    await owner.start(sock)
    clients = [RemoteLedger(sock), RemoteLedger(sock)]
    workers = [RemoteWindows(c) for c in clients]
    try:
        held = [await workers[0].acquire(SCOPES, 0), await workers[0].acquire(SCOPES, 0),
                await workers[1].acquire(SCOPES, 0)]
        assert held[2].headers["x-ratelimit-remaining-requests"] == "7"
        assert await _try(workers[1]) == "parallel"
        workers[1].finish(held[2], 0)
        workers[1].finish(held[2], 0)                            # twice: freed once
        results = await asyncio.gather(*(_try(workers[1]) for i in range(20)))
        assert Counter(r if isinstance(r, str) else "ok" for r in results) == {"ok": 1, "parallel": 19}
        await clients[0].close()                                 # worker 0 stops: its two slots come free
        deadline = time.monotonic() + 5
        while owner.windows.logs["t:1"].open != 1:
            assert time.monotonic() < deadline, "the lost worker's slots were never freed"
            await asyncio.sleep(0.01)
        results = await asyncio.gather(*(_try(workers[1]) for _ in range(20)))
        # 4 requests so far in the minute: 6 more fit the RPM, 2 of them the free slots
        assert Counter(r if isinstance(r, str) else "ok" for r in results) == {"ok": 2, "parallel": 18}
        assert owner.windows.logs["t:1"].open == 3 and len(owner.windows.logs["t:1"]) == 6
    finally:
        await clients[1].close()
        await owner.close()
