"""iFlytek Spark over WebSocket to and from OpenAI chat: signed URL, request frame, response frames."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import ConversionError, ConvertContext, Converted, OpenAIError, UpstreamRequest, Usage
from proxy.converters.chunks import ChunkWriter, completion_body
from proxy.converters.errors import find_message, parse_json
from proxy.converters.signing import xunfei_auth

TRANSPORT = "websocket"
PROVIDES = Provides(websocket=True, other_config="api_version")
DEFAULT_BASE_URL = "wss://spark-api.xf-yun.com"
ERROR_TYPE = "xunfei_error"
DEFAULT_VERSION = "v1.1"
# Model name -> API version; version -> (path, parameter.chat.domain).
_MODEL_VERSIONS = {"Spark-Lite": "v1.1", "Spark-Pro": "v3.1", "Spark-Pro-128K": "pro-128k",
                   "Spark-Max": "v3.5", "Spark-Max-32K": "max-32k", "Spark-4.0-Ultra": "v4.0"}
_VERSIONS = {"v1.1": ("/v1.1/chat", "lite"), "v2.1": ("/v2.1/chat", "generalv2"),
             "v3.1": ("/v3.1/chat", "generalv3"), "v3.5": ("/v3.5/chat", "generalv3.5"),
             "v4.0": ("/v4.0/chat", "4.0Ultra"), "pro-128k": ("/chat/pro-128k", "pro-128k"),
             "max-32k": ("/chat/max-32k", "max-32k")}
_VERSION_RE = re.compile(r"v\d+(\.\d+)*")
_FUNCTION_DOMAINS = frozenset({"generalv3", "generalv3.5", "4.0Ultra"})
_SCHEMES = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
# header.code -> HTTP status (content review, token limit, bad parameters, auth/quota, rate limits).
_CODE_STATUS = {10013: 400, 10014: 400, 10019: 400, 10907: 400, 10160: 400, 10163: 400,
                11200: 403, 11201: 429, 11202: 429, 11203: 429}
_MIN_TEMPERATURE = 0.01   # Spark wants temperature in (0, 1]


def route(model: str, config: Mapping[str, str]) -> tuple[str, str]:
    """(path, domain): the model table, else a version after the first '-', else config api_version."""
    version = _MODEL_VERSIONS.get(model)
    if version is None:
        suffix = model.partition("-")[2]
        if suffix in _VERSIONS or _VERSION_RE.fullmatch(suffix):
            version = suffix
        else:
            version = config.get("api_version") or DEFAULT_VERSION
    return _VERSIONS.get(version) or (f"/{version}/chat", f"general{version}")


def _credentials(key: str) -> tuple[str, str, str]:
    parts = key.split("|")
    if len(parts) != 3 or not all(parts):
        raise ConversionError("iFlytek Spark channel key must be APPID|APISecret|APIKey",
                              code="invalid_channel_key", status=500)
    return parts[0], parts[1], parts[2]


def _socket_url(base_url: str, path: str) -> str:
    parts = urlsplit(base_url or DEFAULT_BASE_URL)
    return f"{_SCHEMES.get(parts.scheme, 'wss')}://{parts.netloc}{parts.path.rstrip('/')}{path}"


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    """The signed ws(s):// URL and, as the body, the one request frame sent after connecting."""
    if ctx.mode != "chat":
        raise ConversionError(f"iFlytek Spark does not support {ctx.mode}")
    app_id, api_secret, api_key = _credentials(ctx.key)
    path, domain = route(ctx.model, ctx.config)
    url = xunfei_auth.signed_url(_socket_url(ctx.base_url, path), api_key, api_secret,
                                 xunfei_auth.rfc1123_date(ctx.now))
    return UpstreamRequest("GET", url, {}, orjson.dumps(_frame_from_openai(body, app_id, domain)))


