"""AI Proxy knowledge-base library (`/api/library/ask`) to and from OpenAI chat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import ConversionError, ConvertContext, Converted, OpenAIError, UpstreamRequest, Usage
from proxy.converters.chunks import ChunkWriter, completion_body
from proxy.converters.errors import generic_error, parse_json
from proxy.converters.text import text_of

PROVIDES = Provides(other_config="library_id")

ERROR_TYPE = "aiproxy_error"
# One API appends the source documents as a Markdown list under this heading ("Reference documents:").
DOCUMENTS_HEADING = "\n\n参考文档：\n"
_TEXT_ONLY = "AI Proxy library questions are text only"


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    """The library answers one question: the last message's text is the query (earlier turns are
    not part of this API)."""
    if ctx.mode != "chat":
        raise ConversionError(f"AI Proxy library does not support {ctx.mode}")
    library_id = ctx.config.get("library_id")
    if not library_id:
        raise ConversionError("this AI Proxy library channel has no library_id in its config",
                              code="channel_config_missing", status=500)
    _reject_unsupported(body)
    messages = body.get("messages") or []
    query = text_of(messages[-1].get("content"), _TEXT_ONLY, sep="") if messages else ""
    stream = bool(body.get("stream"))
    headers = {"Authorization": f"Bearer {ctx.key}", "Content-Type": "application/json"}
    if stream:
        headers["Accept"] = "text/event-stream"
    payload = {"model": ctx.model, "query": query, "libraryId": library_id, "stream": stream}
    return UpstreamRequest("POST", f"{ctx.base_url}/api/library/ask", headers, orjson.dumps(payload))


def _reject_unsupported(body: Mapping[str, Any]) -> None:
    if body.get("tools") or body.get("functions"):
        raise ConversionError("AI Proxy library does not support tools")
    if (body.get("n") or 1) > 1:
        raise ConversionError("AI Proxy library returns one answer; n > 1 is not supported")
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type", "text") != "text":
        raise ConversionError(f"AI Proxy library does not support response_format {fmt.get('type')}")


def documents_markdown(documents: Any) -> str:
    if not isinstance(documents, list) or not documents:
        return ""
    lines = "".join(f"{i}. [{d.get('title') or ''}]({d.get('url') or ''})\n"
                    for i, d in enumerate(documents, 1) if isinstance(d, dict))
    return DOCUMENTS_HEADING + lines


def _error_in(obj: Mapping[str, Any], status: int) -> OpenAIError | None:
    """`{"success": false, "errCode": n, "message"}`; HTTP 200 errors become 500 (no code table exists)."""
    code = obj.get("errCode")
    if not code and obj.get("success") is not False:
        return None
    message = obj.get("message") or f"AI Proxy library error {code}"
    return OpenAIError(status if status >= 400 else 500, message, ERROR_TYPE, code)


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    """Answer plus its source documents; the library reports no token usage (count locally)."""
    obj = parse_json(body)
    if not isinstance(obj, dict):
        return Converted(None, Usage(), OpenAIError(502, "invalid AI Proxy library response body", ERROR_TYPE))
    err = _error_in(obj, status)
    if err is not None:
        return Converted(None, Usage(), err)
    message = {"role": "assistant", "content": (obj.get("answer") or "") + documents_markdown(obj.get("documents"))}
    return Converted(completion_body(ctx.model, message, "stop", Usage(), created=int(ctx.now)), Usage())


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    obj = parse_json(body)
    err = _error_in(obj, status) if isinstance(obj, dict) else None
    return err or generic_error(status, body)


class _Stream:
    """Lines `data:{"content", "model", "documents", "finish"}`; the documents come last as text.

    Parsed line by line as One API does (events need no blank line between them); a bare JSON
    line is an error body answered instead of a stream.
    """

    def __init__(self, ctx: ConvertContext) -> None:
        self.writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now))
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._buf = b""
        self._documents: Any = None

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            return []
        self._buf += data
        out: list[bytes] = []
        while self.error is None and (end := self._buf.find(b"\n")) >= 0:
            line, self._buf = self._buf[:end], self._buf[end + 1:]
            out += self._line(line.strip())
        return out

    def flush(self) -> list[bytes]:
        out = self._line(self._buf.strip()) if self.error is None else []
        self._buf = b""
        if self.error is not None:
            return out
        return out + self.writer.content(documents_markdown(self._documents)) + self.writer.end("stop", self.usage)

    def _line(self, line: bytes) -> list[bytes]:
        if line.startswith(b"data:"):
            line = line[len(b"data:"):].strip()
        elif not line.startswith(b"{"):
            return []
        obj = parse_json(line)
        if not isinstance(obj, dict):
            return []
        self.error = _error_in(obj, 200)
        if self.error is not None:
            return ChunkWriter.error(self.error)
        if obj.get("documents"):
            self._documents = obj["documents"]
        return self.writer.content(obj.get("content") or "")


def stream_to_openai(ctx: ConvertContext) -> _Stream:
    return _Stream(ctx)
