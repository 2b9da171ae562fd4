"""Hop-by-hop filtering in one place, and the check that keeps CR/LF/NUL out of an upstream request."""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

from proxy.core.hop import end_to_end, holds_break, unsendable_header


def test_hop_by_hop_headers_and_those_named_in_connection_are_dropped_repeats_kept() -> None:
    headers = CIMultiDict([("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked"),
                           ("Connection", "keep-alive, X-Private"), ("x-private", "1"), ("Set-Cookie", "a=1"),
                           ("Set-Cookie", "b=2"), ("Keep-Alive", "timeout=5"), ("Content-Length", "9")])
    out = end_to_end(CIMultiDictProxy(headers), drop=("content-length",))
    assert list(out.items()) == [("Content-Type", "text/event-stream"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]


def test_a_plain_mapping_or_pairs_work_the_same() -> None:
    pairs = [("Upgrade", "h2c"), ("connection", "X-A"), ("X-A", "1"), ("X-B", "2")]
    assert list(end_to_end(pairs).items()) == [("X-B", "2")]
    assert list(end_to_end(dict(pairs)).items()) == [("X-B", "2")]


def test_a_header_holding_a_line_break_or_nul_is_named() -> None:
    assert unsendable_header({"Authorization": "Bearer ok", "X": "y"}) is None
    assert unsendable_header({"Authorization": "Bearer a\r\nX-Injected: 1"}) == "Authorization"
    assert unsendable_header({"X-\x00": "v"}) == "X-\x00"
    assert holds_break("http://h/\n") and not holds_break("http://h/path?q=1")
