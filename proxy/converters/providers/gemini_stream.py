"""Gemini answers (whole, streamed, errors) → OpenAI; shared by the Gemini API and Vertex AI."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson

from proxy.converters.base import ConvertContext, Converted, OpenAIError, Usage
from proxy.converters.chunks import ChunkWriter, new_completion_id
from proxy.converters.errors import generic_error, parse_json, type_for_status
from proxy.converters.usage import usage_from_gemini
from proxy.core.sse import SSEDecoder

FINISH_REASONS = {
    "STOP": "stop", "MAX_TOKENS": "length",
    "SAFETY": "content_filter", "RECITATION": "content_filter", "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter", "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}  # anything else (MALFORMED_FUNCTION_CALL, OTHER, ...) has no better OpenAI value than "stop"


def finish_reason(raw: Any) -> str:
    return FINISH_REASONS.get(raw, "stop") if raw else "stop"


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def tool_call_from_part(part: dict[str, Any]) -> dict[str, Any]:
    call = part["functionCall"]
    out: dict[str, Any] = {
        "id": call.get("id") or new_call_id(), "type": "function",
        "function": {"name": call.get("name", ""), "arguments": orjson.dumps(call.get("args") or {}).decode()},
    }
    if part.get("thoughtSignature"):  # Google's own OpenAI surface returns it the same way
        out["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    return out


def message_from_parts(parts: list[dict[str, Any]]) -> dict[str, Any]:
    text, thoughts, calls = [], [], []
    for part in parts:
        if "functionCall" in part:
            calls.append(tool_call_from_part(part))
        elif part.get("thought"):
            thoughts.append(part.get("text") or "")
        elif isinstance(part.get("text"), str):
            text.append(part["text"])
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
    if calls:
        message["tool_calls"] = calls
        message["content"] = message["content"] or None
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    return message


def chat_body(ctx: ConvertContext, choices: list[dict[str, Any]], usage: Usage) -> dict[str, Any]:
    """A chat.completion with any number of choices."""
    return {"id": new_completion_id(), "object": "chat.completion", "created": int(ctx.now),
            "model": ctx.model, "choices": choices, "usage": usage.to_openai()}


def _choice(position: int, candidate: dict[str, Any]) -> dict[str, Any]:
    message = message_from_parts((candidate.get("content") or {}).get("parts") or [])
    reason = finish_reason(candidate.get("finishReason"))
    if reason == "stop" and message.get("tool_calls"):
        reason = "tool_calls"
    return {"index": candidate.get("index", position), "message": message, "finish_reason": reason}


def chat_from_gemini(obj: dict[str, Any], ctx: ConvertContext) -> Converted:
    usage = usage_from_gemini(obj.get("usageMetadata"))
    candidates = obj.get("candidates") or []
    choices = [_choice(i, c) for i, c in enumerate(candidates)]
    if not choices:  # prompt blocked (promptFeedback.blockReason) or nothing generated
        reason = "content_filter" if (obj.get("promptFeedback") or {}).get("blockReason") else "stop"
        choices = [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": reason}]
    return Converted(chat_body(ctx, choices, usage), usage)


def embeddings_from_gemini(obj: dict[str, Any], ctx: ConvertContext) -> Converted:
    """The API returns no token counts; usage stays 0 for the relay to count locally."""
    data = [{"object": "embedding", "index": i, "embedding": e.get("values") or []}
            for i, e in enumerate(obj.get("embeddings") or [])]
    usage = Usage()
    body = {"object": "list", "data": data, "model": ctx.model,
            "usage": {"prompt_tokens": 0, "total_tokens": 0}}
    return Converted(body, usage)


def images_from_imagen(obj: dict[str, Any], ctx: ConvertContext) -> Converted:
    data = [{"b64_json": p.get("bytesBase64Encoded", "")} for p in obj.get("predictions") or []
            if p.get("bytesBase64Encoded")]
    return Converted({"created": int(ctx.now), "data": data}, Usage())


_RESPONSE_BUILDERS: dict[str, Callable[[dict[str, Any], ConvertContext], Converted]] = {
    "chat": chat_from_gemini, "embeddings": embeddings_from_gemini, "images": images_from_imagen,
}


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    if not isinstance(obj, dict) or "error" in obj:
        return Converted(None, Usage(), error=google_error(status, body, obj))
    return _RESPONSE_BUILDERS.get(ctx.mode, chat_from_gemini)(obj, ctx)


def google_error(status: int, body: bytes, obj: Any = None) -> OpenAIError:
    """Google RPC envelope {"error":{"code","message","status"}} → OpenAI error (code = status name)."""
    obj = parse_json(body) if obj is None else obj
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):  # JSON-array streams wrap errors
        obj = obj[0]
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str) and err["message"]:
        code = err.get("status") or (str(err["code"]) if err.get("code") is not None else None)
        if status < 400:  # an error inside a 200 answer or a stream: use the code it carries
            status = err["code"] if isinstance(err.get("code"), int) and err["code"] >= 400 else 500
        return OpenAIError(status=status, message=err["message"], type=type_for_status(status), code=code)
    if status < 400:
        return OpenAIError(status=500, message="invalid upstream response", type="server_error")
    return generic_error(status, body)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    return google_error(status, body)


class GeminiStream:
    """`streamGenerateContent?alt=sse` events → OpenAI chunks; finish, usage and [DONE] on flush."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._sse = SSEDecoder()
        self._writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now))
        self._finish: str | None = None
        self._calls = 0
        self._closed = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for event in self._sse.feed(data):
            out += self._event(event.data)
        return out

    def flush(self) -> list[bytes]:
        out: list[bytes] = []
        for event in self._sse.flush():
            out += self._event(event.data)
        if self._closed:
            return out
        self._closed = True
        return out + self._writer.end(self._finish or "stop", self.usage)

    def _event(self, data: str) -> list[bytes]:
        obj = parse_json(data)
        if self._closed or not isinstance(obj, dict):
            return []
        if "error" in obj:
            self.error = google_error(200, data.encode(), obj)
            self._closed = True
            return ChunkWriter.error(self.error)
        if obj.get("usageMetadata"):
            self.usage = usage_from_gemini(obj["usageMetadata"])
        out = self._writer.start()
        candidates = obj.get("candidates") or []
        if not candidates and (obj.get("promptFeedback") or {}).get("blockReason"):
            self._finish = "content_filter"
        for candidate in candidates[:1]:  # n > 1 is refused for streams at request time
            out += self._parts((candidate.get("content") or {}).get("parts") or [])
            if candidate.get("finishReason"):
                self._finish = finish_reason(candidate["finishReason"])
        return out

    def _parts(self, parts: list[dict[str, Any]]) -> list[bytes]:
        out: list[bytes] = []
        for part in parts:
            if "functionCall" in part:
                call = tool_call_from_part(part)
                events = self._writer.tool_call_start(self._calls, call["id"], call["function"]["name"],
                                                       call["function"]["arguments"])
                if "extra_content" in call:
                    events[-1] = _with_extra_content(events[-1], call["extra_content"])
                out += events
                self._calls += 1
            elif part.get("thought"):
                out += self._writer.reasoning(part.get("text") or "")
            elif isinstance(part.get("text"), str):
                out += self._writer.content(part["text"])
        return out


def _with_extra_content(event: bytes, extra: dict[str, Any]) -> bytes:
    """Add the thought signature to a tool-call delta (ChunkWriter has no slot for it)."""
    chunk = orjson.loads(event[len(b"data: "):])
    chunk["choices"][0]["delta"]["tool_calls"][0]["extra_content"] = extra
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def stream_to_openai(ctx: ConvertContext) -> GeminiStream:
    return GeminiStream(ctx)
