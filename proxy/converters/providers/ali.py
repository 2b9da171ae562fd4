"""Ali DashScope native API: text generation (X-DashScope-SSE), text embeddings, wanx image tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import (
    ConversionError,
    ConvertContext,
    Converted,
    OpenAIError,
    UpstreamRequest,
    Usage,
)
from proxy.converters.chunks import ChunkWriter
from proxy.converters.errors import generic_error, parse_json
from proxy.converters.providers.ali_images import image_request, image_response, task_poll_request
from proxy.converters.text import text_of
from proxy.converters.usage import usage_from_openai
from proxy.core.sse import DONE, SSEDecoder

__all__ = ["request_from_openai", "response_to_openai", "stream_to_openai", "error_to_openai",
           "task_poll_request"]

PROVIDES = Provides(modes=frozenset({"chat", "embeddings", "images"}), task=True, other_config="plugin")

INTERNET_SUFFIX = "-internet"   # One API convention: model suffix that turns on DashScope web search
TOP_P_MAX = 0.9999             # some models reject top_p == 1
# OpenAI fields copied into `parameters` unchanged (top_k, enable_* are DashScope extensions clients send).
_PARAMETERS = ("temperature", "top_k", "seed", "stop", "presence_penalty", "tools", "tool_choice",
               "response_format", "n", "repetition_penalty", "enable_thinking", "thinking_budget", "enable_search")
FINISH_REASONS: dict[str, str | None] = {"null": None, "stop": "stop", "length": "length", "tool_calls": "tool_calls"}

# DashScope error code → HTTP status, for errors reported with HTTP 200 or inside a stream.
STATUS_BY_CODE = {
    "InvalidParameter": 400, "DataInspectionFailed": 400, "BadRequest": 400, "InvalidURL": 400,
    "Arrearage": 400, "InvalidApiKey": 401, "AccessDenied": 403, "ModelNotFound": 404,
    "RequestTimeOut": 408, "BadRequest.TooLarge": 413, "Throttling": 429, "InternalError": 500,
    "ModelUnavailable": 503,
}
_ENDPOINTS = {
    "chat": "/api/v1/services/aigc/text-generation/generation",
    "embeddings": "/api/v1/services/embeddings/text-embedding/text-embedding",
}
_TEXT_ONLY = ("DashScope text generation takes text only; images need the multimodal endpoint, which this channel "
              "type does not use")


def _headers(ctx: ConvertContext) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {ctx.key}", "Content-Type": "application/json"}
    if ctx.config.get("plugin"):
        headers["X-DashScope-Plugin"] = ctx.config["plugin"]
    return headers


def _message(msg: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": str(msg.get("role", "user")).lower(),
                           "content": text_of(msg.get("content"), _TEXT_ONLY)}
    for key in ("tool_calls", "tool_call_id", "name"):
        if msg.get(key):
            out[key] = msg[key]
    return out


def _parameters(body: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"result_format": "message"}
    if stream:
        out["incremental_output"] = True   # otherwise every event repeats the whole text so far
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if limit:
        out["max_tokens"] = limit
    out.update({k: body[k] for k in _PARAMETERS if body.get(k) is not None})
    if body.get("top_p") is not None:
        out["top_p"] = min(float(body["top_p"]), TOP_P_MAX)
    return out


def _chat_request(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    model, stream = ctx.model, bool(body.get("stream"))
    parameters = _parameters(body, stream)
    if model.endswith(INTERNET_SUFFIX):
        model = model[: -len(INTERNET_SUFFIX)]
        parameters["enable_search"] = True
    payload = {"model": model, "input": {"messages": [_message(m) for m in body.get("messages") or []]},
               "parameters": parameters}
    headers = _headers(ctx)
    if stream:
        headers.update({"Accept": "text/event-stream", "X-DashScope-SSE": "enable"})
    return UpstreamRequest("POST", ctx.base_url + _ENDPOINTS["chat"], headers, orjson.dumps(payload))


def _embeddings_request(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else list(texts or [])
    if not all(isinstance(t, str) for t in texts):
        raise ConversionError("DashScope embeddings take text input only (no token arrays)")
    if body.get("encoding_format") not in (None, "float", "base64"):   # the relay encodes base64 itself
        raise ConversionError("encoding_format must be float or base64")
    payload: dict[str, Any] = {"model": ctx.model, "input": {"texts": texts}}
    if body.get("dimensions"):
        payload["parameters"] = {"dimension": body["dimensions"]}
    return UpstreamRequest("POST", ctx.base_url + _ENDPOINTS["embeddings"], _headers(ctx), orjson.dumps(payload))


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if ctx.mode == "chat":
        return _chat_request(body, ctx)
    if ctx.mode == "embeddings":
        return _embeddings_request(body, ctx)
    if ctx.mode == "images":
        return image_request(body, ctx, _headers(ctx))
    raise ConversionError(f"Ali DashScope channels do not support {ctx.mode}")


# ---------------------------------------------------------------- responses and errors

def ali_error(code: Any, message: str, status: int = 200) -> OpenAIError:
    """DashScope `code`/`message` → OpenAI error; with HTTP 200 (or in a stream) the status comes from the code."""
    if status < 400:
        key = str(code or "")
        status = STATUS_BY_CODE.get(key) or STATUS_BY_CODE.get(key.split(".")[0]) or 500
    return OpenAIError(status=status, message=message or f"DashScope error {code}", type="ali_error", code=code)


def _error_in(obj: Any, status: int = 200) -> OpenAIError | None:
    if isinstance(obj, dict) and obj.get("code") and not obj.get("output"):
        return ali_error(obj["code"], obj.get("message") or "", status)
    return None


def _usage(obj: Any) -> Usage:
    """Usage with every part the provider reports (cache reads and writes, reasoning), OpenAI's convention."""
    return usage_from_openai(obj) or Usage()


