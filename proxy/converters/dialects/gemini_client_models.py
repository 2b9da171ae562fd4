"""`GET /v1beta/models` in Gemini's shape (client-dialects.md §4.6): the models a token may use as `Model`
objects, `models/<id>`, paged by `pageSize` (50 by default, at most 1000) and an opaque `pageToken`.

Embedding models (their name says "embed") list the embed methods, every other model the generate ones;
the output limit is the gateway's own (rules/max_output.toml), the input limit unknown to it and left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "model_list", "model_resource", "page_size"]

DEFAULT_PAGE, MAX_PAGE = 50, 1000
_GENERATE = ["generateContent", "streamGenerateContent", "countTokens"]
_EMBED = ["embedContent", "batchEmbedContents"]


def model_resource(model: str, output_limit: int) -> dict[str, Any]:
    """One model as Gemini's `Model` resource."""
    methods = _EMBED if "embed" in model.lower() else _GENERATE
    return {"name": f"models/{model}", "baseModelId": model, "version": "", "displayName": model,
            "description": "", "outputTokenLimit": output_limit, "supportedGenerationMethods": methods}


def page_size(raw: str) -> int:
    """pageSize as Google reads it: absent or 0 is the default, above the maximum is the maximum."""
    try:
        size = int(raw) if raw else 0
    except ValueError:
        raise ValueError(f"pageSize {raw!r} is not a number") from None
    if size < 0:
        raise ValueError("pageSize must not be negative")
    return min(size or DEFAULT_PAGE, MAX_PAGE)


def model_list(models: Sequence[dict[str, Any]], size: int, token: str) -> dict[str, Any]:
    """One page of `models`; the page token is the offset of the next page."""
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ValueError(f"pageToken {token!r} is not one this gateway gave") from None
    if start < 0:
        raise ValueError(f"pageToken {token!r} is not one this gateway gave")
    out: dict[str, Any] = {"models": list(models[start:start + size])}
    if start + size < len(models):
        out["nextPageToken"] = str(start + size)
    return out
