"""Gemini's other calls through the hub: `:embedContent` / `:batchEmbedContents` ↔ OpenAI embeddings, and
`:countTokens` as the chat request whose prompt the gateway counts (client-dialects.md §4.6).

- embedContent `{content: {parts: [{text}]}, taskType?, title?, outputDimensionality?}` → `{model, input: [text],
  dimensions?}`; the texts of one content are joined with a newline; a part that is not text is refused.
  batchEmbedContents `{requests: [...]}` → one input per request, in order; their `model`, when given, must be
  the path's, and their outputDimensionality must agree (the hub takes one). taskType and title are dropped:
  they tune Gemini's own embedding models and OpenAI-style embeddings have no such input.
- answers: `data[i].embedding` in index order → `{embedding: {values}}` or `{embeddings: [{values}, ...]}`.
- countTokens `{contents}` or `{generateContentRequest}` → the hub chat request (request_to_openai), whose
  prompt is counted; the answer is `{totalTokens}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.converters.base import ConversionError
from proxy.converters.dialects.gemini_client import request_to_openai
from proxy.converters.dialects.gemini_client_names import camel_case

__all__ = ["count_tokens_request_to_openai", "count_tokens_response", "embeddings_request_to_openai",
           "embeddings_response_from_openai"]


def _text(content: Any) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        raise ConversionError("content.parts must be a non-empty list")
    if any(not isinstance(p, dict) or set(p) != {"text"} for p in parts):
        raise ConversionError("only text parts can be embedded on this channel")
    return "\n".join(str(p["text"]) for p in parts)


def embeddings_request_to_openai(body: Mapping[str, Any], *, model: str, batch: bool) -> dict[str, Any]:
    """An embedContent (or, with `batch`, batchEmbedContents) body as an OpenAI embeddings request."""
    body = camel_case(body)
    requests = body.get("requests") if batch else [body]
    if not isinstance(requests, list) or not requests or not all(isinstance(r, dict) for r in requests):
        raise ConversionError("requests must be a non-empty list of embedContent requests")
    for item in requests:
        named = str(item.get("model") or f"models/{model}").removeprefix("models/")
        if named != model:
            raise ConversionError(f"request model {item['model']!r} is not the model of the path, {model!r}")
    dimensions = {item.get("outputDimensionality") for item in requests}
    if len(dimensions) > 1:
        raise ConversionError("all requests of a batch must ask for the same outputDimensionality")
    out: dict[str, Any] = {"model": model, "input": [_text(item.get("content")) for item in requests]}
    (size,) = dimensions
    if size is not None:
        out["dimensions"] = size
    return out


def embeddings_response_from_openai(body: Mapping[str, Any], *, batch: bool) -> dict[str, Any]:
    """An OpenAI embeddings answer as embedContent's (or batchEmbedContents') answer."""
    data = sorted((d for d in body.get("data") or [] if isinstance(d, dict)), key=lambda d: int(d.get("index") or 0))
    values = [{"values": list(d.get("embedding") or [])} for d in data]
    if batch:
        return {"embeddings": values}
    return {"embedding": values[0] if values else {"values": []}}


def count_tokens_request_to_openai(body: Mapping[str, Any], *, model: str) -> dict[str, Any]:
    """The hub request whose prompt tokens answer a countTokens call."""
    body = camel_case(body)
    inner = body.get("generateContentRequest")
    if inner is not None:
        if not isinstance(inner, dict) or set(body) - {"generateContentRequest"}:
            raise ConversionError("countTokens takes contents or one generateContentRequest")
        return request_to_openai(inner, model=model)
    return request_to_openai(body, model=model)


def count_tokens_response(total: int) -> dict[str, Any]:
    return {"totalTokens": total}
