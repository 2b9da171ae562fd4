"""A proxy worker process: the data plane on the public port (SO_REUSEPORT when several workers)."""

from __future__ import annotations

import gc

from launcher.serve import run_forever, serve
from settings import Settings


async def _settle_heap() -> None:
    """What start built (price tables, catalog, routes, caches, libraries) lives as long as the process:
    moved out of the collector's sight, full collections no longer walk it on the request path."""
    gc.collect()
    gc.freeze()


def run(settings: Settings, worker: int = 0, ledger_owner: str | None = None) -> None:
    """`ledger_owner`: the socket of the process that owns the balances (SQLite with several workers)."""
    async def main() -> None:
        from launcher.logs import line_sink
        from proxy.app import create_app
        from proxy.runtime import Runtime

        runtime = Runtime.from_settings(settings, ledger_owner)
        app = create_app(settings, runtime, access_sink=line_sink("one-api.access"))
        await serve(app, "0.0.0.0", settings.port, reuse_port=settings.workers > 1,
                    shutdown_timeout=settings.shutdown_grace, ready=_settle_heap)

    run_forever(main)
