"""Newline-delimited JSON framing (Ollama streams, Cohere v1 streams), fed in any split."""

from __future__ import annotations

__all__ = ["NDJSONDecoder"]


class NDJSONDecoder:
    """Incremental newline-delimited JSON: feed bytes in any split, get complete non-empty lines."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[str]:
        *lines, self._buf = (self._buf + data).split(b"\n")
        return [line.decode("utf-8", "replace").strip() for line in lines if line.strip()]

    def flush(self) -> list[str]:
        rest, self._buf = self._buf, b""
        return [rest.decode("utf-8", "replace").strip()] if rest.strip() else []
