"""`one-api`'s children start without multiprocessing's resource tracker: a fresh interpreter per child, its
target by module and name, the "ready" signals an inherited eventfd (set once, seen by every child, a restarted
one included)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from launcher.child import Child, ReadySignal

ROOT = Path(__file__).resolve().parents[2]


def _wait_then_write(ready: ReadySignal, path: str) -> None:
    """A child: waits for the signal, then leaves a file naming its process (as log lines do)."""
    import multiprocessing

    ready.wait(30)
    Path(path).write_text(f"{multiprocessing.current_process().name} {ready.is_set()}")


def _set(ready: ReadySignal) -> None:
    ready.set()


def _exit(code: int) -> None:
    sys.exit(code)


def _sleep() -> None:
    time.sleep(60)


def _tracker_running() -> bool:
    """A resource tracker among this test process's children (multiprocessing starts one on its first spawn)."""
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "stat").read_text().rsplit(")", 1)[1].split()[1] == me \
                    and b"resource_tracker" in (proc / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def test_children_wait_for_the_signal_and_a_late_one_finds_it_set(tmp_path: Path) -> None:
    ready = ReadySignal()
    try:
        assert not ready.wait(0) and not ready.is_set()
        early = [Child(_wait_then_write, (ready, str(tmp_path / f"{n}")), name=f"proxy-{n}") for n in range(2)]
        for child in early:
            child.start()
        assert not any(child.exitcode is not None for child in early)    # waiting: nothing set yet
        setter = Child(_set, (ready,), name="ledger")       # set in another process, as the ledger owner does
        setter.start()
        assert ready.wait(30)
        late = Child(_wait_then_write, (ready, str(tmp_path / "late")), name="proxy-late")   # a restart
        late.start()
        for child in (*early, setter, late):
            child.join(30)
            assert child.exitcode == 0
        assert (tmp_path / "0").read_text() == "proxy-0 True"
        assert (tmp_path / "late").read_text() == "proxy-late True"
        assert not _tracker_running()
    finally:
        ready.close()


def test_exit_codes_terminate_and_kill() -> None:
    failing = Child(_exit, (3,), name="prepare")
    assert failing.exitcode is None and not failing.is_alive() and failing.pid is None   # not started yet
    failing.start()
    failing.join(30)
    assert failing.exitcode == 3 and not failing.is_alive()
    for stop, sig in ((Child.terminate, signal.SIGTERM), (Child.kill, signal.SIGKILL)):
        sleeper = Child(_sleep, name="admin_api")
        sleeper.start()
        assert sleeper.is_alive()
        sleeper.join(0.05)                  # a timeout, not a wait forever
        assert sleeper.exitcode is None
        stop(sleeper)
        sleeper.join(30)
        assert sleeper.exitcode == -sig

