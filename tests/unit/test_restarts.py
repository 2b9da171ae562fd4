"""The restart schedule of a dead child: backoff while it dies young, a fresh start after a healthy run, a stop
after a crash loop."""

from __future__ import annotations

from launcher.restarts import HEALTHY_AFTER, MAX_QUICK_DEATHS, RestartPolicy


def test_quick_deaths_back_off_then_stop() -> None:
    policy = RestartPolicy()
    delays = [policy.after_death(0.5) for _ in range(MAX_QUICK_DEATHS)]
    assert delays[:-1] == [0.25, 0.5, 1.0, 2.0][:MAX_QUICK_DEATHS - 1]
    assert delays[-1] is None


def test_a_death_after_a_healthy_run_starts_the_count_over() -> None:
    policy = RestartPolicy()
    for _ in range(MAX_QUICK_DEATHS - 1):
        assert policy.after_death(1.0) is not None
    assert policy.after_death(HEALTHY_AFTER + 1) == 0.25     # killed once after a long life: at once, again
    assert policy.quick_deaths == 1
