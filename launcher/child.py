"""Child processes of `one-api` without multiprocessing's resource tracker.

multiprocessing's spawn start method starts a resource tracker process the first time it spawns (about 15 MiB
RSS for the gateway's lifetime, whether or not anything is ever tracked), and its fork and forkserver methods
either copy the supervisor's threads and buffers or start the same tracker. The supervisor's children need
none of what it tracks, so they start here as a fresh interpreter (`subprocess`) that reads its target and
arguments, pickled, from an inherited pipe: the same isolation as spawn, one process fewer.

`ReadySignal` replaces multiprocessing's Event for the "database ready" and "ledger listening" signals: an
eventfd that the children inherit (set once, stays set, a restarted child finds it set).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import subprocess
import sys
from collections.abc import Callable
from typing import Any

# Run by the child's interpreter (argv: the payload's pipe, then the process name, for `ps` only): the parent's
# sys.path first (its packages import as in the parent), then the process name (log lines carry it) and the target,
# by module and name, with its arguments.
_BOOT = """\
import os, pickle, sys
with os.fdopen(int(sys.argv[1]), "rb") as f:
    sys.path[:] = pickle.load(f)
    import importlib, multiprocessing
    multiprocessing.current_process().name, module, name, args = pickle.load(f)
getattr(importlib.import_module(module), name)(*args)
"""


def import_path(target: Callable[..., object]) -> tuple[str, str]:
    """The module and name to import `target` by; `python -m launcher.cli` runs it as `__main__`."""
    module = target.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        if spec is None:
            raise ValueError(f"{target.__qualname__} is in a script, not in an importable module")
        module = spec.name
    return module, target.__qualname__


class Inherited:
    """A descriptor a child inherits under the same number: pickled as that number, and `Child` passes the
    descriptor of every Inherited among its arguments to the child."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.fd,))


class ReadySignal(Inherited):
    """A one-way flag across processes: `set()` in one, `wait()` in any other that inherited it (Linux eventfd)."""

    def __init__(self, fd: int | None = None) -> None:
        super().__init__(os.eventfd(0, os.EFD_CLOEXEC) if fd is None else fd)

    def set(self) -> None:
        os.eventfd_write(self.fd, 1)     # readable from now on: nobody reads it, so it stays set

    def is_set(self) -> bool:
        return self.wait(0)

    def wait(self, timeout: float | None = None) -> bool:
        """True once set; False after `timeout` seconds (None: wait as long as it takes)."""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))

    def close(self) -> None:
        os.close(self.fd)


class Child:
    """The part of multiprocessing.Process the supervisor uses (start, pid, is_alive, exitcode, join, terminate,
    kill, name), for a `target` that is a module-level function and picklable `args`."""

    def __init__(self, target: Callable[..., object], args: tuple[Any, ...] = (), name: str = "child") -> None:
        self.target, self.args, self.name = target, args, name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        payload = pickle.dumps(list(sys.path)) + pickle.dumps((self.name, *import_path(self.target), self.args))
        read, write = os.pipe()
        fds = tuple(a.fd for a in self.args if isinstance(a, Inherited))
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, str(read), self.name], stdin=subprocess.DEVNULL,
                                         pass_fds=(read, *fds))
        finally:
            os.close(read)
        with contextlib.suppress(BrokenPipeError), os.fdopen(write, "wb") as f:
            f.write(payload)        # read by the child as it starts (died before: its exit code says so)

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def exitcode(self) -> int | None:
        """None while it runs; then its exit code, or minus the signal that ended it."""
        return None if self.proc is None else self.proc.poll()

    def is_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def join(self, timeout: float | None = None) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)

    def terminate(self) -> None:
        if self.is_alive():
            assert self.proc is not None
            self.proc.terminate()

    def kill(self) -> None:
        if self.is_alive():
            assert self.proc is not None
            self.proc.kill()
