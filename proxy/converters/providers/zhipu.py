"""Zhipu BigModel to and from OpenAI: v4 (OpenAI-like), legacy v3 model-api, embeddings, CogView images."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import ConversionError, ConvertContext, Converted, OpenAIError, UpstreamRequest, Usage
from proxy.converters.errors import generic_error, parse_json
from proxy.converters.providers.zhipu_stream import (
    ERROR_TYPE,
    FINISH,
    V3Stream,
    V4Stream,
    status_for_code,
    usage_to_openai,
)
from proxy.converters.signing import zhipu_jwt
from proxy.converters.text import text_of

PROVIDES = Provides(modes=frozenset({"chat", "embeddings", "images"}))

# The retired v3 chat models; every other chat model is served by v4 (an explicit table
# rather than One API's `glm-` prefix rule, which sends charglm-4, emohaa, codegeex-4 to v3).
V3_MODELS = frozenset({"chatglm_turbo", "chatglm_pro", "chatglm_std", "chatglm_lite", "characterglm"})
# version -> (Authorization prefix, token lifetime): v4 as the official SDK, v3 as One API.
_AUTH = {"v4": ("Bearer ", zhipu_jwt.OFFICIAL_TTL_MS), "v3": ("", zhipu_jwt.ONE_API_TTL_MS)}
_V4_PATHS = {"chat": "/api/paas/v4/chat/completions", "embeddings": "/api/paas/v4/embeddings",
             "images": "/api/paas/v4/images/generations"}
_V3_ROLES = {"system": "user", "developer": "user", "user": "user", "assistant": "assistant"}


def api_version(ctx: ConvertContext) -> str:
    return "v3" if ctx.mode == "chat" and ctx.model in V3_MODELS else "v4"


def _headers(ctx: ConvertContext, version: str, stream: bool) -> dict[str, str]:
    prefix, ttl_ms = _AUTH[version]
    headers = {"Authorization": prefix + zhipu_jwt.token(ctx.key, int(ctx.now * 1000), ttl_ms),
               "Content-Type": "application/json"}
    if stream:
        headers["Accept"] = "text/event-stream"
    return headers


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if ctx.mode not in _V4_PATHS:
        raise ConversionError(f"Zhipu does not support {ctx.mode}")
    stream = ctx.mode == "chat" and bool(body.get("stream"))
    if api_version(ctx) == "v3":
        action = "sse-invoke" if stream else "invoke"
        url = f"{ctx.base_url}/api/paas/v3/model-api/{ctx.model}/{action}"
        payload = _v3_chat_from_openai(body)
    else:
        url = ctx.base_url + _V4_PATHS[ctx.mode]
        payload = _V4_BUILDERS[ctx.mode](body, ctx)
    return UpstreamRequest("POST", url, _headers(ctx, api_version(ctx), stream), orjson.dumps(payload))


def _clamp01(value: Any) -> Any:
    return value if not isinstance(value, (int, float)) else min(max(value, 0), 1)


def _v4_chat_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    """The OpenAI body as is, except the model, temperature/top_p clamped into [0, 1] and
    max_completion_tokens renamed to the max_tokens Zhipu reads."""
    out = dict(body)
    out["model"] = ctx.model
    if out.get("max_completion_tokens") is not None:
        limit = out.pop("max_completion_tokens")
        out.setdefault("max_tokens", limit)
    for name in ("temperature", "top_p"):
        if out.get(name) is not None:
            out[name] = _clamp01(out[name])
    return out


def _v4_embeddings_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    inputs = body.get("input")
    as_list = inputs if isinstance(inputs, list) else [inputs]
    if not as_list or not all(isinstance(i, str) for i in as_list):
        raise ConversionError("Zhipu embeddings take a string or a list of strings")
    out: dict[str, Any] = {"model": ctx.model, "input": inputs}
    if body.get("dimensions"):
        out["dimensions"] = body["dimensions"]
    return out


def _v4_images_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    if (body.get("n") or 1) != 1:
        raise ConversionError("Zhipu CogView generates one image per request; n must be 1")
    if body.get("response_format", "url") != "url":
        raise ConversionError("Zhipu CogView returns image URLs only; response_format must be url")
    out: dict[str, Any] = {"model": ctx.model, "prompt": body.get("prompt") or ""}
    if body.get("size"):
        out["size"] = body["size"]
    if body.get("user"):
        out["user_id"] = body["user"]
    return out


_V4_BUILDERS = {"chat": _v4_chat_from_openai, "embeddings": _v4_embeddings_from_openai,
                "images": _v4_images_from_openai}


_V3_TEXT_ONLY = "Zhipu v3 models accept text only"


def _v3_chat_from_openai(body: Mapping[str, Any]) -> dict[str, Any]:
    """v3 has no system role (sent as a user turn), no tools and no images."""
    if body.get("tools") or body.get("functions"):
        raise ConversionError("Zhipu v3 models do not support tools")
    prompt = [{"role": _V3_ROLES.get(m.get("role") or "user", "user"),
               "content": text_of(m.get("content"), _V3_TEXT_ONLY, sep="")}
              for m in body.get("messages") or []]
    out: dict[str, Any] = {"prompt": prompt}
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = _clamp01(body[name])
    return out


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    if not isinstance(obj, dict):
        return Converted(None, Usage(), OpenAIError(502, "invalid Zhipu response body", ERROR_TYPE, None))
    err = _error_in(obj, status)
    if err is not None:
        return Converted(None, Usage(), err)
    if api_version(ctx) == "v3":
        return _v3_chat_to_openai(obj.get("data") or {}, ctx)
    return _V4_RESPONSES[ctx.mode](obj, ctx)


def _v4_chat_to_openai(obj: dict[str, Any], ctx: ConvertContext) -> Converted:
    choices = []
    for i, choice in enumerate(obj.get("choices") or []):
        if choice.get("finish_reason") == "network_error":
            return Converted(None, Usage(), OpenAIError(502, "Zhipu reported a network error while generating",
                                                        ERROR_TYPE, "network_error"))
        message = {k: v for k, v in (choice.get("message") or {}).items()
                   if k in ("role", "content", "reasoning_content", "tool_calls")}
        message["role"] = "assistant"
        message.setdefault("content", "")
        reason = FINISH.get(choice.get("finish_reason") or "stop", "stop")
        if message.get("tool_calls") and reason == "stop":
            reason = "tool_calls"
        choices.append({"index": choice.get("index", i), "message": message, "finish_reason": reason})
    usage = usage_to_openai(obj.get("usage"))
    body = {"id": obj.get("id") or f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(obj.get("created") or ctx.now), "model": ctx.model,
            "choices": choices, "usage": usage.to_openai()}
    return Converted(body, usage)


def _v4_embeddings_to_openai(obj: dict[str, Any], ctx: ConvertContext) -> Converted:
    usage = usage_to_openai(obj.get("usage"))
    data = [{"object": "embedding", "index": item.get("index", i), "embedding": item.get("embedding") or []}
            for i, item in enumerate(obj.get("data") or [])]
    body = {"object": "list", "data": data, "model": ctx.model,
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}}
    return Converted(body, usage)


def _v4_images_to_openai(obj: dict[str, Any], ctx: ConvertContext) -> Converted:
    data = [{"url": item["url"]} for item in obj.get("data") or [] if item.get("url")]
    return Converted({"created": int(obj.get("created") or ctx.now), "data": data}, Usage())


_V4_RESPONSES = {"chat": _v4_chat_to_openai, "embeddings": _v4_embeddings_to_openai,
                 "images": _v4_images_to_openai}


def _v3_content(raw: str) -> str:
    """v3 content is itself a JSON string literal; decode it (One API only trimmed the quotes)."""
    decoded = parse_json(raw.encode("utf-8"))
    return decoded if isinstance(decoded, str) else raw.strip('"')


def _v3_chat_to_openai(data: dict[str, Any], ctx: ConvertContext) -> Converted:
    choices = [{"index": i, "message": {"role": "assistant", "content": _v3_content(c.get("content") or "")},
                "finish_reason": "stop"} for i, c in enumerate(data.get("choices") or [])]
    usage = usage_to_openai(data.get("usage"))
    body = {"id": data.get("request_id") or data.get("task_id") or f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion", "created": int(ctx.now), "model": ctx.model,
            "choices": choices, "usage": usage.to_openai()}
    return Converted(body, usage)


def _error_in(obj: dict[str, Any], status: int) -> OpenAIError | None:
    """v4 `{"error": {"code": "1210", "message"}}` or v3 `{"code", "msg", "success": false}`."""
    err = obj.get("error")
    if isinstance(err, dict) and (err.get("message") or err.get("code")):
        code = err.get("code")
        if 200 <= status < 300:
            status = status_for_code(code)
        return OpenAIError(status, err.get("message") or str(code), ERROR_TYPE, code)
    if obj.get("success") is False:
        code = obj.get("code")
        if 200 <= status < 300:
            status = status_for_code(code)
        return OpenAIError(status, obj.get("msg") or obj.get("message") or str(code), ERROR_TYPE, code)
    return None


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    obj = parse_json(body)
    err = _error_in(obj, status) if isinstance(obj, dict) else None
    return err or generic_error(status, body)


def stream_to_openai(ctx: ConvertContext) -> V3Stream | V4Stream:
    return V3Stream(ctx) if api_version(ctx) == "v3" else V4Stream(ctx)
