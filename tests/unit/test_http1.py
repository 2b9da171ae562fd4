"""Request bytes and URL targets of the lean upstream client: pure functions."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from proxy.core.http1 import Target, parse_target, request_head


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:8000/v1/chat/completions", Target(False, "127.0.0.1", 8000, "127.0.0.1:8000", "/v1/chat/completions")),
    ("https://API.OpenAI.com/v1/x?api-version=2024-03-01&b=1", Target(True, "api.openai.com", 443, "api.openai.com", "/v1/x?api-version=2024-03-01&b=1")),
    ("https://h:8443", Target(True, "h", 8443, "h:8443", "/")),
    ("http://[::1]:90/a#fragment", Target(False, "::1", 90, "[::1]:90", "/a")),
    ("HTTP://h:80/a%20b", Target(False, "h", 80, "h", "/a%20b")),
])
def test_urls_sent_as_they_are(url: str, expected: Target) -> None:
    assert parse_target(url) == expected


@pytest.mark.parametrize("url", [
    "http://user:secret@h/x",       # credentials: aiohttp turns them into Authorization
    "http://h/a b",                 # would be re-quoted
    "http://h/ünï",                 # likewise
    "http://bücher.example/x",      # IDNA host
    "ftp://h/x", "h/x", "http:///x", "http://h:99999/", "http://h:0/", "http://h:port/",
])
def test_urls_left_to_aiohttp(url: str) -> None:
    assert parse_target(url) is None


def _lines(head: bytes) -> list[str]:
    assert head.endswith(b"\r\n\r\n")
    return head[:-4].decode().split("\r\n")


def test_what_is_added_when_absent() -> None:
    target = parse_target("http://h:81/p")
    assert target is not None
    lines = _lines(request_head("POST", target, CIMultiDict(), b"abc"))
    assert lines[:2] == ["POST /p HTTP/1.1", "Host: h:81"]
    assert set(lines[2:]) >= {"Accept: */*", "Accept-Encoding: identity", "Content-Length: 3",
                             "Content-Type: application/octet-stream"}
    assert any(line.startswith("User-Agent: ") for line in lines)


def test_what_the_caller_gave_wins() -> None:
    target = parse_target("http://h/p")
    assert target is not None
    given = CIMultiDict([("host", "other"), ("accept", "text/event-stream"), ("accept-encoding", "gzip"),
                         ("user-agent", "me"), ("content-type", "text/plain"), ("Transfer-Encoding", "chunked")])
    lines = _lines(request_head("PUT", target, given, b"x"))
    assert lines == ["PUT /p HTTP/1.1", "Host: other", "accept: text/event-stream", "accept-encoding: gzip",
                     "user-agent: me", "content-type: text/plain", "Content-Length: 1"]


def test_lengths_by_method() -> None:
    target = parse_target("http://h/p")
    assert target is not None
    assert "Content-Length: 0" in _lines(request_head("POST", target, CIMultiDict(), b""))
    assert not any(line.startswith("Content-") for line in _lines(request_head("GET", target, CIMultiDict(), b"")))


@pytest.mark.parametrize("name, value", [("X-A", "1\r\nX-B: 2"), ("X-A", "1\nX-B: 2"), ("X-A", "1\r"),
                                         ("X-A\r\nX-B", "2")])
def test_line_breaks_are_refused(name: str, value: str) -> None:
    target = parse_target("http://h/p")
    assert target is not None
    with pytest.raises(ValueError):
        request_head("POST", target, CIMultiDict([(name, value)]), b"")