def _frame_from_openai(body: Mapping[str, Any], app_id: str, domain: str) -> dict[str, Any]:
    """top_p, stop and the penalties have no Spark equivalent and are left out (the reference says drop)."""
    _reject_unsupported(body)
    header: dict[str, Any] = {"app_id": app_id}
    if body.get("user"):
        header["uid"] = str(body["user"])[:32]
    chat: dict[str, Any] = {"domain": domain}
    if body.get("temperature") is not None:
        chat["temperature"] = min(max(body["temperature"], _MIN_TEMPERATURE), 1)
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    if max_tokens:
        chat["max_tokens"] = max_tokens
    if body.get("top_k") is not None:
        chat["top_k"] = body["top_k"]
    payload: dict[str, Any] = {"message": {"text": [_message_from_openai(m) for m in body.get("messages") or []]}}
    functions = _functions_from_openai(body, domain)
    if functions:
        payload["functions"] = {"text": functions}
    return {"header": header, "parameter": {"chat": chat}, "payload": payload}


def _reject_unsupported(body: Mapping[str, Any]) -> None:
    if (body.get("n") or 1) > 1:
        raise ConversionError("iFlytek Spark returns one choice; n > 1 is not supported")
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type", "text") != "text":
        raise ConversionError(f"iFlytek Spark does not support response_format {fmt.get('type')}")
    if body.get("logprobs"):
        raise ConversionError("iFlytek Spark does not return logprobs")


def _message_from_openai(message: Mapping[str, Any]) -> dict[str, str]:
    role = message.get("role") or "user"
    if role not in _ROLES or message.get("tool_calls"):
        raise ConversionError("iFlytek Spark accepts system, user and assistant text turns only "
                              f"(no tool calls or tool results); got role {role}")
    content = message.get("content")
    if isinstance(content, list):
        if any(part.get("type") != "text" for part in content):
            raise ConversionError("iFlytek Spark chat accepts text only")
        content = "".join(part.get("text") or "" for part in content)
    return {"role": _ROLES[role], "content": content or ""}


def _functions_from_openai(body: Mapping[str, Any], domain: str) -> list[dict[str, Any]]:
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return []
    if choice not in (None, "auto"):
        raise ConversionError(f"iFlytek Spark cannot force a tool; tool_choice {choice!r} is not supported")
    if domain not in _FUNCTION_DOMAINS:
        raise ConversionError(f"iFlytek Spark domain {domain} does not support function calling")
    if any(tool.get("type") != "function" for tool in tools):
        raise ConversionError("iFlytek Spark supports only function tools")
    return [{"name": t["function"]["name"], "description": t["function"].get("description") or "",
             "parameters": t["function"].get("parameters") or {}} for t in tools]


@dataclass
class _Frame:
    """What one upstream frame says."""

    error: OpenAIError | None = None
    texts: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)   # (name, arguments)
    usage: Usage | None = None
    last: bool = False
    sid: str = ""


def _frame_error(header: Mapping[str, Any]) -> OpenAIError:
    code = header.get("code")
    status = _CODE_STATUS.get(code, 500) if isinstance(code, int) else 500
    return OpenAIError(status, header.get("message") or f"iFlytek Spark error {code}", ERROR_TYPE, code)


def _parse_frame(obj: Any) -> _Frame:
    if not isinstance(obj, dict):
        return _Frame()
    header = obj.get("header") or {}
    if header.get("code"):
        return _Frame(error=_frame_error(header), last=True)
    payload = obj.get("payload") or {}
    choices = payload.get("choices") or {}
    frame = _Frame(sid=header.get("sid") or "", last=2 in (header.get("status"), choices.get("status")))
    for piece in choices.get("text") or []:
        frame.texts.append(piece.get("content") or "")
        call = piece.get("function_call")
        if isinstance(call, dict):
            frame.calls.append((call.get("name") or "", call.get("arguments") or ""))
    text_usage = (payload.get("usage") or {}).get("text")
    if isinstance(text_usage, dict):   # question_tokens counts only the last question: ignored
        frame.usage = Usage(prompt_tokens=int(text_usage.get("prompt_tokens") or 0),
                            completion_tokens=int(text_usage.get("completion_tokens") or 0))
    return frame


