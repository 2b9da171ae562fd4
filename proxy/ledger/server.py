"""The ledger owner process (SQLite, several workers): holds the balances, serves the workers on a unix socket.

It stops on SIGTERM only, which the supervisor sends after every worker has
exited (their last settlements delivered); then it writes its deltas and exits.
SIGINT is ignored: a Ctrl-C reaches the whole process group at once, and the
owner must outlive the workers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from settings import Settings
from startup.logs import setup_logging
from startup.serve import run_forever

log = logging.getLogger(__name__)


def run(settings: Settings, path: str, ready: Callable[[], None], log_path: Path | None = None) -> None:
    """`ready` is called once the socket accepts connections; `log_path`: the launcher's log file."""
    setup_logging(settings, path=log_path)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    async def main() -> None:
        from proxy.ledger.owner import LedgerOwner
        from proxy.ledger.strategies import MemoryLedger
        from startup.database import database_for

        db = database_for(settings)
        owner = LedgerOwner(MemoryLedger(db, settings.settle_interval))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await owner.start(path)
        log.info("ledger owner serving on %s", path)
        ready()
        await stop.wait()
        await owner.close()
        await db.dispose()
        log.info("ledger owner stopped; balances written")

    run_forever(main)