def _finish_reason(raw: Any, message: Mapping[str, Any]) -> str | None:
    reason = FINISH_REASONS.get(raw if isinstance(raw, str) else "null", "stop")
    if reason == "stop" and message.get("tool_calls"):
        return "tool_calls"
    return reason


def _chat_to_openai(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    usage = _usage(obj.get("usage"))
    choices = []
    for i, choice in enumerate((obj.get("output") or {}).get("choices") or []):
        message = dict(choice.get("message") or {"role": "assistant", "content": ""})
        choices.append({"index": i, "message": message,
                        "finish_reason": _finish_reason(choice.get("finish_reason"), message)})
    body = {"id": obj.get("request_id") or "", "object": "chat.completion", "created": int(ctx.now),
            "model": ctx.model, "choices": choices, "usage": usage.to_openai()}
    return Converted(body, usage)


def _embeddings_to_openai(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    total = int((obj.get("usage") or {}).get("total_tokens") or 0)
    data = [{"object": "embedding", "index": item.get("text_index", i), "embedding": item.get("embedding") or []}
            for i, item in enumerate((obj.get("output") or {}).get("embeddings") or [])]
    body = {"object": "list", "data": data, "model": ctx.model,
            "usage": {"prompt_tokens": total, "total_tokens": total}}
    return Converted(body, Usage(prompt_tokens=total))


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    if not isinstance(obj, dict):
        raise ConversionError("DashScope answered a body that is not JSON", code="bad_response", status=502)
    error = _error_in(obj, status)
    if error is not None:
        return Converted(None, Usage(), error)
    if ctx.mode == "images":
        return image_response(obj, ctx, ali_error)
    return _embeddings_to_openai(obj, ctx) if ctx.mode == "embeddings" else _chat_to_openai(obj, ctx)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    return _error_in(parse_json(body), status) or generic_error(status, body)


# ---------------------------------------------------------------- streaming


class AliStream:
    """`event:result` / `event:error` SSE with `data:` (no space); no [DONE], the last result has a finish_reason."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._decoder = SSEDecoder()
        self._writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now),
                                   role_with_content=True)
        self._calls: set[Any] = set()
        self._done = False
        self._has_id = False

    def feed(self, data: bytes) -> list[bytes]:
        return self._events(self._decoder.feed(data))

    def flush(self) -> list[bytes]:
        out = self._events(self._decoder.flush())
        if not self._done:
            self._done = True
            out += self._writer.end("stop", self.usage)
        return out

    def _events(self, events: Iterable[Any]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            obj = parse_json(event.data.encode())
            if self._done or not isinstance(obj, dict):
                continue
            error = _error_in(obj)
            if error is not None or event.event == "error":
                out += self._fail(error or ali_error("StreamError", "DashScope stream error"))
            else:
                out += self._result(obj)
        return out

    def _fail(self, error: OpenAIError) -> list[bytes]:
        self.error, self._done = error, True
        return ChunkWriter.error(error) + [DONE]

    def _result(self, obj: Mapping[str, Any]) -> list[bytes]:
        if not self._has_id and obj.get("request_id"):
            self._writer.id, self._has_id = obj["request_id"], True
        if obj.get("usage"):
            self.usage = _usage(obj["usage"])
        out: list[bytes] = []
        reason = None
        for choice in (obj.get("output") or {}).get("choices") or []:
            message = choice.get("message") or {}
            out += self._writer.reasoning(message.get("reasoning_content") or "")
            out += self._writer.content(message.get("content") or "")
            for call in message.get("tool_calls") or []:
                out += self._tool_call(call)
            reason = reason or FINISH_REASONS.get(choice.get("finish_reason") or "null", "stop")
        if reason:
            self._done = True
            out += self._writer.end(reason, self.usage)
        return out

    def _tool_call(self, call: Mapping[str, Any]) -> list[bytes]:
        key = call.get("index", 0)
        fn = call.get("function") or {}
        if key in self._calls:
            return self._writer.tool_call_arguments(key, fn.get("arguments") or "")
        self._calls.add(key)
        return self._writer.tool_call_start(key, call.get("id") or f"call_{key}", fn.get("name") or "",
                                            fn.get("arguments") or "")


def stream_to_openai(ctx: ConvertContext) -> AliStream:
    return AliStream(ctx)
