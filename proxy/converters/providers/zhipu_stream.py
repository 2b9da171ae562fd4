"""Zhipu streams to OpenAI chunks: v4 OpenAI-like SSE and v3 `event:add/finish` SSE, plus shared tables."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from proxy.converters.base import ConvertContext, OpenAIError, Usage
from proxy.converters.chunks import ChunkWriter
from proxy.converters.errors import parse_json
from proxy.converters.usage import usage_from_openai
from proxy.core.sse import SSEDecoder, SSEEvent, encode_data

ERROR_TYPE = "zhipu_error"
FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "sensitive": "content_filter"}
# Zhipu business code ranges -> HTTP status (docs.bigmodel.cn/cn/faq/api-code); first match wins.
_CODE_STATUS: tuple[tuple[int, int, int], ...] = (
    (1000, 1005, 401), (1113, 1113, 429), (1110, 1121, 403), (1210, 1215, 400),
    (1220, 1222, 403), (1261, 1261, 400), (1301, 1301, 400), (1302, 1305, 429), (500, 500, 500),
)


def status_for_code(code: Any) -> int:
    try:
        number = int(code)
    except (TypeError, ValueError):
        return 500
    for low, high, status in _CODE_STATUS:
        if low <= number <= high:
            return status
    return 500


def usage_to_openai(raw: Any) -> Usage:
    """Usage with every part the provider reports (cache reads and writes, reasoning), OpenAI's convention."""
    return usage_from_openai(raw) or Usage()


class _Writer(ChunkWriter):
    """Role on the first content chunk, and Zhipu's usage-carrying finish chunk."""

    def finish_with_usage(self, reason: str, usage: Usage | None) -> list[bytes]:
        """Zhipu's final chunk carries usage unasked; the normalised form keeps it there."""
        out = self.finish(reason)
        if usage is None or not out:
            return out
        obj = orjson.loads(out[-1][len(b"data: "):])
        obj["usage"] = usage.to_openai()
        out[-1] = encode_data(orjson.dumps(obj))
        return out


class V4Stream:
    """v4 chunks are OpenAI-like (no `object`, role on every delta, usage on the last one)."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.writer = _Writer(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now),
                              role_with_content=True)
        self.decoder = SSEDecoder()
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._finish: str | None = None
        self._has_usage = False
        self._tools: set[Any] = set()

    def feed(self, data: bytes) -> list[bytes]:
        return [] if self.error is not None else self._events(self.decoder.feed(data))

    def flush(self) -> list[bytes]:
        if self.error is not None:
            return []
        out = self._events(self.decoder.flush())
        if self.error is not None:
            return out
        usage = self.usage if self._has_usage else None
        return out + self.writer.finish_with_usage(self._finish or "stop", usage) + self.writer.end(
            self._finish or "stop", self.usage)

    def _events(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            obj = parse_json(event.data) if event.data != "[DONE]" else None
            if isinstance(obj, dict):
                out += self._chunk(obj)
            if self.error is not None:
                break
        return out

    def _fail(self, status: int, message: str, code: Any) -> list[bytes]:
        self.error = OpenAIError(status, message, ERROR_TYPE, code)
        return ChunkWriter.error(self.error)

    def _chunk(self, obj: dict[str, Any]) -> list[bytes]:
        err = obj.get("error")
        if isinstance(err, dict):
            return self._fail(status_for_code(err.get("code")), err.get("message") or "", err.get("code"))
        self.writer.id = obj.get("id") or self.writer.id
        self.writer.created = int(obj.get("created") or self.writer.created)
        if isinstance(obj.get("usage"), dict):
            self.usage, self._has_usage = usage_to_openai(obj["usage"]), True
        out: list[bytes] = []
        for choice in obj.get("choices") or []:
            delta = choice.get("delta") or {}
            out += self.writer.reasoning(delta.get("reasoning_content") or "")
            out += self.writer.content(delta.get("content") or "")
            out += self._tool_deltas(delta.get("tool_calls") or [])
            reason = choice.get("finish_reason")
            if reason == "network_error":
                return out + self._fail(502, "Zhipu reported a network error while generating", reason)
            if reason:
                self._finish = FINISH.get(reason, "stop")
        return out

    def _tool_deltas(self, calls: list[dict[str, Any]]) -> list[bytes]:
        out: list[bytes] = []
        for i, call in enumerate(calls):
            key = call.get("index", i)
            fn = call.get("function") or {}
            if key not in self._tools:
                self._tools.add(key)
                out += self.writer.tool_call_start(key, call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                                                   fn.get("name") or "")
            out += self.writer.tool_call_arguments(key, fn.get("arguments") or "")
        return out


class V3Stream:
    """v3 `sse-invoke`: raw-text `data:` lines kept verbatim (no space stripping), `meta:` JSON on finish.

    The shared SSEDecoder drops `meta:` and strips one leading space, so lines are parsed here.
    A body that starts with `{` is a JSON error answered instead of a stream.
    """

    def __init__(self, ctx: ConvertContext) -> None:
        self.writer = _Writer(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now),
                              role_with_content=True)
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._finish: str | None = None
        self._buf = b""
        self._fields: dict[str, list[str]] = {}
        self._json: bool | None = None    # unknown until the first non-blank byte

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            return []
        self._buf += data
        if self._json is None and self._buf.strip():
            self._json = self._buf.lstrip().startswith(b"{")
        if self._json is not False:
            return []
        out: list[bytes] = []
        while self.error is None and (end := self._buf.find(b"\n")) >= 0:
            line, self._buf = self._buf[:end], self._buf[end + 1:]
            out += self._line(line.rstrip(b"\r").decode("utf-8", "replace"))
        return out

    def flush(self) -> list[bytes]:
        if self.error is not None:
            return []
        if self._json:
            obj = parse_json(self._buf)
            obj = obj if isinstance(obj, dict) else {}
            code = obj.get("code")
            self.error = OpenAIError(status_for_code(code), obj.get("msg") or "invalid Zhipu stream",
                                     ERROR_TYPE, code)
            return ChunkWriter.error(self.error)
        out = self._line(self._buf.decode("utf-8", "replace")) if self._buf else []
        out += self._dispatch() if self.error is None else []
        if self.error is not None:
            return out
        return out + self.writer.end(self._finish or "stop", self.usage)

    def _line(self, line: str) -> list[bytes]:
        if not line:
            return self._dispatch()
        if not line.startswith(":"):
            name, _, value = line.partition(":")
            self._fields.setdefault(name, []).append(value)
        return []

    def _dispatch(self) -> list[bytes]:
        fields, self._fields = self._fields, {}
        if "data" not in fields and "meta" not in fields:
            return []
        event = (fields.get("event") or ["add"])[-1]
        text = "\n".join(fields.get("data") or [])
        if event == "error":
            self.error = OpenAIError(500, text or "Zhipu stream error", ERROR_TYPE, None)
            return ChunkWriter.error(self.error)
        if event == "interrupted":
            self._finish = "content_filter"
            return []
        if event == "finish":
            self._finish = "stop"
            meta = parse_json("\n".join(fields.get("meta") or []).encode("utf-8"))
            if isinstance(meta, dict) and isinstance(meta.get("usage"), dict):
                self.usage = usage_to_openai(meta["usage"])
        return self.writer.content(text)
