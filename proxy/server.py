"""A proxy worker process: the data plane on the public port (SO_REUSEPORT when several workers)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from pathlib import Path

from proxy.core.pipeline import REQUEST_ID
from settings import Settings
from startup.logs import setup_logging
from startup.serve import run_forever, serve

# A request allocates a few thousand container objects; with Python's default first threshold (700) the
# collector ran several times per request and walked every in-flight request's objects each time (about
# 10 % of a worker's CPU at 64 concurrent requests). Objects of a finished request die by reference count
# anyway; the collector is for cycles, and finding those every 20 000 allocations bounds their memory the same.
GC_THRESHOLDS = (20_000, 50, 1_000)
# On stop the app's own drain (proxy.app, on_shutdown) gives relays SHUTDOWN_GRACE and cuts the rest; aiohttp's
# wait after it (which it makes twice) is for what is left, a cut stream's last write to a slow client or an
# admin call passed through, and stays short so the stop ends well within the supervisor's SHUTDOWN_GRACE + 5 s
# (a worker killed there would lose its last settlements).
AFTER_DRAIN = 1.0


async def _settle_heap() -> None:
    """What start built (price tables, catalog, routes, caches, libraries) lives as long as the process:
    moved out of the collector's sight, full collections no longer walk it on the request path."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def preload(settings: Settings) -> None:
    """What the template process (launcher.template) holds before it forks the workers: their modules and the
    tokenizer encodings (into the tokenizer's per-process registry, where each worker's Tokenizer finds them).
    Nothing here opens a connection, starts a thread or makes an event loop: all of it is shared after the fork."""
    import proxy.app  # noqa: F401  (every addon, converter and the store's tables)
    from proxy.gateway.tokenizer import Tokenizer, shared_encodings, trim_heap

    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401
    Tokenizer(settings.tiktoken_cache_dir, preload=shared_encodings(settings.tiktoken_preload))
    trim_heap()


def run(settings: Settings, worker: int = 0, ledger_owner: str | None = None, log_path: Path | None = None,
        database_ready: Callable[[], object] | None = None) -> None:
    """`ledger_owner`: the socket of the process that owns the balances (SQLite with several workers);
    `log_path`: the launcher's log file (every line carries the relay's request id); `database_ready`: blocks
    until the launcher has prepared the database (imports and tokenizer load first, meanwhile)."""
    setup_logging(settings, REQUEST_ID, log_path)

    async def main() -> None:
        from proxy.app import create_app
        from proxy.runtime import Runtime
        from startup.logs import line_sink

        runtime = Runtime.from_settings(settings, ledger_owner)
        app = create_app(settings, runtime, access_sink=line_sink("one-api.access"))
        if database_ready is not None:
            database_ready()     # nothing runs on this loop yet: blocking here holds up no request
        await serve(app, "0.0.0.0", settings.port, reuse_port=settings.workers > 1,
                    shutdown_timeout=AFTER_DRAIN, ready=_settle_heap)

    run_forever(main)
