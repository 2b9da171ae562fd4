"""HTTP/1.1 requests as bytes, the URLs that can be sent as they are, and what an answer's headers say about
its body: pure functions, no I/O."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from aiohttp.http import SERVER_SOFTWARE
from multidict import CIMultiDict

_SIMPLE_TARGET = re.compile(r"[!-~]*")   # printable ASCII, no spaces: sent as is (others go through aiohttp)
_SET_HERE = frozenset({"host", "content-length", "transfer-encoding", "connection"})   # written by request_head
# what aiohttp's client adds when absent, except Accept-Encoding: bodies are never decompressed here
_DEFAULTS = (("Accept", "*/*"), ("Accept-Encoding", "identity"), ("User-Agent", SERVER_SOFTWARE))
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})   # a Content-Length even when empty
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})   # RFC 9110 §9.2.2


class Target(NamedTuple):
    """Where a URL goes: the pool key and the request line's target."""

    ssl: bool
    host: str
    port: int
    host_header: str
    path: str

    @property
    def key(self) -> tuple[bool, str, int]:
        """The connection pool this target's requests share."""
        return self.ssl, self.host, self.port


@lru_cache(maxsize=1024)
def parse_target(url: str) -> Target | None:
    """The parts of an http(s) URL this client sends unchanged, or None when aiohttp should take it
    (credentials in the URL, a non-ASCII host, characters a URL library would re-quote)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if (parts.scheme not in ("http", "https") or "@" in parts.netloc or not host or not host.isascii() or port == 0
            or not _SIMPLE_TARGET.fullmatch(path)):
        return None
    default = 443 if parts.scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    port = port or default
    return Target(parts.scheme == "https", host, port, shown if port == default else f"{shown}:{port}", path)


def request_head(method: str, target: Target, headers: CIMultiDict[str], body: bytes) -> bytes:
    """The request line and headers, with what aiohttp would add: Host, Accept, User-Agent, a length.

    Accept-Encoding defaults to identity: bodies are never decompressed here, so the taps and the
    converters need them as sent."""
    lines = [f"{method} {target.path} HTTP/1.1", f"Host: {headers.get('Host', target.host_header)}"]
    count = 2
    for name, value in headers.items():
        if name.lower() not in _SET_HERE:
            lines.append(f"{name}: {value}")
            count += 1
    for name, value in _DEFAULTS:
        if name not in headers:
            lines.append(f"{name}: {value}")
            count += 1
    if body or method in _WITH_BODY:
        lines.append(f"Content-Length: {len(body)}")
        count += 1
        if body and "Content-Type" not in headers:
            lines.append("Content-Type: application/octet-stream")
            count += 1
    text = "\r\n".join(lines) + "\r\n\r\n"
    if text.count("\n") != count + 1 or text.count("\r") != count + 1:
        raise ValueError("a header name or value holds a line break")
    return text.encode("utf-8")


def content_type_of(headers: CIMultiDict[str]) -> str:
    """The media type of an answer's body, without parameters, lower case (RFC 9110's default when absent)."""
    raw = headers.get("Content-Type")
    return raw.partition(";")[0].strip().lower() if raw else "application/octet-stream"


def content_length_of(headers: CIMultiDict[str]) -> int | None:
    """An answer's declared body length; None when absent or not a plain number."""
    raw = headers.get("Content-Length")
    return int(raw) if raw is not None and raw.isdigit() else None
