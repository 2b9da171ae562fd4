"""Baidu ERNIE legacy (wenxinworkshop) API: OAuth access token, chat, embeddings, errors inside HTTP 200."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

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
from proxy.converters.errors import generic_error, parse_json
from proxy.converters.text import text_of
from proxy.core.sse import SSEDecoder

# error_code values meaning "access token invalid / expired": drop the cached token, fetch anew, retry once.
AUTH_EXPIRED_CODES: frozenset[int] = frozenset({110, 111})
PROVIDES = Provides(modes=frozenset({"chat", "embeddings"}), access_token=True,
                    token_expired_codes=AUTH_EXPIRED_CODES)

# Models whose endpoint name is not their lower-cased name; anything else is `chat/<model lower-cased>`.
ENDPOINTS: dict[str, str] = {
    "ERNIE-4.0-8K": "chat/completions_pro", "ERNIE-4.0": "chat/completions_pro",
    "ERNIE-Bot-4": "chat/completions_pro", "ERNIE-3.5-8K": "chat/completions", "ERNIE-Bot": "chat/completions",
    "ERNIE-Bot-8K": "chat/ernie_bot_8k", "ERNIE-3.5-8K-0205": "chat/ernie-3.5-8k-0205",
    "ERNIE-3.5-8K-1222": "chat/ernie-3.5-8k-1222", "ERNIE-3.5-4K-0205": "chat/ernie-3.5-4k-0205",
    "ERNIE-Speed-8K": "chat/ernie_speed", "ERNIE-Speed": "chat/ernie_speed",
    "ERNIE-Speed-128K": "chat/ernie-speed-128k", "ERNIE-Lite-8K-0922": "chat/eb-instant",
    "ERNIE-Bot-turbo": "chat/eb-instant", "ERNIE-Lite-8K-0308": "chat/ernie-lite-8k",
    "ERNIE-Tiny-8K": "chat/ernie-tiny-8k", "BLOOMZ-7B": "chat/bloomz_7b1",
    "Embedding-V1": "embeddings/embedding-v1", "bge-large-zh": "embeddings/bge_large_zh",
    "bge-large-en": "embeddings/bge_large_en", "tao-8k": "embeddings/tao_8k",
}
_EMBEDDING_PREFIXES = ("Embedding", "bge-large", "tao-8k")

FINISH_REASONS = {"normal": "stop", "stop": "stop", "length": "length",
                  "content_filter": "content_filter", "function_call": "tool_calls"}

# error_code → HTTP status for errors Baidu reports inside HTTP 200 (providers-china.md §1.6).
STATUS_BY_CODE: dict[int, int] = {
    110: 401, 111: 401, 13: 401, 14: 401, 6: 403, 15: 403, 3: 404, 336005: 404,
    100: 400, 336001: 400, 336002: 400, 336003: 400, 336104: 400, 336105: 400,
    4: 429, 17: 429, 18: 429, 19: 429, 336501: 429, 336502: 429,
    1: 500, 2: 500, 336000: 500, 500000: 500, 336100: 503,
}
_TEXT_ONLY = "ERNIE (legacy API) accepts text only; image inputs are not supported"


def _credentials(key: str) -> tuple[str, str]:
    parts = key.split("|")
    if len(parts) != 2 or not all(parts):
        raise ConversionError("Baidu channel key must be 'API Key|Secret Key'", code="invalid_channel_key",
                              status=500)
    return parts[0], parts[1]


def auth_token_request(ctx: ConvertContext) -> UpstreamRequest:
    """OAuth client-credentials call; the token host follows the channel base URL (mirrors)."""
    client_id, secret = _credentials(ctx.key)
    query = urlencode([("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)])
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return UpstreamRequest("POST", f"{ctx.base_url}/oauth/2.0/token?{query}", headers, b"")


def parse_auth_token(status: int, body: bytes, now: float) -> tuple[str, float]:
    """(access_token, absolute expiry); Baidu reports failures in an `error` field, sometimes with HTTP 200."""
    obj = parse_json(body)
    if not isinstance(obj, dict):
        raise ConversionError(f"Baidu token endpoint answered HTTP {status} without JSON",
                              code="baidu_auth_failed", status=500)
    token = obj.get("access_token")
    if obj.get("error") or not token:
        message = ": ".join(str(p) for p in (obj.get("error"), obj.get("error_description")) if p)
        raise ConversionError(message or f"Baidu token endpoint answered HTTP {status} without a token",
                              code="baidu_auth_failed", status=500)
    return token, now + float(obj.get("expires_in") or 0)


# ---------------------------------------------------------------- requests

def endpoint_suffix(model: str, mode: str = "chat") -> str:
    if model in ENDPOINTS:
        return ENDPOINTS[model]
    kind = "embeddings" if mode == "embeddings" or model.startswith(_EMBEDDING_PREFIXES) else "chat"
    return f"{kind}/{model.lower()}"


def _assistant(msg: Mapping[str, Any]) -> dict[str, Any]:
    calls = msg.get("tool_calls") or []
    if len(calls) > 1:
        raise ConversionError("ERNIE takes one function call per assistant message")
    out: dict[str, Any] = {"role": "assistant", "content": text_of(msg.get("content"), _TEXT_ONLY)}
    if calls:
        fn = calls[0].get("function") or {}
        out["function_call"] = {"name": fn.get("name", ""), "arguments": fn.get("arguments", "")}
    return out


def _message(msg: Mapping[str, Any], call_names: dict[str, str]) -> dict[str, Any]:
    role = msg.get("role")
    if role == "assistant":
        call_names.update({c.get("id", ""): (c.get("function") or {}).get("name", "")
                           for c in msg.get("tool_calls") or []})
        return _assistant(msg)
    if role in ("tool", "function"):
        name = msg.get("name") or call_names.get(msg.get("tool_call_id", ""), "")
        return {"role": "function", "name": name, "content": text_of(msg.get("content"), _TEXT_ONLY)}
    if role == "user":
        return {"role": "user", "content": text_of(msg.get("content"), _TEXT_ONLY)}
    raise ConversionError(f"ERNIE does not support {role!r} messages")


def _mergeable(prev: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Two plain user (or assistant) turns in a row: ERNIE rejects them (336003), so they are joined."""
    plain = "function_call" not in prev and "function_call" not in item
    return plain and prev["role"] == item["role"] and item["role"] in ("user", "assistant")


