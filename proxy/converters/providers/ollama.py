"""Ollama native API: OpenAI chat/embeddings → /api/chat (NDJSON stream) and /api/embed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import ConversionError, ConvertContext, Converted, OpenAIError, UpstreamRequest, Usage
from proxy.converters.chunks import ChunkWriter, completion_body
from proxy.converters.errors import generic_error, parse_json
from proxy.converters.ndjson import NDJSONDecoder

__all__ = ["request_from_openai", "response_to_openai", "stream_to_openai", "error_to_openai",
           "OllamaStream", "NDJSONDecoder"]

PROVIDES = Provides(modes=frozenset({"chat", "embeddings"}))

_OPTIONS = ("temperature", "top_p", "top_k", "seed", "presence_penalty", "frequency_penalty", "num_ctx")
_FINISH = {"stop": "stop", "length": "length"}  # load/unload only answer empty requests
_DATA_URL = re.compile(r"data:[^;,]+(?:;[^,;]+)*;base64,(.*)", re.DOTALL)


# ---- requests -----------------------------------------------------------------------------

def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    builder = _BUILDERS.get(ctx.mode)
    if builder is None:
        raise ConversionError(f"Ollama channels do not support the {ctx.mode!r} endpoint")
    path, payload = builder(body, ctx)
    headers = {"Content-Type": "application/json"}
    if ctx.key:  # hosted or proxied Ollama; a local one ignores it
        headers["Authorization"] = f"Bearer {ctx.key}"
    return UpstreamRequest("POST", f"{ctx.base_url}{path}", headers, orjson.dumps(payload))


def _chat(body: Mapping[str, Any], ctx: ConvertContext) -> tuple[str, dict[str, Any]]:
    if (body.get("n") or 1) > 1:
        raise ConversionError("Ollama returns one choice per request: n must be 1")
    # Ollama streams unless told otherwise, so `stream` is always explicit.
    payload: dict[str, Any] = {"model": ctx.model, "stream": bool(ctx.stream),
                               "messages": _messages(body.get("messages") or [])}
    options = {name: body[name] for name in _OPTIONS if body.get(name) is not None}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        options["num_predict"] = max_tokens
    if body.get("stop"):
        options["stop"] = [body["stop"]] if isinstance(body["stop"], str) else list(body["stop"])
    if options:
        payload["options"] = options
    fmt = _format(body.get("response_format"))
    if fmt is not None:
        payload["format"] = fmt
    if body.get("tools") and _tools_allowed(body.get("tool_choice")):
        payload["tools"] = body["tools"]
    if body.get("keep_alive") is not None:
        payload["keep_alive"] = body["keep_alive"]
    return "/api/chat", payload


def _tools_allowed(choice: Any) -> bool:
    """Ollama has no tool_choice: 'none' means sending no tools; forcing a call is impossible."""
    if choice in (None, "auto"):
        return True
    if choice == "none":
        return False
    raise ConversionError("Ollama does not support tool_choice 'required' or a named function")


def _format(fmt: Any) -> Any:
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema") or "json"
    raise ConversionError(f"response_format type {kind!r} is not supported by Ollama")


def _messages(messages: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for msg in messages:
        role = msg.get("role")
        role = "system" if role == "developer" else role
        if role not in ("system", "user", "assistant", "tool"):
            raise ConversionError(f"message role {role!r} is not supported by Ollama")
        text, images = _content(msg.get("content"))
        item: dict[str, Any] = {"role": role, "content": text}
        if images:
            item["images"] = images
        if role == "assistant" and msg.get("tool_calls"):
            item["tool_calls"] = [_tool_call(call, names) for call in msg["tool_calls"]]
        if role == "tool" and names.get(msg.get("tool_call_id") or ""):
            item["tool_name"] = names[msg["tool_call_id"]]
        out.append(item)
    return out


def _tool_call(call: Mapping[str, Any], names: dict[str, str]) -> dict[str, Any]:
    fn = call.get("function") or {}
    raw = fn.get("arguments")
    args = raw if isinstance(raw, dict) else (parse_json(raw.encode()) if raw else {})
    if not isinstance(args, dict):
        raise ConversionError(f"arguments of tool call {fn.get('name')!r} must be a JSON object")
    names[call.get("id") or ""] = fn.get("name", "")
    return {"function": {"name": fn.get("name", ""), "arguments": args}}


def _content(content: Any) -> tuple[str, list[str]]:
    """(text, raw base64 images): Ollama wants images without the data: prefix."""
    if content is None or isinstance(content, str):
        return content or "", []
    texts, images = [], []
    for part in content if isinstance(content, list) else [None]:
        if not isinstance(part, dict):
            raise ConversionError("content part type None is not supported by Ollama")
        kind = part.get("type")
        if kind == "text":
            texts.append(part.get("text") or "")
        elif kind == "image_url":
            image = part.get("image_url")
            match = _DATA_URL.match(image.get("url", "") if isinstance(image, dict) else str(image or ""))
            if not match:
                raise ConversionError("Ollama needs inline images: only data: URLs are supported for image_url")
            images.append(match.group(1))
        else:
            raise ConversionError(f"content part type {kind!r} is not supported by Ollama")
    return "\n".join(t for t in texts if t), images


def _embeddings(body: Mapping[str, Any], ctx: ConvertContext) -> tuple[str, dict[str, Any]]:
    value = body.get("input")
    if not value or not (isinstance(value, str) or all(isinstance(v, str) for v in value)):
        raise ConversionError("input must be a string or a list of strings (token arrays are not supported)")
    payload: dict[str, Any] = {"model": ctx.model, "input": value}
    if body.get("dimensions"):
        payload["dimensions"] = body["dimensions"]
    return "/api/embed", payload


_BUILDERS: dict[str, Callable[[Mapping[str, Any], ConvertContext], tuple[str, dict[str, Any]]]] = {
    "chat": _chat, "embeddings": _embeddings,
}


# ---- responses ----------------------------------------------------------------------------

def _usage(obj: Mapping[str, Any]) -> Usage:
    """prompt_eval_count may be 0 or absent when the prompt was cached: the relay counts then."""
    return Usage(prompt_tokens=obj.get("prompt_eval_count") or 0, completion_tokens=obj.get("eval_count") or 0)


def _tool_calls(raw: Any) -> list[dict[str, Any]]:
    calls = []
    for call in raw or []:
        fn = call.get("function") or {}
        calls.append({"id": call.get("id") or "call_" + uuid.uuid4().hex[:24], "type": "function",
                      "function": {"name": fn.get("name", ""),
                                   "arguments": orjson.dumps(fn.get("arguments") or {}).decode()}})
    return calls


def _chat_response(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    msg = obj.get("message") or {}
    message: dict[str, Any] = {"role": "assistant", "content": msg.get("content") or ""}
    calls = _tool_calls(msg.get("tool_calls"))
    if calls:
        message["tool_calls"] = calls
        message["content"] = message["content"] or None
    if msg.get("thinking"):
        message["reasoning_content"] = msg["thinking"]
    usage = _usage(obj)
    finish = _FINISH.get(obj.get("done_reason") or "stop", "stop")
    return Converted(completion_body(ctx.model, message, finish, usage, created=int(ctx.now)), usage)


def _embed_response(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    data = [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(obj.get("embeddings") or [])]
    usage = Usage(prompt_tokens=obj.get("prompt_eval_count") or 0)
    body = {"object": "list", "data": data, "model": ctx.model,
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}}
    return Converted(body, usage)


def _inline_error(message: Any) -> OpenAIError:
    return OpenAIError(status=500, message=str(message), type="server_error")


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    if not isinstance(obj, dict):
        return Converted(None, Usage(), _inline_error("invalid JSON in the upstream response"))
    if obj.get("error"):
        return Converted(None, Usage(), _inline_error(obj["error"]))
    return (_embed_response if ctx.mode == "embeddings" else _chat_response)(obj, ctx)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    """`{"error": "model \\"x\\" not found, ..."}`: the string is the message."""
    return generic_error(status, body)


class OllamaStream:
    """NDJSON chunks → OpenAI chunks; the `done` line brings finish reason and usage."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._lines = NDJSONDecoder()
        self._writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now))
        self._calls = 0
        self._closed = False

    def feed(self, data: bytes) -> list[bytes]:
        return [event for line in self._lines.feed(data) for event in self._line(line)]

    def flush(self) -> list[bytes]:
        out = [event for line in self._lines.flush() for event in self._line(line)]
        if self._closed:
            return out
        self._closed = True
        return out + self._writer.end("stop", self.usage)

    def _line(self, line: str) -> list[bytes]:
        obj = parse_json(line.encode())
        if self._closed or not isinstance(obj, dict):
            return []
        if obj.get("error"):
            self.error = _inline_error(obj["error"])
            self._closed = True
            return ChunkWriter.error(self.error)
        msg = obj.get("message") or {}
        out = self._writer.start() + self._writer.reasoning(msg.get("thinking") or "")
        out += self._writer.content(msg.get("content") or "")
        for call in _tool_calls(msg.get("tool_calls")):
            out += self._writer.tool_call_start(self._calls, call["id"], call["function"]["name"],
                                                call["function"]["arguments"])
            self._calls += 1
        if obj.get("done"):
            self.usage = _usage(obj)
            self._closed = True
            out += self._writer.end(_FINISH.get(obj.get("done_reason") or "stop", "stop"), self.usage)
        return out


def stream_to_openai(ctx: ConvertContext) -> OllamaStream:
    return OllamaStream(ctx)
