"""Background jobs that run on one node at a time, each under its lease in the database (store.leases).

Every node runs one loop per job. The loop looks at the job's row; when the job is
due and nobody holds the lease, it tries to take the lease (one conditional UPDATE,
so exactly one node wins), runs the job while renewing the lease every third of its
time to live, then releases it and sets the next due time. A node that stops
releases its lease at once and leaves the job due, so another node resumes it; a
node that dies stops renewing, and its lease expires after `lease_ttl` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from store import Database, leases

log = logging.getLogger(__name__)
Work = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class JobTiming:
    """How leases behave: the defaults suit production; tests shorten them."""

    lease_ttl: float = 30.0    # seconds a lease lives unless renewed (renewed every third of it)
    poll: float = 5.0          # longest wait between two looks at a job's row
    notice_every: float = 2.0  # seconds between two looks for undelivered channel notices
    stop_within: float = 10.0  # longest wait in stop() for loops and runs to end (a stuck one is abandoned)


@dataclass(frozen=True)
class Job:
    """A periodic job: `run` every `every` seconds (end of one run to start of the next), cluster-wide."""

    name: str
    every: float
    run: Work
    first_after: float | None = None                          # first run on a new row; default `every`
    has_work: Callable[[], Awaitable[bool]] | None = None     # a cheap check before taking the lease


def holder_name() -> str:
    """Unique per process and per runner: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class JobRunner:
    """Runs the periodic jobs of one admin_api process, and one-off runs under the same leases."""

    def __init__(self, db: Database, timing: JobTiming | None = None, holder: str | None = None) -> None:
        self.db = db
        self.timing = timing or JobTiming()
        self.holder = holder or holder_name()
        self._jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    def start(self, jobs: Iterable[Job]) -> None:
        """Start one loop per job (call from the running event loop)."""
        for job in jobs:
            self._jobs[job.name] = job
            self._spawn(self._loop(job), f"job {job.name}")

    async def run_now(self, name: str, work: Work) -> bool:
        """Run `work` once in the background under the lease `name`; False if another run holds it."""
        job = self._jobs.get(name)
        async with self.db.session() as s:
            await leases.ensure(s, name, leases.now_ms() + (_ms(job.every) if job else 0))
        async with self.db.session() as s:
            if not await leases.claim(s, name, self.holder, _ms(self.timing.lease_ttl), only_if_due=False):
                return False
        self._spawn(self._hold(name, work, job.every if job else None), f"run {name}")
        return True

    async def stop(self) -> None:
        """Cancel every loop and run; each run releases its lease on the way out.

        A cancellation can be swallowed below us (a database driver's cancelled query, a timeout racing it), so
        the loops also see `_stopping`, tasks still alive are cancelled again, and after `stop_within` seconds
        the rest are abandoned with a warning: a stop never hangs (their leases expire by themselves).
        """
        self._stopping = True
        deadline = time.monotonic() + self.timing.stop_within
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("jobs: %d task(s) did not stop within %.0f s: %s", len(pending),
                            self.timing.stop_within, ", ".join(t.get_name() for t in pending))
                return
            _, pending = await asyncio.wait(pending, timeout=min(0.5, left))

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _loop(self, job: Job) -> None:
        while not self._stopping:
            try:
                wait = await self._turn(job)
            except Exception:   # the database may be down for a while: keep the loop alive
                log.exception("job %s: could not check its lease", job.name)
                wait = self.timing.poll
            await asyncio.sleep(wait)

    async def _turn(self, job: Job) -> float:
        """Run the job if it is due and the lease is free; return how long to wait before looking again."""
        async with self.db.session() as s:
            row = await leases.read(s, job.name)
        now = leases.now_ms()
        if row is None:
            first = job.every if job.first_after is None else job.first_after
            async with self.db.session() as s:
                await leases.ensure(s, job.name, now + _ms(first))
            return 0
        if row.due_at > now:
            return min(self.timing.poll, (row.due_at - now) / 1000)
        if row.expires_at >= now:
            return self.timing.poll   # another node is running it
        if job.has_work is not None and not await job.has_work():
            return min(self.timing.poll, job.every)
        async with self.db.session() as s:
            if not await leases.claim(s, job.name, self.holder, _ms(self.timing.lease_ttl), only_if_due=True):
                return self.timing.poll
        await self._hold(job.name, job.run, job.every)
        return 0

    async def _hold(self, name: str, work: Work, every: float | None) -> None:
        """Run `work` while renewing the lease; release it after, due again `every` s later if it ran out."""
        log.info("job %s starts on %s", name, self.holder)
        task = asyncio.ensure_future(work())
        finished = False
        try:
            finished = await self._watch(name, task)
        finally:
            if not task.done():
                task.cancel()   # bounded: work that swallows its cancellation is left behind, not waited for
                await asyncio.wait({task}, timeout=self.timing.stop_within)
            next_due = leases.now_ms() + _ms(every) if finished and every is not None else None
            try:
                async with self.db.session() as s:
                    await leases.release(s, name, self.holder, next_due)
            except Exception:
                log.exception("job %s: could not release its lease (it expires by itself)", name)
        log.info("job %s %s on %s", name, "finished" if finished else "stopped", self.holder)

    async def _watch(self, name: str, task: asyncio.Future[object]) -> bool:
        """Renew the lease until the task ends: True when it ended, False when the lease was lost or we stop."""
        ttl = self.timing.lease_ttl
        held_until = time.monotonic() + ttl
        while not self._stopping:
            done, _ = await asyncio.wait({task}, timeout=ttl / 3)
            if done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("job %s failed", name, exc_info=task.exception())
                return True
            asked = time.monotonic()
            try:
                async with asyncio.timeout(ttl / 3):   # not wait_for: on 3.11 it can swallow our cancellation
                    renewed = await self._renew(name)
            except Exception:   # includes the timeout: a database that hangs must not keep us running
                log.exception("job %s: could not renew its lease", name)
                renewed = time.monotonic() + ttl / 3 < held_until   # keep going while it surely lasts
                if not renewed:
                    log.warning("job %s: stopping, its lease may expire before it can be renewed", name)
                    return False
                continue
            if not renewed:
                log.warning("job %s: lease taken over by another node, stopping here", name)
                return False
            held_until = asked + ttl
        return False   # stopping

    async def _renew(self, name: str) -> bool:
        async with self.db.session() as s:
            return await leases.renew(s, name, self.holder, _ms(self.timing.lease_ttl))