def _messages(messages: Iterable[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """(system text, ERNIE messages); system messages go to the top-level `system` field."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for msg in messages:
        if msg.get("role") in ("system", "developer"):
            system.append(text_of(msg.get("content"), _TEXT_ONLY))
            continue
        item = _message(msg, call_names)
        if out and _mergeable(out[-1], item):
            out[-1]["content"] = "\n".join(c for c in (out[-1]["content"], item["content"]) if c)
        else:
            out.append(item)
    return "\n".join(system), out


def _tools(body: Mapping[str, Any]) -> dict[str, Any]:
    tools, choice = body.get("tools") or [], body.get("tool_choice")
    if not tools or choice == "none":
        return {}
    if any(t.get("type") != "function" for t in tools):
        raise ConversionError("ERNIE supports function tools only")
    out: dict[str, Any] = {"functions": [{k: v for k, v in t["function"].items()
                                          if k in ("name", "description", "parameters")} for t in tools]}
    if isinstance(choice, dict):
        out["tool_choice"] = {"type": "function", "function": {"name": choice["function"]["name"]}}
    elif choice == "required":
        raise ConversionError("tool_choice 'required' is not supported by ERNIE")
    return out


def _sampling(body: Mapping[str, Any]) -> dict[str, Any]:
    """Sampling fields, clamped to ERNIE's ranges (temperature (0,1], penalty_score [1,2], max_output_tokens ≥ 2)."""
    out: dict[str, Any] = {}
    if body.get("temperature") is not None:
        out["temperature"] = min(max(float(body["temperature"]), 0.01), 1.0)
    if body.get("top_p") is not None:
        out["top_p"] = min(max(float(body["top_p"]), 0.0), 1.0)
    if body.get("frequency_penalty") is not None and body["frequency_penalty"] >= 1:
        out["penalty_score"] = min(float(body["frequency_penalty"]), 2.0)
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if limit:
        out["max_output_tokens"] = max(int(limit), 2)
    return out


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    if (body.get("n") or 1) > 1:
        raise ConversionError("n > 1 is not supported by ERNIE")
    out: dict[str, Any] = {}
    stop = body.get("stop")
    if stop:
        stop = [stop] if isinstance(stop, str) else list(stop)
        if len(stop) > 4:
            raise ConversionError("ERNIE accepts at most 4 stop sequences")
        out["stop"] = stop
    kind = (body.get("response_format") or {}).get("type")
    if kind not in (None, "text", "json_object"):
        raise ConversionError(f"response_format {kind!r} is not supported by ERNIE")
    if kind:
        out["response_format"] = kind
    if body.get("stream"):
        out["stream"] = True
    if body.get("user"):
        out["user_id"] = body["user"]
    return out


def _chat_body(body: Mapping[str, Any]) -> dict[str, Any]:
    system, messages = _messages(body.get("messages") or [])
    out: dict[str, Any] = {"messages": messages, **_sampling(body), **_options(body), **_tools(body)}
    if system:
        out["system"] = system
    return out


def _embeddings_body(body: Mapping[str, Any]) -> dict[str, Any]:
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else list(texts or [])
    if not all(isinstance(t, str) for t in texts):
        raise ConversionError("ERNIE embeddings take text input only (no token arrays)")
    out: dict[str, Any] = {"input": texts}
    if body.get("user"):
        out["user_id"] = body["user"]
    return out


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if ctx.mode not in ("chat", "embeddings"):
        raise ConversionError(f"Baidu ERNIE channels do not support {ctx.mode}")
    if not ctx.access_token:
        raise ConversionError("no Baidu access token (auth_token_request first)", code="baidu_auth_failed",
                              status=500)
    payload = _chat_body(body) if ctx.mode == "chat" else _embeddings_body(body)
    url = (f"{ctx.base_url}/rpc/2.0/ai_custom/v1/wenxinworkshop/{endpoint_suffix(ctx.model, ctx.mode)}"
           f"?access_token={quote(ctx.access_token, safe='')}")
    return UpstreamRequest("POST", url, {"Content-Type": "application/json"}, orjson.dumps(payload))


# ---------------------------------------------------------------- responses and errors

def baidu_error(code: Any, message: str, status: int = 200) -> OpenAIError:
    """error_code/error_msg → OpenAI error; `code` keeps Baidu's number (see AUTH_EXPIRED_CODES)."""
    if status < 400:
        status = STATUS_BY_CODE.get(code, 500)
    return OpenAIError(status=status, message=message or f"Baidu error {code}", type="baidu_error", code=code)


def _error_in(obj: Any, status: int = 200) -> OpenAIError | None:
    if isinstance(obj, dict) and obj.get("error_code"):
        return baidu_error(obj["error_code"], obj.get("error_msg") or "", status)
    return None


def _usage(obj: Any) -> Usage:
    if not isinstance(obj, dict):
        return Usage()
    prompt = int(obj.get("prompt_tokens") or 0)
    completion = obj.get("completion_tokens")
    completion = int(completion) if completion is not None else int(obj.get("total_tokens") or 0) - prompt
    return Usage(prompt_tokens=prompt, completion_tokens=max(completion, 0))


def _finish_reason(obj: Mapping[str, Any]) -> str:
    if obj.get("need_clear_history"):   # a safety block: the text is a canned refusal
        return "content_filter"
    if obj.get("function_call"):
        return "tool_calls"
    return FINISH_REASONS.get(obj.get("finish_reason") or "", "stop")


def _tool_call(obj: Mapping[str, Any]) -> dict[str, Any]:
    fn = obj["function_call"]
    return {"id": f"call_{obj.get('id', '')}", "type": "function",
            "function": {"name": fn.get("name", ""), "arguments": fn.get("arguments", "")}}


def _chat_to_openai(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    usage = _usage(obj.get("usage"))
    message: dict[str, Any] = {"role": "assistant", "content": obj.get("result") or ""}
    if obj.get("function_call"):
        message = {"role": "assistant", "content": obj.get("result") or None, "tool_calls": [_tool_call(obj)]}
    body = completion_body(ctx.model, message, _finish_reason(obj), usage,
                           id=obj.get("id") or None, created=obj.get("created") or int(ctx.now))
    return Converted(body, usage)


def _embeddings_to_openai(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    usage = _usage(obj.get("usage"))
    data = [{"object": "embedding", "index": item.get("index", i), "embedding": item.get("embedding") or []}
            for i, item in enumerate(obj.get("data") or [])]
    body = {"object": "list", "data": data, "model": ctx.model,
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}}
    return Converted(body, Usage(prompt_tokens=usage.prompt_tokens))


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    if not isinstance(obj, dict):
        raise ConversionError("Baidu answered a body that is not JSON", code="bad_response", status=502)
    error = _error_in(obj, status)
    if error is not None:
        return Converted(None, Usage(), error)
    return _embeddings_to_openai(obj, ctx) if ctx.mode == "embeddings" else _chat_to_openai(obj, ctx)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    return _error_in(parse_json(body), status) or generic_error(status, body)


# ---------------------------------------------------------------- streaming


class BaiduStream:
    """`data: {...result, is_end}` events (no [DONE]); a plain JSON body here is an error (HTTP 200)."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._decoder = SSEDecoder()
        self._writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now),
                                   role_with_content=True)
        self._raw: bytes | None = b""   # kept while the body might be a plain JSON error
        self._done = False
        self._has_id = False

    def feed(self, data: bytes) -> list[bytes]:
        if self._raw is not None:
            self._raw += data
            head = self._raw.lstrip()
            if not head or head[:1] == b"{":
                return []
            data, self._raw = self._raw, None
        return self._events(self._decoder.feed(data))

    def flush(self) -> list[bytes]:
        if self._raw is not None and self._raw.strip():
            obj = parse_json(self._raw)
            return self._fail(_error_in(obj) or baidu_error("bad_response", "Baidu answered JSON, not a stream", 502))
        out = self._events(self._decoder.flush())
        if not self._done:
            self._done = True
            out += self._writer.end("stop", self.usage)
        return out

    def _fail(self, error: OpenAIError) -> list[bytes]:
        self.error, self._done = error, True
        return ChunkWriter.error(error)

    def _events(self, events: Iterable[Any]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            obj = parse_json(event.data.encode())
            if self._done or not isinstance(obj, dict):
                continue
            error = _error_in(obj)
            out += self._fail(error) if error else self._chunk(obj)
        return out

    def _chunk(self, obj: Mapping[str, Any]) -> list[bytes]:
        if not self._has_id and obj.get("id"):
            self._writer.id, self._has_id = obj["id"], True
        if obj.get("created"):
            self._writer.created = int(obj["created"])
        usage = _usage(obj.get("usage"))
        if usage.total_tokens:
            self.usage = usage
        out = self._writer.content(obj.get("result") or "")
        if obj.get("function_call"):
            call = _tool_call(obj)
            out += self._writer.tool_call_start(0, call["id"], call["function"]["name"],
                                                call["function"]["arguments"])
        if obj.get("is_end") or obj.get("need_clear_history"):
            self._done = True
            out += self._writer.end(_finish_reason(obj), self.usage)
        return out


def stream_to_openai(ctx: ConvertContext) -> BaiduStream:
    return BaiduStream(ctx)
