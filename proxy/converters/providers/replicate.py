"""Replicate predictions to and from OpenAI: llama-style chat and flux-style images, with task polling."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import ConversionError, ConvertContext, Converted, OpenAIError, UpstreamRequest, Usage
from proxy.converters.chunks import ChunkWriter, completion_body
from proxy.converters.errors import generic_error, parse_json, type_for_status
from proxy.converters.text import text_of
from proxy.core.sse import JsonOrSSE, SSEEvent

# Streams too are served from the finished prediction: the relay polls, then feeds the final JSON to the stream
# converter.
PROVIDES = Provides(modes=frozenset({"chat", "images"}), task=True, task_streams=True)

DEFAULT_BASE_URL = "https://api.replicate.com"
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
DEFAULT_MAX_TOKENS = 500          # One API's default; the llama models' own defaults are shorter
# OpenAI field -> llama-style model input field, copied when the client sets it.
_CHAT_INPUTS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "seed": "seed",
                "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty"}
_ASPECT_RATIOS = frozenset({"1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"})
_SIZE_RATIOS = {"1792x1024": "16:9", "1024x1792": "9:16"}   # DALL-E 3's wide sizes, nearly 16:9
_TEXT_ONLY = "Replicate chat models take text only"


def _origin(base_url: str) -> str:
    """Scheme, host and any mirror prefix; One API's default base ends in /v1/models/, which is dropped."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    for suffix in ("/v1/models", "/v1"):
        if base.endswith(suffix):
            return base[:-len(suffix)]
    return base


def _auth(ctx: ConvertContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {ctx.key}"}


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    """Create a prediction of an official model; the answer (201) is polled with task_poll_request."""
    builder = _INPUT_BUILDERS.get(ctx.mode)
    if builder is None:
        raise ConversionError(f"Replicate does not support {ctx.mode}")
    if "/" not in ctx.model:
        raise ConversionError(f"Replicate models are named owner/name, got {ctx.model!r}")
    url = f"{_origin(ctx.base_url)}/v1/models/{ctx.model}/predictions"
    headers = {**_auth(ctx), "Content-Type": "application/json"}
    return UpstreamRequest("POST", url, headers, orjson.dumps({"input": builder(body)}))


def _chat_input(body: Mapping[str, Any]) -> dict[str, Any]:
    """The conversation as one `role: text` line per message, as One API builds it."""
    _reject_unsupported_chat(body)
    prompt = "".join(f"{m.get('role') or 'user'}: {text_of(m.get('content'), _TEXT_ONLY, sep='')}\n"
                     for m in body.get("messages") or [])
    out: dict[str, Any] = {"prompt": prompt, "max_tokens": body.get("max_tokens")
                           or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS}
    out.update({dst: body[src] for src, dst in _CHAT_INPUTS.items() if body.get(src) is not None})
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = stop if isinstance(stop, str) else ",".join(stop)
    return out


def _reject_unsupported_chat(body: Mapping[str, Any]) -> None:
    if (body.get("n") or 1) > 1:
        raise ConversionError("Replicate chat returns one answer; n > 1 is not supported")
    if body.get("tools") or body.get("functions"):
        raise ConversionError("Replicate language models do not support tools")
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type", "text") != "text":
        raise ConversionError(f"Replicate does not support response_format {fmt.get('type')}")
    if body.get("logprobs"):
        raise ConversionError("Replicate does not return logprobs")


def _image_input(body: Mapping[str, Any]) -> dict[str, Any]:
    """flux-style input; the images come back as URLs, so only response_format url is possible."""
    if body.get("response_format") not in (None, "url"):
        raise ConversionError("Replicate returns image URLs; only response_format url is supported")
    if not body.get("prompt"):
        raise ConversionError("prompt is required")
    out: dict[str, Any] = {"prompt": body["prompt"]}
    if body.get("size"):
        out["aspect_ratio"] = _aspect_ratio(str(body["size"]))
    if (body.get("n") or 1) > 1:
        out["num_outputs"] = body["n"]
    if body.get("seed") is not None:
        out["seed"] = body["seed"]
    return out


def _aspect_ratio(size: str) -> str:
    if size in _SIZE_RATIOS:
        return _SIZE_RATIOS[size]
    width, _, height = size.partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) and int(height)):
        raise ConversionError(f"size must look like 1024x1024, got {size!r}")
    g = math.gcd(int(width), int(height))
    ratio = f"{int(width) // g}:{int(height) // g}"
    if ratio not in _ASPECT_RATIOS:
        raise ConversionError(f"size {size} has no Replicate aspect ratio (one of {', '.join(sorted(_ASPECT_RATIOS))})")
    return ratio


_INPUT_BUILDERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "chat": _chat_input, "images": _image_input}


