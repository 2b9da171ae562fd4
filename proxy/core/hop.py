"""Hop-by-hop header filtering, in one place (RFC 9110 §7.6.1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from multidict import CIMultiDict, MultiMapping

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "proxy-connection",
})


@lru_cache(maxsize=256)
def _skipped(connection: str, drop: tuple[str, ...]) -> frozenset[str]:
    """Lower-case names to leave out: hop-by-hop ones, those named in Connection, and `drop` (same few per caller)."""
    named = {v.strip().lower() for v in connection.split(",") if v.strip()}
    return HOP_BY_HOP | named | {d.lower() for d in drop}


def end_to_end(headers: Mapping[str, str] | Iterable[tuple[str, str]], drop: tuple[str, ...] = ()) -> CIMultiDict[str]:
    """A copy without hop-by-hop headers, headers named in Connection, and `drop` (repeated headers kept)."""
    items: Iterable[tuple[str, str]]
    if isinstance(headers, MultiMapping):
        connection, items = ",".join(headers.getall("Connection", ())), headers.items()
    else:
        items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        connection = ",".join(v for k, v in items if k.lower() == "connection")
    skip = _skipped(connection, drop)
    return CIMultiDict([(name, value) for name, value in items if name.lower() not in skip])


_BREAKS = ("\r", "\n", "\x00")


def holds_break(text: str) -> bool:
    return any(c in text for c in _BREAKS)


def unsendable_header(headers: Mapping[str, str]) -> str | None:
    """The first header whose name or value holds CR, LF or NUL (no HTTP client sends one: it would inject
    headers), None when every one can be sent."""
    for name, value in headers.items():
        if holds_break(name) or holds_break(value):
            return name
    return None
