"""The supervisor's side of the template process (`launcher.template`): start it, ask it for a worker, and keep
that worker as a child of its own.

A worker is forked by the template through a middle process that exits at once, so the kernel hands it to the
nearest child subreaper: the supervisor, once `become_subreaper()` has made it one. From then on the worker is
an ordinary child of the supervisor (`Forked`: waited for, signalled, its exit code read), whatever becomes of
the template. A subreaper also inherits any other orphan of its tree: `reap_orphans` waits for those.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import socket
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from launcher.child import Child, Inherited, import_path

log = logging.getLogger("one-api")
PR_SET_CHILD_SUBREAPER = 36
TEMPLATE = "template"     # the template's process name: the last argument of its command line and its forks
FORK_TIMEOUT = 60.0      # seconds the template may take to answer a fork request (its first: imports and encodings)


class Supervised(Protocol):
    """What the supervisor uses of a child process, spawned (`Child`) or forked by the template (`Forked`)."""

    name: str

    @property
    def pid(self) -> int | None: ...

    @property
    def exitcode(self) -> int | None: ...

    def is_alive(self) -> bool: ...

    def join(self, timeout: float | None = None) -> None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


def become_subreaper() -> bool:
    """Make this process the child subreaper of its tree (Linux prctl); False where that is not possible."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def reap_orphans(known: Iterable[int | None]) -> list[int]:
    """Wait for the exited children that are none of `known` (orphans of the tree handed to this subreaper), one by
    one by pid, so a known child's exit status stays for the supervisor to read; the pids reaped."""
    reaped = []
    for pid in sorted(children_of_mine() - set(known)):
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0]:
                reaped.append(pid)
    return reaped


def children_of_mine() -> set[int]:
    """This process's live and dead children, from /proc (each thread's list)."""
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError), open(f"/proc/self/task/{task}/children") as f:
            pids.update(int(p) for p in f.read().split())
    return pids


def stop_strays(known: Iterable[int | None]) -> list[int]:
    """SIGKILL every child of this process forked by a template (its command line ends with the name `template`)
    that is none of `known`: a worker whose template died after forking it but before saying its pid (another
    was started in its place), so nothing forked runs unsupervised. Other orphans handed to this subreaper (in a
    container where one-api is PID 1: anything run by `docker exec` and left behind) are only reaped when they
    exit. `reap_orphans` waits for the killed ones after. The pids killed."""
    strays = []
    for pid in sorted(children_of_mine() - set(known)):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if not f.read().endswith(b"\0" + TEMPLATE.encode() + b"\0"):
                    continue
            os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
        strays.append(pid)
    return strays


class Forked:
    """A worker the template forked, now a child of this process: `Child`'s interface, by pid."""

    def __init__(self, pid: int, name: str) -> None:
        self.name = name
        self._pid = pid
        self._exitcode: int | None = None
        self._pidfd: int | None = os.pidfd_open(pid)

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def exitcode(self) -> int | None:
        """None while it runs; then its exit code, or minus the signal that ended it."""
        if self._exitcode is None:
            try:
                pid, status = os.waitpid(self._pid, os.WNOHANG)
            except ChildProcessError:     # not ours (never happens to a subreaper's adopted worker)
                pid, status = self._pid, 255 << 8
            if pid:
                self._exitcode = os.waitstatus_to_exitcode(status)
                self._close()
        return self._exitcode

    def is_alive(self) -> bool:
        return self.exitcode is None

    def join(self, timeout: float | None = None) -> None:
        if self.exitcode is None and self._pidfd is not None:
            poller = select.poll()
            poller.register(self._pidfd, select.POLLIN)     # readable once the process has exited
            poller.poll(None if timeout is None else max(0, int(timeout * 1000)))
            _ = self.exitcode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.is_alive():        # not waited for yet: the pid cannot have been reused
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, sig)

    def _close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class Template:
    """The template process and the socket its fork requests go over; `start()` again after it died."""

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        """`target(control, *args)` runs in the template (`launcher.template.template_main`)."""
        self.target, self.args = target, args
        self.child: Child | None = None
        self.conn: socket.socket | None = None

    def start(self) -> Child:
        self.close()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.child = Child(self.target, (Inherited(theirs.fileno()), *self.args), name=TEMPLATE)
            self.child.start()
        finally:
            theirs.close()
        self.conn = mine
        return self.child

    def fork(self, name: str, target: Callable[..., None], args: tuple[Any, ...]) -> Forked | None:
        """`target(*args)` in a worker forked by the template, a child of this process from now on; None when the
        template is not there or fails (the caller then spawns the worker instead)."""
        if self.child is None or self.conn is None or not self.child.is_alive():
            return None
        try:
            self.conn.settimeout(FORK_TIMEOUT)
            self.conn.sendall(pickle.dumps((name, *import_path(target), args)))
            reply = self.conn.recv(64)
        except OSError as e:      # TimeoutError included: a template that does not answer is not used again
            log.warning("the template did not fork %s (%s); stopping it", name, e)
            self.child.kill()
            self.close()
            return None
        pid = int(reply or b"0")
        if pid <= 0:
            return None
        return Forked(pid, name)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

