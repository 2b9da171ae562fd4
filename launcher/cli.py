"""The `one-api` command: parse settings, prepare the database, start admin_api and the proxy workers."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import sys
import time
from pathlib import Path
from typing import Sequence

from launcher.logs import setup_logging
from launcher.prepare import prepare_database
from settings import VERSION, Settings, SettingsError, load_settings

log = logging.getLogger("one-api")


def _admin_main(settings: Settings) -> None:
    from admin_api.server import run

    setup_logging(settings)
    run(settings)


def _proxy_main(settings: Settings, worker: int) -> None:
    from proxy.server import run

    setup_logging(settings)
    run(settings, worker)


class Supervisor:
    """Starts the child processes and stops them all when one dies or a signal comes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ctx = multiprocessing.get_context("spawn")
        self.children: list[multiprocessing.process.BaseProcess] = []
        self.stopping = False

    def start(self) -> None:
        admin = self.ctx.Process(target=_admin_main, args=(self.settings,), name="admin_api")
        admin.start()
        self.children.append(admin)
        for worker in range(self.settings.workers):
            proc = self.ctx.Process(target=_proxy_main, args=(self.settings, worker), name=f"proxy-{worker}")
            proc.start()
            self.children.append(proc)

    def stop(self, *_: object) -> None:
        self.stopping = True

    def wait(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        code = 0
        while not self.stopping:
            dead = [c for c in self.children if not c.is_alive()]
            if dead:
                log.error("%s exited with code %s; stopping", dead[0].name, dead[0].exitcode)
                code = 1
                break
            time.sleep(0.2)
        self._terminate()
        return code

    def _terminate(self) -> None:
        # proxies first so in-flight relays can still reach admin-owned data; then admin
        for child in reversed(self.children):
            if child.is_alive():
                child.terminate()   # SIGTERM: graceful stop inside the child
        deadline = time.monotonic() + self.settings.shutdown_grace + 5
        for child in self.children:
            child.join(max(0.1, deadline - time.monotonic()))
            if child.is_alive():
                log.warning("%s did not stop in time; killing", child.name)
                child.kill()
                child.join()


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings = load_settings(argv=argv, dotenv=Path.cwd() / ".env")
    except SettingsError as e:
        print(f"one-api: {e}", file=sys.stderr)
        return 2
    if "--version" in argv:
        print(VERSION)
        return 0
    setup_logging(settings)
    log.info("One API (Python) %s starting on port %d", VERSION, settings.port)
    try:
        asyncio.run(prepare_database(settings))
    except Exception as e:  # a database we cannot reach or migrate: one clear line, no traceback wall
        log.error("database start-up failed: %s", e)
        print(f"one-api: database start-up failed: {e}", file=sys.stderr)
        return 1
    supervisor = Supervisor(settings)
    supervisor.start()
    return supervisor.wait()


if __name__ == "__main__":
    sys.exit(main())
