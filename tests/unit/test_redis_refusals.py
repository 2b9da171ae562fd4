"""Refusals remembered in Redis (#17), the pure parts: the key's codec, when it expires, what it still refuses."""

from __future__ import annotations

from proxy.limits.policy import WINDOW_MS, Limit, Refusal, Scope, Window
from proxy.limits.redis_refusals import PARALLEL_HOLD_MS, Full, decode, encode, key_of, refusal_from, reopens_at

NOW = 1_000_000_000
TOKEN = Scope("t:7", "token", Limit(rpm=10, tpm=1000, parallel=3))
USER = Scope("u:2", "user", Limit(rpm=100))


def test_codec_round_trip_and_anything_else_is_no_key() -> None:
    full = Full(NOW + 5000, {"t:7": Window(10, 900, 2, NOW - 55_000), "u:2": Window(12, 0, 0, None)})
    assert decode(encode(full)) == full
    assert decode(encode(full).decode()) == full
    assert key_of("t:7") == "rl:full:t:7"
    for raw in (None, b"", b"{", b"[]", b'{"u": 1}', b'{"u": "x", "w": {}}', b'{"u": 1, "w": {"t:7": [1, 2]}}'):
        assert decode(raw) is None


def test_expiry_is_when_the_scope_can_free() -> None:
    rpm = Refusal(TOKEN, "requests", 10, 10, 1, 5)
    assert reopens_at(rpm, Window(10, 0, 0, NOW - 55_000), NOW) == NOW + 5000          # the oldest leaves
    assert reopens_at(Refusal(TOKEN, "tokens", 1000, 900, 200, 5), Window(3, 900, 0, NOW - 1), NOW) == \
        NOW - 1 + WINDOW_MS
    assert reopens_at(Refusal(TOKEN, "tokens", 1000, 0, 2000, 60), Window(0, 0, 0, None), NOW) == NOW + WINDOW_MS
    assert reopens_at(Refusal(TOKEN, "parallel", 3, 3, 1, 1), Window(3, 0, 3, NOW - 10), NOW) == \
        NOW + PARALLEL_HOLD_MS                                                             # a finish frees it


def test_a_key_refuses_only_what_its_window_still_refuses() -> None:
    full = Full(NOW + 5000, {"t:7": Window(10, 300, 1, NOW - 55_000), "u:2": Window(40, 0, 0, NOW - 30_000)})
    e = refusal_from([TOKEN, USER], [full, None], 0, NOW)
    assert e is not None and e.source == "redis"
    assert e.refusal.kind == "requests" and e.refusal.retry_after == 5
    assert e.refusal.message() == ("Rate limit reached for requests per minute (RPM) on token: limit 10, used 10, "
                                   "requested 1. Please try again in 5s.")
    assert e.headers["x-ratelimit-limit-requests"] == "10" and e.headers["x-ratelimit-remaining-requests"] == "0"
    assert e.headers["x-ratelimit-reset-requests"] == "5s" and e.headers["x-ratelimit-limit-tokens"] == "1000"
    # expired (a node's clock past it), a raised limit, a scope with room: the database decides
    assert refusal_from([TOKEN], [full], 0, NOW + 5000) is None
    raised = Scope("t:7", "token", Limit(rpm=20, tpm=1000, parallel=3))
    assert refusal_from([raised], [full], 0, NOW) is None
    assert refusal_from([USER], [full], 0, NOW) is None
    # TPM: a request that still fits the remembered window is the database's to admit
    tpm_full = Full(NOW + 5000, {"t:7": Window(3, 900, 0, NOW - 55_000)})
    assert refusal_from([TOKEN], [tpm_full], 100, NOW) is None
    refused = refusal_from([TOKEN], [tpm_full], 101, NOW)
    assert refused is not None and refused.refusal.kind == "tokens" and refused.refusal.used == 900
