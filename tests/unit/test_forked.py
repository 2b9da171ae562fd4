"""The supervisor as a child subreaper (launcher/forked.py): a grandchild whose parent exits becomes its child
(that is how a worker forked by the template becomes the supervisor's), and orphans are reaped without taking
the exit status of a child the supervisor still has to read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# in a fresh interpreter: making the test process a subreaper would adopt every orphan of the test run
SCRIPT = """
import os, subprocess, sys, time
from launcher.forked import Forked, become_subreaper, reap_orphans

assert become_subreaper()
known = subprocess.Popen([sys.executable, "-c", "raise SystemExit(7)"])
read, write = os.pipe()
go, told = os.pipe()
middle = os.fork()
if middle == 0:                      # a middle process: forks the grandchild, reports it, exits at once
    grandchild = os.fork()
    if grandchild == 0:
        os.read(go, 1)               # until told to go
        os._exit(3)
    os.write(write, b"%d" % grandchild)
    os._exit(0)
os.waitpid(middle, 0)
grandchild = int(os.read(read, 32))
adopted = Forked(grandchild, "worker")
parent = int(open(f"/proc/{grandchild}/stat").read().rsplit(")", 1)[1].split()[1])
orphan = os.fork()                   # an orphan of the tree: a child whose exit nobody here reads
if orphan == 0:
    os._exit(0)
os.write(told, b"x")
adopted.join(10)
deadline = time.monotonic() + 10
reaped = []
while orphan not in reaped:
    assert time.monotonic() < deadline, reaped
    reaped += reap_orphans([known.pid, grandchild])
    time.sleep(0.01)
print(parent == os.getpid(), adopted.exitcode, known.wait(10), grandchild not in reaped)
"""


def test_a_subreaper_adopts_the_grandchild_and_reaps_only_orphans() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    # the grandchild became this process's child, its exit code read; the known child's status was left alone
    assert out.stdout.split() == ["True", "3", "7", "True"]


def _dies_at_once(control: object, *args: object) -> None:
    raise SystemExit(3)


def _never_run() -> None:
    raise AssertionError("forked from a dead template")


def test_a_dead_template_forks_nothing_and_the_caller_spawns_instead() -> None:
    from launcher.forked import Template

    template = Template(_dies_at_once, ())
    try:
        child = template.start()
        child.join(30)
        assert child.exitcode == 3
        assert template.fork("proxy-0", _never_run, ()) is None     # Supervisor._launch then spawns the worker
    finally:
        template.close()


STRAY = """
import os, signal, subprocess, time
from launcher.forked import become_subreaper, reap_orphans, stop_strays

assert become_subreaper()
read, write = os.pipe()
middle = os.fork()
if middle == 0:       # leaves two live processes behind: a fork of this (a template's) and another program
    other = subprocess.Popen(["sleep", "30"])
    grandchild = os.fork()
    if grandchild == 0:
        signal.pause()
        os._exit(0)
    os.write(write, b"%d %d" % (grandchild, other.pid))
    os._exit(0)
os.waitpid(middle, 0)
stray, other = map(int, os.read(read, 64).split())
killed = stop_strays([])
deadline = time.monotonic() + 10
while stray not in reap_orphans([other]):
    assert time.monotonic() < deadline
    time.sleep(0.01)
alive = os.path.exists(f"/proc/{other}") and os.getpid() == int(open(f"/proc/{other}/stat").read().split()[3])
os.kill(other, signal.SIGKILL)
os.waitpid(other, 0)
print(killed == [stray], os.path.exists(f"/proc/{stray}"), alive)
"""


def test_a_fork_of_the_template_the_supervisor_did_not_start_is_stopped_and_reaped() -> None:
    """`python -c SCRIPT template`: its command line ends as the template's does, so its forks look like it."""
    out = subprocess.run([sys.executable, "-c", STRAY, "template"], capture_output=True, text=True, timeout=60,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    # the template's fork was killed and reaped; the other orphan (not a fork of a template) was left running
    assert out.stdout.split() == ["True", "False", "True"]
