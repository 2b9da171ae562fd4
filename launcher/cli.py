"""The `one-api` command: parse settings, prepare the database, start admin_api and the proxy workers.

This supervisor process lives as long as the gateway and does little: it imports neither SQLAlchemy nor aiohttp
(the database is prepared in a one-shot child), which keeps it at about a bare interpreter's memory.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from launcher.child import Child, Inherited, ReadySignal
from launcher.forked import Supervised, Template, become_subreaper, reap_orphans, stop_strays
from launcher.privileges import drop_privileges
from launcher.restarts import RestartPolicy
from launcher.web_console import ensure_web_console
from settings import IGNORED, VERSION, Settings, SettingsError, load_settings
from startup.dsns import check_dsns
from startup.logs import SizeRotator, log_file_path, setup_logging
from store.change_counter import ChangeCounter
from store.dsn import parse_dsn

log = logging.getLogger("one-api")
# prometheus-client's variable: set, its metrics live in per-process files there that a scrape aggregates
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _prepare_main(settings: Settings, log_path: Path | None) -> None:
    """Schema and root account, in a child process that exits when done (its imports leave with it)."""
    import asyncio

    from startup.database import prepare_database

    setup_logging(settings, path=log_path)
    try:
        asyncio.run(prepare_database(settings))
    except Exception as e:  # a database we cannot reach or migrate: one clear line, no traceback wall
        log.error("database start-up failed: %s", e)
        print(f"one-api: database start-up failed: {e}", file=sys.stderr)
        sys.exit(1)


def start_database_preparation(settings: Settings, log_path: Path | None) -> Child:
    """The database preparation in a child process (join it: exit code 0 when the database is ready)."""
    child = Child(_prepare_main, (settings, log_path), name="prepare")
    child.start()
    return child


def _admin_main(settings: Settings, log_path: Path | None, database_ready: ReadySignal | None = None) -> None:
    from admin_api.server import run

    run(settings, log_path, database_ready.wait if database_ready is not None else None)


def _proxy_main(settings: Settings, worker: int, log_path: Path | None, ledger_owner: str | None = None,
                database_ready: ReadySignal | None = None) -> None:
    from proxy.server import run

    run(settings, worker, ledger_owner, log_path, database_ready.wait if database_ready is not None else None)


def _template_main(control: Inherited, settings: Settings, *signals: ReadySignal | None) -> None:
    """`signals`: the ready signals of the children it will fork, inherited to be inherited by them in turn."""
    from launcher.template import template_main

    template_main(control, settings)


def _ledger_main(settings: Settings, path: str, ready: ReadySignal, log_path: Path | None) -> None:
    from proxy.ledger.server import run

    run(settings, path, ready.set, log_path)


# what the template forks when there is one (any other child, and all of them without a template, is spawned)
FORKED = (_admin_main, _proxy_main, _ledger_main)


def announce_ignored(settings: Settings) -> None:
    """One line per One API variable that was set but has no use here, so no operator tunes it in vain."""
    for name in settings.ignored:
        log.info("%s is accepted for One API compatibility and ignored: %s", name, IGNORED[name])


def uses_template(settings: Settings) -> bool:
    """With several workers, they, admin_api and the ledger owner are forked from one template process that
    loaded their modules and encodings once (their pages are shared); one worker and admin_api are spawned (a
    template measured about the same tree PSS there, with one process more)."""
    return settings.workers > 1


def needs_ledger_owner(settings: Settings) -> bool:
    """SQLite has one writer: with several workers one process owns the balances (no write per request)."""
    if settings.workers < 2:
        return False
    return not settings.sql_dsn or parse_dsn(settings.sql_dsn).is_sqlite


class Supervisor:
    """Starts the child processes, starts a dead proxy worker or admin_api again (with a backoff), and stops
    them all on a signal, a crash loop, or the ledger owner's death (its balances can't be rebuilt live).

    `start()` runs while the database is still being prepared: admin_api and (without a ledger owner) the
    workers import their libraries and load the tokenizer meanwhile and wait on `database_ready`, which
    `database_prepared()` sets (a restarted child finds it set); the ledger owner and the workers that need it
    start only then. With several workers the template (`launcher.template`) is started first and forks
    admin_api, the workers and the ledger owner (and their restarts): each is then this process's child as a
    spawned one is (a subreaper's), and a dead template is started again without touching them."""

    def __init__(self, settings: Settings, log_path: Path | None = None) -> None:
        self.settings = settings
        self.children: list[Supervised] = []
        self.stopping = False
        self.log_path = log_path
        self.rotator = SizeRotator(log_path) if log_path is not None else None
        self.metrics_dir: str | None = None
        self.ledger: Supervised | None = None   # SQLite with several workers
        self.ledger_ready: ReadySignal | None = None     # made before the template, which passes it on
        self.ledger_dir: str | None = None
        # restartable children by name: how to start them, when they started, their policy, when they are due
        self.recipes: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {}
        self.started: dict[str, float] = {}
        self.policies: dict[str, RestartPolicy] = {}
        self.due: dict[str, float] = {}
        self.counter_dir: str | None = None      # the change counter's private directory
        self.admin_dir: str | None = None        # admin_api's socket's private directory (no ADMIN_SOCKET given)
        self.database_ready = ReadySignal()
        self.template: Template | None = None     # several workers: what forks them (None: they are spawned)
        self.subreaper = False      # orphans of the tree are handed to this process (then it reaps them)

    def start(self) -> None:
        self._metrics_environment()
        self._change_counter()
        self._admin_socket()
        self._start_template()
        self._spawn("admin_api", _admin_main, (self.settings, self.log_path, self.database_ready))
        if not needs_ledger_owner(self.settings):
            for worker in range(self.settings.workers):
                self._spawn(f"proxy-{worker}", _proxy_main,
                            (self.settings, worker, self.log_path, None, self.database_ready))

    def database_prepared(self) -> None:
        """The database is ready: the waiting children go on; the ledger owner and its workers start."""
        self.database_ready.set()
        if not needs_ledger_owner(self.settings):
            return
        owner = self._start_ledger()     # the workers start once it accepts connections
        if owner is None:
            return          # wait() sees the dead ledger process and stops
        for worker in range(self.settings.workers):
            self._spawn(f"proxy-{worker}", _proxy_main, (self.settings, worker, self.log_path, owner, None))

    def abandon(self) -> None:
        """The database could not be prepared: stop what start() started."""
        self._terminate()

    def _spawn(self, name: str, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.children.append(self._launch(name, target, args))
        self.recipes[name] = (target, args)
        self.started[name] = time.monotonic()

    def _launch(self, name: str, target: Callable[..., None], args: tuple[Any, ...]) -> Supervised:
        """Forked from the template when there is one, else spawned as a fresh interpreter."""
        proc: Supervised | None = None
        if self.template is not None and target in FORKED:
            proc = self.template.fork(name, target, args)
        if proc is None:
            child = Child(target, args, name=name)
            child.start()
            log.info("started %s (pid %s)", name, child.pid)
            return child
        log.info("started %s (pid %s), forked from the template", name, proc.pid)
        return proc

    def _start_template(self) -> None:
        """The template that forks the workers (several workers only): this process becomes their subreaper, so
        each forked worker is its own child as a spawned one would be."""
        if self.template is None:
            if not uses_template(self.settings) or not become_subreaper():
                return
            self.subreaper = True
            if needs_ledger_owner(self.settings):
                self.ledger_ready = ReadySignal()
            self.template = Template(_template_main, (self.settings, self.database_ready, self.ledger_ready))
        child = self.template.start()
        log.info("started template (pid %s)", child.pid)
        self.children.append(child)
        self.started[child.name] = time.monotonic()

    def _start_ledger(self) -> str | None:
        """Start the ledger owner on a socket in a private directory (0700); its path once it accepts connections."""
        self.ledger_dir = tempfile.mkdtemp(prefix="one-api-ledger-")
        path = os.path.join(self.ledger_dir, "ledger.sock")
        ready = self.ledger_ready or ReadySignal()
        self.ledger = self._launch("ledger", _ledger_main, (self.settings, path, ready, self.log_path))
        self.children.append(self.ledger)
        deadline = time.monotonic() + 60
        try:
            while not ready.wait(0.1):
                if not self.ledger.is_alive() or time.monotonic() > deadline:
                    log.error("the ledger process did not start")
                    self.ledger.kill()      # wait() then sees it dead and stops
                    self.ledger.join()
                    return None
        finally:
            ready.close()
        return path

    def _change_counter(self) -> None:
        """The node's change counter in a private directory (0700): admin_api bumps it after a write, the
        workers read it at the start of every request, so they all see the write at once (read-your-writes)."""
        self.counter_dir = tempfile.mkdtemp(prefix="one-api-changes-")
        path = os.path.join(self.counter_dir, "changes")
        ChangeCounter(path).close()      # created before any child maps it
        self.settings = self.settings.with_(change_counter=path)

    def _admin_socket(self) -> None:
        """admin_api listens on a unix socket, not a TCP port: in a private directory (0700) made for this run
        unless ADMIN_SOCKET names one (nginx on this host may then be pointed at it)."""
        path = self.settings.admin_socket
        if not path:
            self.admin_dir = tempfile.mkdtemp(prefix="one-api-admin-")
            path = os.path.join(self.admin_dir, "admin.sock")
        else:
            path = os.path.abspath(path)
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        self.settings = self.settings.with_(admin_socket=path)

    def _metrics_environment(self) -> None:
        """Several workers: a fresh multiprocess directory (no stale files of an earlier run); one: plain registry."""
        if self.settings.workers > 1:
            self.metrics_dir = tempfile.mkdtemp(prefix="one-api-metrics-")
            os.environ[MULTIPROC_ENV] = self.metrics_dir      # spawned children inherit it
        else:
            os.environ.pop(MULTIPROC_ENV, None)

    def stop(self, *_: object) -> None:
        self.stopping = True

    def catch_signals(self) -> None:
        """SIGTERM and SIGINT ask for a graceful stop (children are running from start() on)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def wait(self) -> int:
        self.catch_signals()
        code = 0
        while not self.stopping:
            dead = [c for c in self.children if not c.is_alive()]
            if not all([self._bury(c) for c in dead]):
                code = 1
                break
            self._restart_due()
            if self.subreaper:
                for pid in stop_strays(c.pid for c in self.children):
                    log.warning("pid %s is a child of one-api that it did not start; killed it", pid)
                reap_orphans(c.pid for c in self.children)
            self._rotate_logs()
            time.sleep(0.2)
        self._terminate()
        return code

    def _bury(self, child: Supervised) -> bool:
        """A child died: schedule its restart (True), or say why the gateway stops (False)."""
        self.children.remove(child)
        name = child.name
        if self.template is not None and child is self.template.child:
            return self._bury_template(child)
        if child is self.ledger or name not in self.recipes:
            log.error("%s exited with code %s; stopping", name, child.exitcode)
            return False
        self._forget_metrics(child.pid)
        lived = time.monotonic() - self.started[name]
        delay = self.policies.setdefault(name, RestartPolicy()).after_death(lived)
        if delay is None:
            log.error("%s exited with code %s, %d times in a row soon after starting: a crash loop; stopping",
                      name, child.exitcode, self.policies[name].quick_deaths)
            return False
        log.warning("%s exited with code %s after %.1fs; starting it again in %.2fs", name, child.exitcode,
                    lived, delay)
        self.due[name] = time.monotonic() + delay
        return True

    def _bury_template(self, child: Supervised) -> bool:
        """The template died: start it again (its workers run on, they are children of this process); one that
        keeps dying is given up and later workers are spawned instead. Never a reason to stop the gateway."""
        assert self.template is not None
        lived = time.monotonic() - self.started[child.name]
        delay = self.policies.setdefault(child.name, RestartPolicy()).after_death(lived)
        if delay is None:
            log.error("template exited with code %s, again soon after starting; workers are spawned from now on",
                      child.exitcode)
            self.template.close()
            self.template = None
            return True
        log.warning("template exited with code %s after %.1fs; starting it again in %.2fs", child.exitcode,
                    lived, delay)
        self.due[child.name] = time.monotonic() + delay
        return True

    def _restart_due(self) -> None:
        now = time.monotonic()
        for name, when in list(self.due.items()):
            if when <= now:
                del self.due[name]
                if name not in self.recipes:
                    self._start_template()
                else:
                    self._spawn(name, *self.recipes[name])

    def _forget_metrics(self, pid: int | None) -> None:
        """A dead worker's live gauges leave /metrics (its counters stay: they were counted)."""
        if self.metrics_dir is None or pid is None:
            return
        try:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid, self.metrics_dir)   # type: ignore[no-untyped-call]
        except Exception as e:   # only tidying: never a reason to stop
            log.warning("metrics of pid %s not cleared: %s", pid, e)

    def _rotate_logs(self) -> None:
        if self.rotator is None:
            return
        try:
            self.rotator.check()
        except OSError as e:     # a full or read-only disk must not stop the gateway
            log.warning("log rotation failed: %s", e)

    def _terminate(self) -> None:
        # proxies first so in-flight relays can still reach admin-owned data; then admin;
        # the ledger owner last, once no worker can send it a settlement any more
        others = [c for c in self.children if c is not self.ledger]
        self._stop(list(reversed(others)), self.settings.shutdown_grace + 5)
        if self.ledger is not None:
            self._stop([self.ledger], 30)    # it writes its deltas to the database, then exits
        if self.template is not None:
            self.template.close()
        for tmp in (self.metrics_dir, self.ledger_dir, self.counter_dir, self.admin_dir):
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _stop(children: list[Supervised], grace: float) -> None:
        """SIGTERM (a graceful stop inside each child), then SIGKILL whoever is still there after `grace`."""
        for child in children:
            if child.is_alive():
                child.terminate()
        deadline = time.monotonic() + grace
        for child in children:
            child.join(max(0.1, deadline - time.monotonic()))
            if child.is_alive():
                log.warning("%s did not stop in time; killing", child.name)
                child.kill()
                child.join()


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings = load_settings(argv=argv, dotenv=Path.cwd() / ".env")
        check_dsns(settings)
    except SettingsError as e:
        print(f"one-api: {e}", file=sys.stderr)
        return 2
    if "--version" in argv:
        print(VERSION)
        return 0
    log_path = log_file_path(settings) if settings.log_dir else None   # one file for every process, named once
    setup_logging(settings, path=log_path)
    try:   # before the database, the console build and the ports: everything after runs as RUN_AS
        dropped = drop_privileges(settings)
    except (SettingsError, OSError) as e:
        print(f"one-api: {e}", file=sys.stderr)
        return 2
    log.info("One API (Python) %s starting on port %d%s", VERSION, settings.port,
             f" as {dropped.uid}:{dropped.gid}" if dropped else "")
    announce_ignored(settings)
    if os.environ.get("ADMIN_PORT"):     # an nginx pointed at port + 1 would get no answer: say why
        log.warning("ADMIN_PORT is no longer used: admin_api listens on a unix socket (ADMIN_SOCKET); "
                    "point nginx at unix:<ADMIN_SOCKET> or at port %d", settings.port)
    preparing = start_database_preparation(settings, log_path)
    supervisor = Supervisor(settings, log_path)
    supervisor.catch_signals()
    supervisor.start()     # meanwhile: the children import and load, then wait for the database
    ensure_web_console()   # meanwhile: a source checkout builds the console when it is missing or stale
    while preparing.exitcode is None and not supervisor.stopping:
        preparing.join(0.2)
    if preparing.exitcode != 0:      # failed, or a stop was asked for while it ran
        if preparing.is_alive():
            preparing.terminate()
            preparing.join()
        supervisor.abandon()
        return 0 if supervisor.stopping else 1
    supervisor.database_prepared()
    return supervisor.wait()


if __name__ == "__main__":
    sys.exit(main())
