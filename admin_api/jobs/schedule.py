"""Which background jobs admin_api runs (one-api.md §15), started and stopped with the application."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from admin_api import balance_sweep, notices
from admin_api.channel_sweep import test_all
from admin_api.jobs.runner import Job, JobRunner
from admin_api.state import STATE, AdminState

CHANNEL_TEST, CHANNEL_BALANCE, CHANNEL_NOTICES = "channel-test", "channel-balance", "channel-notices"


def periodic_jobs(state: AdminState) -> list[Job]:
    """Notices always; channel tests and balance refreshes when their frequency (minutes) is set."""
    settings = state.settings
    jobs = [Job(CHANNEL_NOTICES, state.job_timing.notice_every, lambda: notices.drain(state), first_after=0,
                has_work=lambda: notices.pending(state))]
    if settings.channel_test_frequency > 0:
        # scope "all" and no "test finished" notice, as One API's periodic test
        jobs.append(Job(CHANNEL_TEST, settings.channel_test_frequency * 60.0, lambda: test_all(state, "all")))
    if settings.channel_update_frequency > 0:
        jobs.append(Job(CHANNEL_BALANCE, settings.channel_update_frequency * 60.0,
                        lambda: balance_sweep.refresh_all(state)))
    return jobs


async def run_jobs(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: start the job loops after the HTTP client exists, stop them (leases released) first."""
    state = app[STATE]
    runner = JobRunner(state.db, state.job_timing)
    state.jobs = runner
    runner.start(periodic_jobs(state))
    try:
        yield
    finally:
        await runner.stop()
        state.jobs = None
