"""Hop-by-hop header filtering, in one place (RFC 9110 §7.6.1)."""

from __future__ import annotations

from typing import Iterable, Mapping

from multidict import CIMultiDict

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "proxy-connection",
})


def end_to_end(headers: Mapping[str, str] | Iterable[tuple[str, str]], drop: Iterable[str] = ()) -> CIMultiDict[str]:
    """A copy without hop-by-hop headers, headers named in Connection, and `drop`."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    extra = {d.lower() for d in drop}
    for name, value in items:
        if name.lower() == "connection":
            extra.update(v.strip().lower() for v in value.split(","))
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in items:
        low = name.lower()
        if low in HOP_BY_HOP or low in extra:
            continue
        out.add(name, value)
    return out