class _FrameSplitter:
    """Splits concatenated JSON frames, whatever byte boundaries they arrive in."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._depth = 0
        self._in_string = False
        self._escaped = False

    def feed(self, data: bytes) -> list[bytes]:
        if not self._buf and data[:1] == b"{" and isinstance(parse_json(data), dict):
            return [data]          # the usual case: one whole websocket message
        frames: list[bytes] = []
        for byte in data:
            if self._depth == 0 and byte != 0x7B:   # whitespace between frames
                continue
            self._buf.append(byte)
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif byte == 0x5C:
                    self._escaped = True
                elif byte == 0x22:
                    self._in_string = False
            elif byte == 0x22:
                self._in_string = True
            elif byte in (0x7B, 0x7D):
                self._depth += 1 if byte == 0x7B else -1
                if self._depth == 0:
                    frames.append(bytes(self._buf))
                    self._buf.clear()
        return frames


class _Stream:
    """Each websocket text message (one frame) becomes OpenAI chunks; status 2 ends the answer."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now),
                                  role_with_content=True)
        self.splitter = _FrameSplitter()
        self.usage = Usage()
        self.error: OpenAIError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for raw in self.splitter.feed(data):
            if self.error is not None:
                break
            out += self._frame(_parse_frame(parse_json(raw)))
        return out

    def flush(self) -> list[bytes]:
        return [] if self.error is not None else self.writer.end("stop", self.usage)

    def _frame(self, frame: _Frame) -> list[bytes]:
        if frame.error is not None:
            self.error = frame.error
            return ChunkWriter.error(frame.error)
        if frame.sid and not self.writer.started:
            self.writer.id = "chatcmpl-" + frame.sid
        self.usage = frame.usage or self.usage
        out: list[bytes] = []
        for text in frame.texts:
            out += self.writer.content(text)
        for name, arguments in frame.calls:
            key = object()
            out += self.writer.tool_call_start(key, f"call_{uuid.uuid4().hex[:24]}", name)
            out += self.writer.tool_call_arguments(key, arguments)
        return out


def stream_to_openai(ctx: ConvertContext) -> _Stream:
    return _Stream(ctx)


def messages_to_openai(messages: list[bytes], ctx: ConvertContext) -> Converted:
    """All frames of one non-stream call: text joined, usage from the last frame."""
    frames = [_parse_frame(parse_json(raw)) for raw in messages]
    failed = next((f.error for f in frames if f.error is not None), None)
    if failed is not None:
        return Converted(None, Usage(), failed)
    if not any(f.texts or f.calls for f in frames):
        return Converted(None, Usage(), OpenAIError(500, "xunfei empty response detected", ERROR_TYPE,
                                                    "empty_response"))
    usage = next((f.usage for f in reversed(frames) if f.usage is not None), Usage())
    message: dict[str, Any] = {"role": "assistant", "content": "".join(t for f in frames for t in f.texts)}
    calls = [c for f in frames for c in f.calls]
    if calls:
        message["tool_calls"] = [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                                  "function": {"name": name, "arguments": arguments}} for name, arguments in calls]
    sid = next((f.sid for f in frames if f.sid), "")
    body = completion_body(ctx.model, message, "stop", usage, id=f"chatcmpl-{sid}" if sid else None,
                           created=int(ctx.now))
    return Converted(body, usage)


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    """The frames of a whole exchange, concatenated."""
    return messages_to_openai(_FrameSplitter().feed(body), ctx)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    """A rejected upgrade (401 bad signature, 403 stale date) or an error frame."""
    obj = parse_json(body)
    if isinstance(obj, dict) and isinstance(obj.get("header"), dict) and obj["header"].get("code"):
        return _frame_error(obj["header"])
    message = find_message(obj) or f"bad response status code {status}"
    return OpenAIError(status, message, ERROR_TYPE, status)
