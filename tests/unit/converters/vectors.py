"""Loading the reference vectors and matching by their conventions.

Expected objects are subsets ('<any>' matches anything, '<any-string>' any
string); `must_not_have` lists dotted paths that must be absent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

# inside the repository (tests/fixtures/vectors, see its README for where they came from): a clone alone runs them
VECTORS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "vectors"


def load(provider: str) -> dict[str, Any]:
    """The whole vectors file of a provider (e.g. 'anthropic')."""
    return json.loads((VECTORS_DIR / f"{provider}.json").read_text(encoding="utf-8"))


def assert_subset(expected: Any, actual: Any, path: str = "$") -> None:
    if expected == "<any>":
        return
    if expected == "<any-string>":
        assert isinstance(actual, str), f"{path}: expected a string, got {actual!r}"
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key}: missing (actual keys {sorted(actual)})"
            assert_subset(value, actual[key], f"{path}.{key}")
        return
    if isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert len(expected) == len(actual), f"{path}: expected {len(expected)} items, got {len(actual)}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_subset(e, a, f"{path}[{i}]")
        return
    if isinstance(expected, float) or isinstance(actual, float):
        assert actual == expected or abs(float(actual) - float(expected)) < 1e-9, f"{path}: {actual!r} != {expected!r}"
        return
    assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def assert_absent(obj: Any, dotted_paths: Iterable[str]) -> None:
    for dotted in dotted_paths:
        cur = obj
        parts = dotted.split(".")
        for i, part in enumerate(parts):
            if not isinstance(cur, dict) or part not in cur:
                break
            if i == len(parts) - 1:
                raise AssertionError(f"{dotted} must not be present, found {cur[part]!r}")
            cur = cur[part]


def stream_payloads(events: Iterable[bytes]) -> list[Any]:
    """Turn emitted SSE event bytes into the list form the vectors use ('[DONE]' kept as a string)."""
    out: list[Any] = []
    for event in events:
        for line in event.decode("utf-8").split("\n"):
            if not line.startswith("data: "):
                continue
            data = line[len("data: "):]
            out.append(data if data == "[DONE]" else orjson.loads(data))
    return out


def assert_stream(expected: list[Any], events: Iterable[bytes], optional_trailing_done: bool = False) -> None:
    actual = stream_payloads(events)
    if optional_trailing_done and actual and actual[-1] == "[DONE]" and (not expected or expected[-1] != "[DONE]"):
        actual = actual[:-1]
    assert_subset(expected, actual, "$stream")


def wire_lines_to_bytes(lines: list[str]) -> bytes:
    """upstream_stream entries are raw wire lines; '' is the blank separator."""
    return "".join(line + "\n" for line in lines).encode("utf-8")


def assert_exact(expected: Any, actual: Any, path: str = "$") -> None:
    """The China vectors' rule: structural equality, '<any>' wildcards, no extra keys.

    One exception, from providers-global.md §0.3: stream chunks may carry `"usage": null`
    when the client asked for include_usage.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        extra = {k for k in set(actual) - set(expected) if not (k == "usage" and actual[k] is None)}
        assert not extra and set(expected) <= set(actual), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for key, value in expected.items():
            assert_exact(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        assert len(expected) == len(actual), f"{path}: {len(actual)} items, expected {len(expected)}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_exact(e, a, f"{path}[{i}]")
    else:
        assert_subset(expected, actual, path)


def feed_all(conv: Any, data: bytes, step: int | None = None) -> list[bytes]:
    """Feed a stream converter all of `data` (in `step`-byte pieces when given), then flush it."""
    out: list[bytes] = []
    pieces = [data] if step is None else [data[i:i + step] for i in range(0, len(data), step)]
    for piece in pieces:
        out += conv.feed(piece)
    return out + conv.flush()