def task_poll_request(status: int, body: bytes, ctx: ConvertContext) -> UpstreamRequest | None:
    """GET the prediction's `urls.get` (moved onto the channel's base URL) until it is finished."""
    obj = parse_json(body)
    if status >= 400 or not isinstance(obj, dict) or obj.get("status") in TERMINAL:
        return None
    url = (obj.get("urls") or {}).get("get")
    if not url and obj.get("id"):
        url = f"{DEFAULT_BASE_URL}/v1/predictions/{obj['id']}"
    if not url:
        return None
    parts = urlsplit(url)
    return UpstreamRequest("GET", _origin(ctx.base_url) + parts.path + (f"?{parts.query}" if parts.query else ""),
                           _auth(ctx))


def _created(obj: Mapping[str, Any], ctx: ConvertContext) -> int:
    try:
        when = datetime.fromisoformat(str(obj.get("completed_at")))
    except ValueError:
        return int(ctx.now)
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def _outputs(output: Any) -> list[str]:
    if output is None:
        return []
    items = output if isinstance(output, list) else [output]
    return [item if isinstance(item, str) else orjson.dumps(item).decode() for item in items]


def _usage(obj: Mapping[str, Any]) -> Usage:
    metrics = obj.get("metrics") or {}
    return Usage(prompt_tokens=int(metrics.get("input_token_count") or 0),
                 completion_tokens=int(metrics.get("output_token_count") or 0))


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    """The finished prediction (the last poll answer)."""
    obj = parse_json(body)
    if not isinstance(obj, dict):
        return Converted(None, Usage(), OpenAIError(502, "invalid Replicate response body", "server_error"))
    state = obj.get("status")
    if state not in TERMINAL:
        return Converted(None, Usage(), OpenAIError(504, f"Replicate prediction still {state}", "timeout_error",
                                                    "prediction_not_finished"))
    if state != "succeeded":
        message = obj.get("error") or f"Replicate prediction {state}"
        return Converted(None, Usage(), OpenAIError(500, str(message), "server_error", f"prediction_{state}"))
    if ctx.mode == "images":
        return _images_to_openai(obj, ctx)
    return _chat_to_openai(obj, ctx)


def _chat_to_openai(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    usage = _usage(obj)
    max_tokens = (obj.get("input") or {}).get("max_tokens")
    reason = "length" if max_tokens and usage.completion_tokens >= max_tokens else "stop"
    message = {"role": "assistant", "content": "".join(_outputs(obj.get("output")))}
    body = completion_body(ctx.model, message, reason, usage, created=_created(obj, ctx),
                           id=f"chatcmpl-{obj['id']}" if obj.get("id") else None)
    return Converted(body, usage)


def _images_to_openai(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    urls = _outputs(obj.get("output"))
    if not urls:
        return Converted(None, Usage(), OpenAIError(502, "Replicate returned no images", "server_error",
                                                    "empty_output"))
    return Converted({"created": _created(obj, ctx), "data": [{"url": url} for url in urls]}, Usage())


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    """Replicate errors are RFC 7807 problem details: `{"title", "detail", "status"}`."""
    obj = parse_json(body)
    if not isinstance(obj, dict) or not (obj.get("detail") or obj.get("title")):
        return generic_error(status, body)
    detail = obj.get("detail")
    if isinstance(detail, list):    # validation errors: [{"loc", "msg", "type"}]
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return OpenAIError(status, str(detail or obj.get("title")), type_for_status(status))


class _Stream:
    """Replicate's stream SSE (`event: output|logs|error|done`), or the final prediction JSON when
    the relay polled instead; both end in OpenAI chunks."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.ctx = ctx
        self.writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now))
        self.body = JsonOrSSE()
        self.usage = Usage()
        self.error: OpenAIError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            return []
        return self._events(self.body.feed(data))

    def flush(self) -> list[bytes]:
        if self.error is not None:
            return []
        if self.body.json is not None:
            return self._prediction(response_to_openai(200, self.body.json, self.ctx))
        out = self._events(self.body.flush())
        return out if self.error is not None else out + self.writer.end("stop", self.usage)

    def _prediction(self, conv: Converted) -> list[bytes]:
        if conv.error is not None:
            self.error = conv.error
            return ChunkWriter.error(conv.error)
        self.usage = conv.usage
        assert conv.body is not None      # a converted answer without an error has a body
        choice = conv.body["choices"][0]
        return self.writer.content(choice["message"]["content"]) + self.writer.end(choice["finish_reason"], self.usage)

    def _events(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            if self.error is not None:
                break
            out += self._event(event)
        return out

    def _event(self, event: SSEEvent) -> list[bytes]:
        if event.event == "output":
            return self.writer.content(event.data)
        if event.event not in ("error", "done"):
            return []
        info = parse_json(event.data.encode("utf-8"))
        info = info if isinstance(info, dict) else {}
        if event.event == "error":
            message = info.get("detail") or event.data or "Replicate prediction failed"
        elif info.get("reason") in ("canceled", "error"):
            message = f"Replicate prediction ended: {info['reason']}"
        else:
            return []
        self.error = OpenAIError(500, str(message), "server_error", "prediction_failed")
        return ChunkWriter.error(self.error)


def stream_to_openai(ctx: ConvertContext) -> _Stream:
    return _Stream(ctx)
