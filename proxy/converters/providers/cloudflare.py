"""Cloudflare Workers AI: OpenAI-compatible /ai/v1 endpoints, native /ai/run, AI Gateway URLs."""

from __future__ import annotations

from collections.abc import Mapping
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
from proxy.converters.chunks import ChunkWriter, completion_body, new_completion_id
from proxy.converters.errors import generic_error, parse_json, type_for_status
from proxy.converters.text import text_of
from proxy.converters.usage import usage_from_openai
from proxy.core.sse import DONE, SSEDecoder, encode_data

PROVIDES = Provides(modes=frozenset({"chat", "completions", "embeddings"}))

GATEWAY_HOST = "https://gateway.ai.cloudflare.com"

# Request fields the native /ai/run text-generation schema accepts (besides messages/prompt).
_NATIVE_PARAMS = (
    "max_tokens", "temperature", "top_p", "top_k", "seed", "repetition_penalty",
    "frequency_penalty", "presence_penalty", "stream", "raw", "lora", "tools", "response_format",
)
_CANONICAL_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}
_TEXT_ONLY = "Cloudflare native /ai/run accepts text content only; use the OpenAI-compatible endpoint for images"


def _prefix(ctx: ConvertContext) -> str:
    """Everything before `/v1/...` or `/<model>`: an AI Gateway `.../workers-ai` or the account's `/ai`."""
    base = ctx.base_url.rstrip("/")
    if base.startswith(GATEWAY_HOST):
        return base if base.endswith("/workers-ai") else base + "/workers-ai"
    account = ctx.config.get("user_id", "")
    if not account:
        raise ConversionError("Cloudflare channel needs the account id in config user_id")
    return f"{base}/client/v4/accounts/{account}/ai"


def _run_url(ctx: ConvertContext) -> str:
    prefix = _prefix(ctx)
    sep = "/" if prefix.endswith("/workers-ai") else "/run/"
    return prefix + sep + ctx.model


def _native(ctx: ConvertContext) -> bool:
    """Native /ai/run for /v1/completions, or when the channel asks for it (config api_version 'native')."""
    return ctx.mode == "completions" or ctx.config.get("api_version") == "native"


