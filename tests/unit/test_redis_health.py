"""RedisHealth: one line per change of state, and probes spaced while Redis is down."""

from __future__ import annotations

import logging

import pytest

from store.redis_health import RedisHealth


def test_one_line_per_change_and_spaced_probes(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    health = RedisHealth(retry_every=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="store.redis_health"):
        assert health.worth_trying()
        for _ in range(5):
            health.failed(ConnectionError(), "in process")
        assert health.down and not health.worth_trying()        # inside the second after the failure
        now[0] += 1.0
        assert health.worth_trying() and not health.worth_trying()   # one probe, not one per caller
        health.failed(OSError("refused"), "in process")
        now[0] += 2.5
        assert health.worth_trying()
        health.answered()
        health.answered()
        assert not health.down and health.worth_trying() and health.worth_trying()
    assert [r.getMessage() for r in caplog.records] == [
        "redis unreachable (ConnectionError): in process until it answers again",
        "redis answers again (after 3.5 s)"]
