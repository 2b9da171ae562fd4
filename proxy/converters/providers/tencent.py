"""Tencent Hunyuan (Cloud API 3.0, TC3-signed) to and from OpenAI chat and embeddings."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import ConversionError, ConvertContext, Converted, OpenAIError, UpstreamRequest, Usage
from proxy.converters.chunks import ChunkWriter
from proxy.converters.errors import generic_error, parse_json
from proxy.converters.signing import tc3
from proxy.converters.text import text_of
from proxy.core.sse import JsonOrSSE, SSEEvent

PROVIDES = Provides(modes=frozenset({"chat", "embeddings"}))

VERSION = "2023-09-01"
SERVICE = "hunyuan"
ERROR_TYPE = "tencent_error"
_ACTIONS = {"chat": "ChatCompletions", "embeddings": "GetEmbedding"}
_FINISH = {"stop": "stop", "sensitive": "content_filter", "tool_calls": "tool_calls", "length": "length"}
_ROLES = {"developer": "system"}
_TOOL_CHOICES = {"none": "none", "auto": "auto"}
# Error code prefix -> HTTP status (API 3.0 answers 200 even for errors); first match wins.
_ERROR_STATUS: tuple[tuple[str, int], ...] = (
    ("AuthFailure", 401), ("InvalidParameter", 400), ("MissingParameter", 400),
    ("UnknownParameter", 400), ("RequestLimitExceeded", 429), ("LimitExceeded", 429),
    ("ResourceInsufficient", 403), ("FailedOperation.ServiceNotActivated", 403),
    ("ResourceUnavailable", 403), ("OperationDenied", 403), ("UnauthorizedOperation", 403),
    ("FailedOperation.EngineServerError", 502), ("InternalError", 500),
)


def _credentials(key: str) -> tuple[str, str]:
    parts = key.split("|")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise ConversionError("Tencent channel key must be AppId|SecretId|SecretKey",
                              code="invalid_channel_key", status=500)
    return parts[1], parts[2]


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    action = _ACTIONS.get(ctx.mode)
    if action is None:
        raise ConversionError(f"Tencent Hunyuan does not support {ctx.mode}")
    payload = _chat_from_openai(body, ctx) if ctx.mode == "chat" else _embeddings_from_openai(body)
    return _signed_request(ctx, action, orjson.dumps(payload))


def _signed_request(ctx: ConvertContext, action: str, data: bytes) -> UpstreamRequest:
    secret_id, secret_key = _credentials(ctx.key)
    host = urlsplit(ctx.base_url).netloc
    timestamp = int(ctx.now)
    signature = tc3.sign(secret_id, secret_key, timestamp=timestamp, host=host, body=data,
                         service=SERVICE, action=action)
    headers = {"Authorization": signature.authorization, "Content-Type": "application/json",
               "Host": host, "X-TC-Action": action, "X-TC-Version": VERSION,
               "X-TC-Timestamp": str(timestamp)}
    if ctx.config.get("region"):
        headers["X-TC-Region"] = ctx.config["region"]
    return UpstreamRequest("POST", ctx.base_url + "/", headers, data)


def _chat_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    """Hunyuan rejects unknown fields, so OpenAI fields without an equivalent that only tune
    sampling or transport are left out: max_tokens / max_completion_tokens (ChatCompletions has
    no length limit field), frequency/presence penalties, user, stream_options, parallel_tool_calls."""
    _reject_unsupported(body)
    # Key order follows One API's struct (Model, Messages, Stream, TopP, Temperature).
    out: dict[str, Any] = {"Model": ctx.model,
                           "Messages": [_message_from_openai(m) for m in body.get("messages") or []],
                           "Stream": bool(body.get("stream"))}
    for src, dst in (("top_p", "TopP"), ("temperature", "Temperature"), ("seed", "Seed")):
        if body.get(src) is not None:
            out[dst] = body[src]
    if body.get("stop"):
        out["Stop"] = [body["stop"]] if isinstance(body["stop"], str) else list(body["stop"])
    if body.get("tools"):
        out.update(_tools_from_openai(body["tools"], body.get("tool_choice")))
    return out


def _reject_unsupported(body: Mapping[str, Any]) -> None:
    if (body.get("n") or 1) > 1:
        raise ConversionError("Tencent Hunyuan returns one choice; n > 1 is not supported")
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type", "text") != "text":
        raise ConversionError("Tencent Hunyuan does not support response_format " + str(fmt.get("type")))
    if body.get("logprobs"):
        raise ConversionError("Tencent Hunyuan does not return logprobs")


def _message_from_openai(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role") or "user"
    out: dict[str, Any] = {"Role": _ROLES.get(role, role)}
    content = message.get("content")
    if isinstance(content, list) and any(p.get("type") != "text" for p in content):
        out["Contents"] = [_part_from_openai(p) for p in content]
    else:
        out["Content"] = text_of(content, sep="")
    if role == "tool":
        out["ToolCallId"] = message.get("tool_call_id") or ""
    if message.get("tool_calls"):
        out["ToolCalls"] = [{"Id": c.get("id"), "Type": "function",
                             "Function": {"Name": c["function"]["name"],
                                          "Arguments": c["function"].get("arguments") or ""}}
                            for c in message["tool_calls"]]
    return out


def _part_from_openai(part: Mapping[str, Any]) -> dict[str, Any]:
    if part.get("type") == "text":
        return {"Type": "text", "Text": part.get("text") or ""}
    if part.get("type") == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        return {"Type": "image_url", "ImageUrl": {"Url": url}}
    raise ConversionError(f"Tencent Hunyuan does not support content parts of type {part.get('type')}")


def _tools_from_openai(tools: list[Mapping[str, Any]], choice: Any) -> dict[str, Any]:
    converted = {}
    for tool in tools:
        if tool.get("type") != "function":
            raise ConversionError(f"Tencent Hunyuan supports only function tools, got {tool.get('type')}")
        fn = tool["function"]
        converted[fn["name"]] = {"Type": "function", "Function": {
            "Name": fn["name"], "Description": fn.get("description") or "",
            "Parameters": orjson.dumps(fn.get("parameters") or {}).decode()}}
    out: dict[str, Any] = {"Tools": list(converted.values())}
    if choice is None:
        return out
    if isinstance(choice, str) and choice in _TOOL_CHOICES:
        out["ToolChoice"] = _TOOL_CHOICES[choice]
    elif isinstance(choice, Mapping) and (choice.get("function") or {}).get("name") in converted:
        out["ToolChoice"] = "custom"
        out["CustomTool"] = converted[choice["function"]["name"]]
    else:
        raise ConversionError(f"Tencent Hunyuan does not support tool_choice {choice!r}")
    return out


def _embeddings_from_openai(body: Mapping[str, Any]) -> dict[str, Any]:
    inputs = body.get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise ConversionError("Tencent Hunyuan embeddings take a string or a list of strings")
    return {"InputList": inputs}


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    resp = obj.get("Response") if isinstance(obj, dict) else None
    if not isinstance(resp, dict):
        return Converted(None, Usage(), OpenAIError(502, "invalid Tencent Hunyuan response body",
                                                    ERROR_TYPE, "bad_response_body"))
    if isinstance(resp.get("Error"), dict):
        return Converted(None, Usage(), _error_from(resp["Error"], status))
    usage = _usage(resp.get("Usage"))
    if ctx.mode == "embeddings":
        return Converted(_embeddings_to_openai(resp, usage, ctx), usage)
    return Converted(_chat_to_openai(resp, usage, ctx), usage)


def _usage(raw: Any) -> Usage:
    raw = raw if isinstance(raw, dict) else {}
    return Usage(prompt_tokens=int(raw.get("PromptTokens") or 0),
                 completion_tokens=int(raw.get("CompletionTokens") or 0))


def _tool_calls_to_openai(calls: Any) -> list[dict[str, Any]]:
    return [{"id": c.get("Id") or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": (c.get("Function") or {}).get("Name") or "",
                          "arguments": (c.get("Function") or {}).get("Arguments") or ""}}
            for c in calls or []]


def _finish(raw: Any, has_tool_calls: bool) -> str:
    reason = _FINISH.get(raw or "stop", "stop")
    return "tool_calls" if has_tool_calls and reason == "stop" else reason


def _chat_to_openai(resp: dict[str, Any], usage: Usage, ctx: ConvertContext) -> dict[str, Any]:
    choices = []
    for i, choice in enumerate(resp.get("Choices") or []):
        msg = choice.get("Message") or {}
        message: dict[str, Any] = {"role": "assistant", "content": msg.get("Content") or ""}
        if msg.get("ReasoningContent"):
            message["reasoning_content"] = msg["ReasoningContent"]
        tool_calls = _tool_calls_to_openai(msg.get("ToolCalls"))
        if tool_calls:
            message["tool_calls"] = tool_calls
        choices.append({"index": choice.get("Index", i), "message": message,
                        "finish_reason": _finish(choice.get("FinishReason"), bool(tool_calls))})
    return {"id": resp.get("Id") or resp.get("RequestId") or f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion", "created": int(resp.get("Created") or ctx.now),
            "model": ctx.model, "choices": choices, "usage": usage.to_openai()}


def _embeddings_to_openai(resp: dict[str, Any], usage: Usage, ctx: ConvertContext) -> dict[str, Any]:
    data = [{"object": "embedding", "index": item.get("Index", i), "embedding": item.get("Embedding") or []}
            for i, item in enumerate(resp.get("Data") or [])]
    return {"object": "list", "data": data, "model": ctx.model,
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}}


def _status_for(code: str) -> int:
    for prefix, status in _ERROR_STATUS:
        if code.startswith(prefix):
            return status
    return 500


def _error_from(err: Mapping[str, Any], status: int) -> OpenAIError:
    code = str(err.get("Code") or "")
    if 200 <= status < 300:
        status = _status_for(code)
    return OpenAIError(status=status, message=err.get("Message") or err.get("Msg") or code,
                       type=ERROR_TYPE, code=err.get("Code"))


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    return _error_body(status, body)


def _error_body(status: int, body: bytes) -> OpenAIError:
    obj = parse_json(body)
    resp = obj.get("Response") if isinstance(obj, dict) else None
    if isinstance(resp, dict) and isinstance(resp.get("Error"), dict):
        return _error_from(resp["Error"], status)
    return generic_error(status, body)


class _Stream:
    """Hunyuan SSE (`data: {...}`, no [DONE]) to OpenAI chunks; a JSON body is an early error."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now),
                                  role_with_content=True)
        self.body = JsonOrSSE()            # a JSON body instead of SSE is an early error
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._finish: str | None = None
        self._tools: set[Any] = set()

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            return []
        return self._events(self.body.feed(data))

    def flush(self) -> list[bytes]:
        if self.error is not None:
            return []
        if self.body.json is not None:
            self.error = _error_body(200, self.body.json)
            return ChunkWriter.error(self.error)
        out = self._events(self.body.flush())
        if self.error is not None:
            return out
        return out + self.writer.end(self._finish or "stop", self.usage)

    def _events(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            out += self._chunk(parse_json(event.data))
            if self.error is not None:
                break
        return out

    def _chunk(self, obj: Any) -> list[bytes]:
        if not isinstance(obj, dict):
            return []
        err = obj.get("ErrorMsg") or (obj.get("Response") or {}).get("Error")
        if isinstance(err, dict):
            self.error = _error_from(err, 200)
            return ChunkWriter.error(self.error)
        if obj.get("Id"):
            self.writer.id = obj["Id"]
        if obj.get("Created"):
            self.writer.created = int(obj["Created"])
        if isinstance(obj.get("Usage"), dict):
            self.usage = _usage(obj["Usage"])   # cumulative: the last one wins
        out: list[bytes] = []
        for choice in obj.get("Choices") or []:
            delta = choice.get("Delta") or {}
            out += self.writer.reasoning(delta.get("ReasoningContent") or "")
            out += self.writer.content(delta.get("Content") or "")
            out += self._tool_deltas(delta.get("ToolCalls") or [])
            if choice.get("FinishReason"):
                self._finish = _FINISH.get(choice["FinishReason"], "stop")
        return out

    def _tool_deltas(self, calls: list[dict[str, Any]]) -> list[bytes]:
        out: list[bytes] = []
        for i, call in enumerate(calls):
            key = call.get("Index", i)
            fn = call.get("Function") or {}
            if key in self._tools:
                out += self.writer.tool_call_arguments(key, fn.get("Arguments") or "")
                continue
            self._tools.add(key)
            out += self.writer.tool_call_start(key, call.get("Id") or f"call_{uuid.uuid4().hex[:24]}",
                                               fn.get("Name") or "")
            out += self.writer.tool_call_arguments(key, fn.get("Arguments") or "")
        return out


def stream_to_openai(ctx: ConvertContext) -> _Stream:
    return _Stream(ctx)