def _headers(ctx: ConvertContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {ctx.key}", "Content-Type": "application/json"}


def _native_messages(messages: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    out = []
    for msg in messages:
        if msg.get("tool_calls") or msg.get("role") == "tool":
            raise ConversionError("tool-call history is not supported by Cloudflare native /ai/run; "
                                  "use the OpenAI-compatible endpoint")
        out.append({"role": msg.get("role", "user"), "content": text_of(msg.get("content"), _TEXT_ONLY)})
    return out


def _native_params(body: Mapping[str, Any]) -> dict[str, Any]:
    if body.get("tool_choice") not in (None, "auto"):
        raise ConversionError("tool_choice is not supported by Cloudflare native /ai/run")
    if (body.get("n") or 1) > 1:
        raise ConversionError("n > 1 is not supported by Cloudflare native /ai/run")
    out = {k: body[k] for k in _NATIVE_PARAMS if body.get(k) is not None}
    if "max_tokens" not in out and body.get("max_completion_tokens") is not None:
        out["max_tokens"] = body["max_completion_tokens"]
    if not out.get("stream"):
        out.pop("stream", None)
    return out


def _chat_request(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if not _native(ctx):
        payload = {**body, "model": ctx.model}
        return UpstreamRequest("POST", _prefix(ctx) + "/v1/chat/completions", _headers(ctx), orjson.dumps(payload))
    payload = {"messages": _native_messages(body.get("messages") or []), **_native_params(body)}
    return UpstreamRequest("POST", _run_url(ctx), _headers(ctx), orjson.dumps(payload))


def _completions_request(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise ConversionError("Cloudflare /ai/run takes exactly one text prompt")
        prompt = prompt[0]
    payload = {"prompt": prompt or "", **_native_params(body)}
    return UpstreamRequest("POST", _run_url(ctx), _headers(ctx), orjson.dumps(payload))


def _embeddings_request(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if not _native(ctx):
        payload = {**body, "model": ctx.model}
        return UpstreamRequest("POST", _prefix(ctx) + "/v1/embeddings", _headers(ctx), orjson.dumps(payload))
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else list(texts or [])
    if not all(isinstance(t, str) for t in texts):
        raise ConversionError("Cloudflare native embeddings take text input only")
    return UpstreamRequest("POST", _run_url(ctx), _headers(ctx), orjson.dumps({"text": texts}))


_REQUEST_BY_MODE = {"chat": _chat_request, "completions": _completions_request, "embeddings": _embeddings_request}


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    builder = _REQUEST_BY_MODE.get(ctx.mode)
    if builder is None:
        raise ConversionError(f"Cloudflare channels do not support {ctx.mode} requests")
    return builder(body, ctx)


# ---------------------------------------------------------------- responses

def _usage_from(obj: Any) -> Usage:
    """Usage with every part the provider reports (cache reads and writes, reasoning), OpenAI's convention."""
    return usage_from_openai(obj) or Usage()


def _envelope_error(status: int, obj: Any) -> OpenAIError | None:
    """Cloudflare v4 `{"success":false,"errors":[{code,message}]}` → OpenAI error."""
    if not isinstance(obj, dict) or not isinstance(obj.get("errors"), list) or not obj["errors"]:
        return None
    first = obj["errors"][0] if isinstance(obj["errors"][0], dict) else {}
    status = status if status >= 400 else 500
    return OpenAIError(status=status, message=first.get("message") or f"bad response status code {status}",
                       type=type_for_status(status), code=first.get("code"))


def _native_tool_calls(calls: Any) -> list[dict[str, Any]]:
    out = []
    for i, call in enumerate(calls or []):
        fn = call.get("function") or call
        args = fn.get("arguments", "")
        out.append({"id": call.get("id") or f"call_{i}", "type": "function",
                    "function": {"name": fn.get("name", ""),
                                 "arguments": args if isinstance(args, str) else orjson.dumps(args).decode()}})
    return out


def _native_to_openai(result: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    usage = _usage_from(result.get("usage"))
    if ctx.mode == "embeddings":
        data = [{"object": "embedding", "index": i, "embedding": vec} for i, vec in enumerate(result.get("data") or [])]
        body: dict[str, Any] = {"object": "list", "data": data, "model": ctx.model,
                                "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}}
        return Converted(body, usage)
    text = result.get("response") or ""
    if not isinstance(text, str):  # some models answer structured JSON for response_format
        text = orjson.dumps(text).decode()
    if ctx.mode == "completions":
        choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
        body = {"id": new_completion_id("cmpl-"), "object": "text_completion", "created": int(ctx.now),
                "model": ctx.model, "choices": [choice], "usage": usage.to_openai()}
        return Converted(body, usage)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if result.get("tool_calls"):
        message["tool_calls"] = _native_tool_calls(result["tool_calls"])
    return Converted(completion_body(ctx.model, message, "stop", usage, created=int(ctx.now)), usage)


def _compat_to_openai(obj: dict[str, Any], ctx: ConvertContext) -> Converted:
    """OpenAI-shaped answer: keep it, but fill weak ids and canonical finish reasons."""
    usage = _usage_from(obj.get("usage"))
    body = dict(obj)
    if ctx.mode == "chat":
        body.setdefault("object", "chat.completion")
        if not body.get("id"):
            body["id"] = new_completion_id()
        body.setdefault("created", int(ctx.now))
        body["model"] = body.get("model") or ctx.model
        for choice in body.get("choices") or []:
            reason = choice.get("finish_reason")
            if reason not in _CANONICAL_FINISH:
                choice["finish_reason"] = "tool_calls" if (choice.get("message") or {}).get("tool_calls") else "stop"
    body["usage"] = {**(obj.get("usage") or {}), **usage.to_openai()}
    return Converted(body, usage)


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    if not isinstance(obj, dict):
        raise ConversionError("Cloudflare answered a body that is not JSON", code="bad_response", status=502)
    if obj.get("success") is False or (obj.get("errors") and not obj.get("result") and "choices" not in obj):
        return Converted(None, Usage(), _envelope_error(status, obj) or generic_error(500, body))
    if isinstance(obj.get("result"), dict):
        return _native_to_openai(obj["result"], ctx)
    return _compat_to_openai(obj, ctx)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    return _envelope_error(status, parse_json(body)) or generic_error(status, body)


# ---------------------------------------------------------------- streaming

class CloudflareStream:
    """Native `data: {"response": ...}` events and OpenAI-compatible chunks, re-emitted canonically."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._decoder = SSEDecoder()
        self._writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now))
        self._reason = "stop"
        self._done = False
        self._calls: set[Any] = set()   # tool-call keys already started

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for event in self._decoder.feed(data):
            if self._done:
                break
            out += self._event(event.data)
        return out

    def flush(self) -> list[bytes]:
        out: list[bytes] = []
        for event in self._decoder.flush():
            if not self._done:
                out += self._event(event.data)
        return out + self._end()

    def _end(self) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        return self._writer.end(self._reason, self.usage)

    def _event(self, data: str) -> list[bytes]:
        if data.strip() == "[DONE]":
            return self._end()
        obj = parse_json(data.encode())
        if not isinstance(obj, dict):
            return []
        error = _envelope_error(500, obj) if "response" not in obj and "choices" not in obj else None
        if error is not None:    # a v4 envelope with errors (an `errors` that is not a list is no error)
            self.error = error
            self._done = True
            return ChunkWriter.error(error)
        if obj.get("usage"):
            self.usage = _usage_from(obj["usage"])
        if "choices" in obj:
            return self._compat(obj)
        return self._native(obj)

    def _native(self, obj: Mapping[str, Any]) -> list[bytes]:
        text = obj.get("response")
        out = self._writer.content(text) if isinstance(text, str) else []
        for call in _native_tool_calls(obj.get("tool_calls")):
            key = ("native", len(self._calls))   # each native event carries whole calls
            self._calls.add(key)
            fn = call["function"]
            out += self._writer.tool_call_start(key, call["id"], fn["name"], fn["arguments"])
        return out

    def _compat(self, obj: Mapping[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        for choice in obj.get("choices") or []:
            delta = choice.get("delta") or {}
            out += self._writer.reasoning(delta.get("reasoning_content") or "")
            out += self._writer.content(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                out += self._compat_tool_call(call)
            if choice.get("finish_reason"):
                reason = choice["finish_reason"]
                self._reason = reason if reason in _CANONICAL_FINISH else "stop"
                out += self._writer.finish(self._reason)
        return out

    def _compat_tool_call(self, call: Mapping[str, Any]) -> list[bytes]:
        key = call.get("index", 0)
        fn = call.get("function") or {}
        if call.get("id") or key not in self._calls:
            self._calls.add(key)
            return self._writer.tool_call_start(key, call.get("id") or f"call_{key}", fn.get("name") or "",
                                                fn.get("arguments") or "")
        return self._writer.tool_call_arguments(key, fn.get("arguments") or "")


class CompletionStream(CloudflareStream):
    """Native /ai/run streamed for /v1/completions: `text_completion` chunks."""

    def __init__(self, ctx: ConvertContext) -> None:
        super().__init__(ctx)
        self._model = ctx.model
        self._id = new_completion_id("cmpl-")
        self._created = int(ctx.now)
        self._include_usage = ctx.include_usage

    def _chunk(self, text: str, reason: str | None) -> bytes:
        obj = {"id": self._id, "object": "text_completion", "created": self._created, "model": self._model,
               "choices": [{"index": 0, "text": text, "finish_reason": reason, "logprobs": None}]}
        return encode_data(orjson.dumps(obj))

    def _native(self, obj: Mapping[str, Any]) -> list[bytes]:
        text = obj.get("response")
        return [self._chunk(text, None)] if isinstance(text, str) and text else []

    def _end(self) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        out = [self._chunk("", "stop")]
        if self._include_usage:
            obj = {"id": self._id, "object": "text_completion", "created": self._created, "model": self._model,
                   "choices": [], "usage": self.usage.to_openai()}
            out.append(encode_data(orjson.dumps(obj)))
        return out + [DONE]


def stream_to_openai(ctx: ConvertContext) -> CloudflareStream:
    return CompletionStream(ctx) if ctx.mode == "completions" else CloudflareStream(ctx)
