"""The template ("zygote") process: imports a proxy worker's modules and loads its tokenizer encodings once, then
forks every worker (and every restart) from that state, so the pages of the imports and of the encodings' Rust
tables are shared by all workers instead of being built again in each (issue #19: memory per extra worker).

At fork time the template has no event loop, no thread but its main one, no logging handlers (their flush thread)
and no database connection: the forked worker then starts exactly as a spawned one does (`proxy.server.run`
sets up its logging, loop, signals and engine). Each worker is forked twice (template → short-lived middle →
worker) so that it is reparented to the supervisor, a child subreaper: the supervisor waits for it, signals it
and reads its exit code like any child of its own, and the template may die and be restarted without touching
a running worker.

Run in the template process only (by `launcher.child.Child`); the supervisor's side is `launcher.forked`.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import pickle
import signal
import socket
import sys
import threading
from typing import Any

from launcher.child import Inherited
from settings import Settings

MAX_REQUEST = 1 << 20     # a pickled (name, module, function, arguments): the settings are a few KiB
PR_SET_NAME = 15          # prctl: the thread's name (`ps -o comm`, top), 15 bytes


def _set_comm(name: str) -> None:
    """The forked worker's name in `ps -o comm`/top (its command line stays the template's: a fork keeps it)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _fork_worker(control: socket.socket, request: bytes) -> tuple[str, str, str, tuple[Any, ...]] | None:
    """Fork the requested worker (through a middle process that exits at once); in the template: reply with its
    pid (0: the fork failed) and return None; in the worker: return what it is to run."""
    job: tuple[str, str, str, tuple[Any, ...]] = pickle.loads(request)
    read, write = os.pipe()
    sys.stdout.flush()      # nothing buffered in the template is written again by the worker
    sys.stderr.flush()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(read)
            worker = os.fork()
            if worker == 0:
                os.close(write)
                control.close()
                return job
            os.write(write, b"%d" % worker)
        except BaseException:
            os._exit(1)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        reported = f.read()
    os.waitpid(middle, 0)    # the middle is gone: the worker now belongs to the subreaper (the supervisor)
    control.sendall(reported or b"0")
    return None


def _serve(control: socket.socket) -> tuple[str, str, str, tuple[Any, ...]]:
    """Answer fork requests until the supervisor closes its end; returns only in a forked worker."""
    while True:
        request = control.recv(MAX_REQUEST)
        if not request:       # the supervisor is gone or stopped us: nothing more to fork
            sys.exit(0)
        job = _fork_worker(control, request)
        if job is not None:
            return job


def template_main(control: Inherited, settings: Settings) -> None:
    """The template's life: load, freeze, then fork workers on request. `control`: a SOCK_SEQPACKET socket to the
    supervisor (a request: the pickled name, module, function and arguments; the reply: the worker's pid)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C reaches the whole group: the supervisor stops us
    import proxy.ledger.server  # noqa: F401  (admin_api and the ledger owner are forked from here too)
    from admin_api.server import preload as admin_preload
    from proxy.server import preload

    admin_preload()
    preload(settings)
    gc.collect()
    gc.freeze()       # the loaded objects leave the collector's generations: no GC write un-shares their pages
    if _threads() != 1:
        print(f"one-api template: {_threads()} threads at fork time", file=sys.stderr)
    sock = socket.socket(fileno=control.fd)
    name, module, function, args = _serve(sock)
    # a forked worker: the template's loop has returned; from here it starts as a spawned worker would
    signal.signal(signal.SIGINT, signal.default_int_handler)
    multiprocessing.current_process().name = name
    _set_comm(name)
    getattr(importlib.import_module(module), function)(*args)
