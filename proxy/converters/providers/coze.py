"""Coze bots: chat v3 (default, always streamed upstream) and the legacy v2 open_api chat."""

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
from proxy.converters.chunks import ChunkWriter, completion_body
from proxy.converters.errors import generic_error, parse_json, type_for_status
from proxy.core.sse import SSEDecoder

PROVIDES = Provides()

# Coze business codes that deserve a specific HTTP status; other codes are 400 (5xxx: 500).
_STATUS_BY_CODE = {4100: 401, 4101: 403}
FALLBACK_USER = "one-api-user"   # v3 requires a user_id; used when neither the client nor the channel gives one

Event = tuple[str, Any]   # ("text" | "reasoning" | "start" | "usage" | "finish" | "error" | "done", value)


def _is_v2(ctx: ConvertContext) -> bool:
    return ctx.config.get("api_version") == "v2"


def _bot_id(model: str) -> str:
    return model[len("bot-"):] if model.startswith("bot-") else model


def _headers(ctx: ConvertContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {ctx.key}", "Content-Type": "application/json"}


def _check_supported(body: Mapping[str, Any]) -> None:
    if body.get("tools") or body.get("functions"):
        raise ConversionError("Coze bots use their own plugins; tools/functions are not supported")
    if (body.get("response_format") or {}).get("type", "text") != "text":
        raise ConversionError("response_format is not supported by Coze bots")
    if (body.get("n") or 1) > 1:
        raise ConversionError("n > 1 is not supported by Coze bots")


def _parts(content: Any) -> list[dict[str, Any]]:
    """OpenAI content → Coze object_string parts (text / image with file_url)."""
    if content is None or isinstance(content, str):
        return [{"type": "text", "text": content or ""}]
    out = []
    for part in content:
        if part.get("type") == "text":
            out.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if not url.startswith(("http://", "https://")):
                raise ConversionError("Coze takes images by URL only (http/https), not data: URLs")
            out.append({"type": "image", "file_url": url})
        else:
            raise ConversionError(f"Coze does not support content parts of type {part.get('type')!r}")
    return out


def _turns(messages: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(role, parts) per user/assistant message; system text is prepended to the first user message."""
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for msg in messages:
        role = msg.get("role")
        if role == "system" or role == "developer":
            system += [p["text"] for p in _parts(msg.get("content")) if p["type"] == "text"]
        elif role in ("user", "assistant"):
            turns.append((role, _parts(msg.get("content"))))
        else:
            raise ConversionError(f"Coze does not support {role!r} messages")
    if not turns or turns[-1][0] != "user":
        raise ConversionError("the last message for a Coze bot must be a user message")
    if system:
        i = next(i for i, (role, _) in enumerate(turns) if role == "user")
        turns[i] = ("user", [{"type": "text", "text": "\n".join(system)}] + turns[i][1])
    return turns


def _as_text(parts: list[dict[str, Any]]) -> str:
    if any(p["type"] != "text" for p in parts):
        raise ConversionError("Coze v2 chat takes text only; use chat v3 for images")
    return "\n".join(p["text"] for p in parts) if len(parts) > 1 else parts[0]["text"]


def _v3_message(role: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    if any(p["type"] != "text" for p in parts):
        msg = {"role": role, "content": orjson.dumps(parts).decode(), "content_type": "object_string"}
    else:
        msg = {"role": role, "content": _as_text(parts), "content_type": "text"}
    if role == "assistant":
        msg["type"] = "answer"
    return msg


def _v3_request(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    payload = {
        "bot_id": _bot_id(ctx.model),
        "user_id": body.get("user") or ctx.config.get("user_id") or FALLBACK_USER,
        "stream": True,   # a v3 non-stream call needs polling; the stream is aggregated instead
        "additional_messages": [_v3_message(role, parts) for role, parts in _turns(body.get("messages") or [])],
    }
    return UpstreamRequest("POST", ctx.base_url + "/v3/chat", _headers(ctx), orjson.dumps(payload))


def _v2_request(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    turns = _turns(body.get("messages") or [])
    payload = {
        "bot_id": _bot_id(ctx.model),
        "user": ctx.config.get("user_id") or body.get("user") or FALLBACK_USER,
        "query": _as_text(turns[-1][1]),
        "stream": bool(body.get("stream")),
        "chat_history": [{"role": role, "content": _as_text(parts), "content_type": "text"}
                         for role, parts in turns[:-1]],
    }
    return UpstreamRequest("POST", ctx.base_url + "/open_api/v2/chat", _headers(ctx), orjson.dumps(payload))


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if ctx.mode != "chat":
        raise ConversionError(f"Coze channels support chat only, not {ctx.mode}")
    _check_supported(body)
    return _v2_request(body, ctx) if _is_v2(ctx) else _v3_request(body, ctx)


# ---------------------------------------------------------------- events

def coze_error(code: Any, message: str, status: int = 200) -> OpenAIError:
    """A Coze business code → OpenAI error; HTTP 200 errors get a 4xx/5xx status from the code."""
    if status < 400:
        status = _STATUS_BY_CODE.get(code, 500 if isinstance(code, int) and 5000 <= code < 6000 else 400)
    return OpenAIError(status=status, message=message or f"Coze error {code}", type=type_for_status(status),
                       code=code)


def _chat_error(obj: Any) -> OpenAIError:
    err = (obj.get("last_error") or obj) if isinstance(obj, dict) else {}
    return coze_error(err.get("code"), err.get("msg") or err.get("message") or "Coze chat failed")


def _v3_events(name: str, obj: Any) -> list[Event]:
    if name in ("conversation.chat.created", "conversation.chat.in_progress"):
        return [("start", None)]
    if name == "conversation.message.delta" and isinstance(obj, dict) and obj.get("type") == "answer":
        return [("reasoning", obj.get("reasoning_content") or ""), ("text", obj.get("content") or "")]
    if name == "conversation.chat.completed":
        usage = (obj or {}).get("usage") or {}
        return [("usage", Usage(prompt_tokens=int(usage.get("input_count") or 0),
                                completion_tokens=int(usage.get("output_count") or 0))), ("finish", "stop")]
    if name in ("conversation.chat.failed", "error"):
        return [("error", _chat_error(obj))]
    if name == "conversation.chat.requires_action":
        return [("error", coze_error("requires_action", "the Coze bot asked for client-side tool outputs, "
                                     "which the gateway does not support", 400))]
    return [("done", None)] if name == "done" else []


def _v2_events(obj: Any) -> list[Event]:
    if not isinstance(obj, dict):
        return []
    kind = obj.get("event")
    if kind == "message" and (obj.get("message") or {}).get("type") == "answer":
        return [("text", obj["message"].get("content") or "")]
    if kind == "error":
        info = obj.get("error_information") or {}
        return [("error", coze_error(info.get("code"), info.get("msg") or ""))]
    return [("finish", "stop"), ("done", None)] if kind == "done" else []


class _EventReader:
    """Coze SSE bytes → semantic events; a plain JSON body (an HTTP 200 error) is caught too."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._raw: bytes | None = b""   # bytes kept while the body might be plain JSON

    def feed(self, data: bytes) -> list[Event]:
        if self._raw is not None:
            self._raw += data
            head = self._raw.lstrip()
            if not head:
                return []
            if head[:1] == b"{":
                return []
            data, self._raw = self._raw, None
        return self._events(self._decoder.feed(data))

    def flush(self) -> list[Event]:
        if self._raw is not None and self._raw.strip():
            obj = parse_json(self._raw)
            if isinstance(obj, dict) and obj.get("code"):
                return [("error", coze_error(obj["code"], obj.get("msg") or ""))]
            return [("error", coze_error("bad_response", "Coze answered a body that is not an event stream", 502))]
        return self._events(self._decoder.flush())

    @staticmethod
    def _events(sse: Iterable[Any]) -> list[Event]:
        out: list[Event] = []
        for event in sse:
            obj = parse_json(event.data.encode())
            out += _v3_events(event.event, obj) if event.event else _v2_events(obj)
        return out


# ---------------------------------------------------------------- responses

def _aggregate(events: list[Event], ctx: ConvertContext) -> Converted:
    text, reasoning, usage = [], [], Usage()
    for kind, value in events:
        if kind == "error":
            return Converted(None, usage, value)
        if kind == "text":
            text.append(value)
        elif kind == "reasoning":
            reasoning.append(value)
        elif kind == "usage":
            usage = value
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
    if any(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    return Converted(completion_body(ctx.model, message, "stop", usage, created=int(ctx.now)), usage)


def _v2_body_to_openai(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    answers = [m.get("content") or "" for m in obj.get("messages") or [] if m.get("type") == "answer"]
    message = {"role": "assistant", "content": answers[0] if answers else ""}
    return Converted(completion_body(ctx.model, message, "stop", Usage(), created=int(ctx.now)), Usage())


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    """v2 JSON answer, a JSON error (code != 0) or the whole v3 event stream, aggregated."""
    obj = parse_json(body)
    if isinstance(obj, dict):
        if obj.get("code"):
            return Converted(None, Usage(), coze_error(obj["code"], obj.get("msg") or "", status))
        return _v2_body_to_openai(obj, ctx)
    reader = _EventReader()
    return _aggregate(reader.feed(body) + reader.flush(), ctx)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    obj = parse_json(body)
    if isinstance(obj, dict) and obj.get("code") and isinstance(obj.get("msg"), str):
        return coze_error(obj["code"], obj["msg"], status)
    return generic_error(status, body)


# ---------------------------------------------------------------- streaming

class CozeStream:
    """v3 and v2 chat streams → OpenAI chunks; `finish` comes from chat.completed (v3) or done (v2)."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._reader = _EventReader()
        self._writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now))
        self._done = False

    def feed(self, data: bytes) -> list[bytes]:
        return self._emit(self._reader.feed(data))

    def flush(self) -> list[bytes]:
        out = self._emit(self._reader.flush())
        return out + self._emit([("finish", "stop"), ("done", None)])

    def _emit(self, events: list[Event]) -> list[bytes]:
        out: list[bytes] = []
        for kind, value in events:
            if self._done:
                break
            if kind == "error":
                self.error, self._done = value, True
                out += ChunkWriter.error(value)
            elif kind == "done":
                self._done = True
                out += self._writer.end("stop", self.usage)
            else:
                out += self._one(kind, value)
        return out

    def _one(self, kind: str, value: Any) -> list[bytes]:
        if kind == "usage":
            self.usage = value
            return []
        if kind == "finish":
            return self._writer.finish(value)
        if kind == "start":
            return self._writer.start()
        if kind == "reasoning":
            return self._writer.reasoning(value)
        return self._writer.content(value)


def stream_to_openai(ctx: ConvertContext) -> CozeStream:
    return CozeStream(ctx)
