"""Hostile inputs for any route, drawn from an OpenAPI document: a fixed, small set (the same every run), so a
fuzz run is bounded in count and time and a failure names exactly what it sent.

`requests(doc)` yields (method, path, query, body bytes | None, content type) for every operation: each path
parameter and all query parameters at once replaced by each hostile string, and each body property at once
set to each hostile JSON value, plus bodies that are not objects or not JSON at all."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

STRINGS = (
    "²", "١٢٣", "a\x00b", "\r\nX-Injected: 1", "9" * 40, "-9223372036854775809", "1e309", "' OR 1=1 --",
    "%_\\", "𝔘𝔫𝔦 😀\u202e\ufeff", "x" * 3000, "",
)
DEEP = 1000


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def deep_json(levels: int = DEEP) -> bytes:
    """JSON nested `levels` deep, written out directly (orjson refuses to write more than 254 levels)."""
    return b"[" * levels + b'"bottom"' + b"]" * levels


JSON_VALUES: tuple[Any, ...] = (
    None, True, "²", "a\x00b", -(10**40), 2**63, 1.5e308, [], {"a": {"b": 1}}, _deep(200), "x" * 3000,
    "𝔘𝔫𝔦 😀\u202e",
)
RAW_BODIES = (b"[]", b'"text"', b"123", b"null", b"{", b"\xff\xfe\x00", b'{"a": "\\ud800"}', deep_json(),
              b'{"id": 1, "id": "two"}')


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: bytes | None
    content_type: str = "application/json"

    def describe(self) -> str:
        body = self.body[:80] if self.body is not None else None
        query = [(name, value[:40]) for name, value in self.query]
        return f"{self.method} {self.path[:120]} {query!r} {body!r}"


def _schema(doc: dict[str, Any], ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref")
    if ref is None:
        return ref_or_schema
    return doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]  # type: ignore[no-any-return]


def _fill(path: str, value: str) -> str:
    return re.sub(r"{(\w+)(:[^}]*)?}", lambda _: quote(value, safe=""), path)


def attempts(doc: dict[str, Any], skip: frozenset[str] = frozenset(), strings: tuple[str, ...] = STRINGS,
             access: frozenset[str] | None = None) -> Iterator[Attempt]:
    """Every hostile attempt on every operation of `doc` whose "METHOD path" is not in `skip` (and whose
    `x-access` is in `access`, when given)."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if f"{method.upper()} {path}" in skip or access is not None and op.get("x-access") not in access:
                continue
            yield from _operation(doc, method.upper(), path, op, strings)


def _operation(doc: dict[str, Any], method: str, path: str, op: dict[str, Any],
               strings: tuple[str, ...]) -> Iterator[Attempt]:
    params = op.get("parameters", [])
    in_path = any(p["in"] == "path" for p in params)
    query_names = [p["name"] for p in params if p["in"] == "query"]
    plain = _fill(path, "1")
    body_schema = None
    if "requestBody" in op:
        body_schema = _schema(doc, op["requestBody"]["content"]["application/json"]["schema"])
    ok_body = b"{}" if body_schema is not None else None
    for value in strings:
        if in_path:
            yield Attempt(method, _fill(path, value), (), ok_body)
        if query_names:
            yield Attempt(method, plain, tuple((name, value) for name in query_names), ok_body)
    if not in_path and not query_names and body_schema is None:
        yield Attempt(method, plain, (), None)
    if body_schema is not None:
        names = list(body_schema.get("properties", {})) or ["value"]
        for value in JSON_VALUES:
            # the standard library writes what orjson refuses: integers past 64 bits, 200 levels of nesting
            yield Attempt(method, plain, (), json.dumps({name: value for name in names}).encode())
        for raw in RAW_BODIES:
            yield Attempt(method, plain, (), raw)
