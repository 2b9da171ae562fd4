"""Vertex AI: Gemini (generateContent, predict) and Claude (rawPredict) on Google Cloud."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import (
    ConversionError,
    ConvertContext,
    Converted,
    OpenAIError,
    StreamConverter,
    UpstreamRequest,
    Usage,
)
from proxy.converters.errors import parse_json
from proxy.converters.providers import anthropic, gemini
from proxy.converters.providers.gemini_stream import google_error
from proxy.converters.signing import google_auth

__all__ = ["request_from_openai", "response_to_openai", "stream_to_openai", "error_to_openai",
           "auth_token_request", "parse_auth_token"]

PROVIDES = Provides(modes=frozenset({"chat", "embeddings"}), access_token=True)

ANTHROPIC_VERSION = "vertex-2023-10-16"
SELF_SIGNED_AUDIENCE = "https://aiplatform.googleapis.com/"

# model name prefix → publisher; the publisher decides the body format and methods.
_PUBLISHERS = {"gemini": "google", "claude": "anthropic"}
_METHODS = {  # (publisher, stream) → method
    ("google", False): "generateContent", ("google", True): "streamGenerateContent?alt=sse",
    ("anthropic", False): "rawPredict", ("anthropic", True): "streamRawPredict",
}


# ---- channel settings and auth ------------------------------------------------------------

def _channel(ctx: ConvertContext) -> tuple[str, str, str]:
    """(region, project, service-account JSON) from config, else from a `region|project|adc` key."""
    config = ctx.config or {}
    region, project = config.get("region", ""), config.get("vertex_ai_project_id", "")
    adc = config.get("vertex_ai_adc", "")
    key = (ctx.key or "").strip()
    if key.startswith("{"):
        adc = adc or key
    elif key.count("|") >= 2:
        k_region, k_project, k_adc = key.split("|", 2)
        region, project, adc = region or k_region, project or k_project, adc or k_adc
    return region, project, adc


def _service_account(ctx: ConvertContext) -> google_auth.ServiceAccount:
    adc = _channel(ctx)[2]
    if not adc:
        raise ConversionError("the Vertex AI channel has no service-account JSON (config vertex_ai_adc or key)",
                              code="invalid_channel_credentials")
    return google_auth.service_account_from_json(adc)


def _custom_base(ctx: ConvertContext) -> str:
    """The channel base URL when it points somewhere other than Google's own hosts."""
    host = urlsplit(ctx.base_url or "").hostname or ""
    return "" if not host or host.endswith("googleapis.com") else ctx.base_url.rstrip("/")


def auth_token_request(ctx: ConvertContext) -> UpstreamRequest:
    """The JWT-bearer exchange; sent to the channel's base URL when it is a mirror."""
    sa = _service_account(ctx)
    assertion = google_auth.sign_jwt(sa, google_auth.token_claims(sa, ctx.now))
    base = _custom_base(ctx)
    url = base + (urlsplit(sa.token_uri).path or "/token") if base else sa.token_uri
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return UpstreamRequest("POST", url, headers, google_auth.token_request_body(assertion))


def parse_auth_token(status: int, body: bytes, now: float) -> tuple[str, float]:
    return google_auth.parse_token_response(status, body, now)


def bearer(ctx: ConvertContext) -> str:
    """The relay's cached OAuth token, else a self-signed JWT (accepted by Vertex directly)."""
    if ctx.access_token:
        return ctx.access_token
    sa = _service_account(ctx)
    return google_auth.sign_jwt(sa, google_auth.self_signed_claims(sa, ctx.now, SELF_SIGNED_AUDIENCE))


# ---- requests -----------------------------------------------------------------------------

def _publisher(ctx: ConvertContext) -> str:
    if ctx.mode == "embeddings":
        return "google"
    for prefix, publisher in _PUBLISHERS.items():
        if ctx.model.startswith(prefix):
            return publisher
    raise ConversionError(f"model {ctx.model!r} is not supported on Vertex AI channels (gemini-*, claude-*)")


def model_url(ctx: ConvertContext, publisher: str, method: str) -> str:
    region, project, _ = _channel(ctx)
    if not region:
        raise ConversionError("the Vertex AI channel needs a region (config region)", code="invalid_channel_config")
    if not project:
        project = _service_account(ctx).project_id
    host = ctx.base_url.rstrip("/") if ctx.base_url else (
        "https://aiplatform.googleapis.com" if region == "global" else f"https://{region}-aiplatform.googleapis.com")
    version = (ctx.config or {}).get("api_version") or "v1"
    return (f"{host}/{version}/projects/{project}/locations/{region}/publishers/{publisher}"
            f"/models/{ctx.model}:{method}")


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if ctx.mode not in ("chat", "embeddings"):
        raise ConversionError(f"Vertex AI channels do not support the {ctx.mode!r} endpoint")
    publisher = _publisher(ctx)
    if ctx.mode == "embeddings":
        method, payload = "predict", _embeddings_body(body)
    elif publisher == "anthropic":
        method, payload = _METHODS[publisher, ctx.stream], _claude_body(body, ctx)
    else:
        if ctx.stream and (body.get("n") or 1) > 1:
            raise ConversionError("n > 1 is not supported together with stream for Gemini")
        method, payload = _METHODS[publisher, ctx.stream], gemini.generate_content_from_openai(body, ctx)
    headers = {"Authorization": f"Bearer {bearer(ctx)}", "Content-Type": "application/json"}
    return UpstreamRequest("POST", model_url(ctx, publisher, method), headers, orjson.dumps(payload))


def _claude_body(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    """The Anthropic body with the model in the URL, the Vertex version, and `stream` kept."""
    payload = anthropic.body_from_openai(body, ctx, url_images=False)
    payload.pop("model", None)
    payload["anthropic_version"] = ANTHROPIC_VERSION
    if ctx.stream:
        payload["stream"] = True
    return payload


def _embeddings_body(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"instances": [{"content": text} for text in gemini.embedding_inputs(body)]}
    if body.get("dimensions"):
        out["parameters"] = {"outputDimensionality": body["dimensions"]}
    return out


# ---- responses ----------------------------------------------------------------------------

def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    if ctx.mode == "embeddings":
        return _embeddings_to_openai(status, body, ctx)
    if _publisher(ctx) == "anthropic":
        return anthropic.response_to_openai(status, body, ctx)
    return gemini.response_to_openai(status, body, ctx)


def _embeddings_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    if not isinstance(obj, dict) or "error" in obj:
        return Converted(None, Usage(), error=google_error(status, body, obj))
    data, tokens = [], 0
    for i, prediction in enumerate(obj.get("predictions") or []):
        embedding = prediction.get("embeddings") or {}
        data.append({"object": "embedding", "index": i, "embedding": embedding.get("values") or []})
        tokens += int((embedding.get("statistics") or {}).get("token_count") or 0)
    usage = Usage(prompt_tokens=tokens)
    return Converted({"object": "list", "data": data, "model": ctx.model,
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, usage)


def stream_to_openai(ctx: ConvertContext) -> StreamConverter:
    if _publisher(ctx) == "anthropic":
        return anthropic.stream_to_openai(ctx)
    return gemini.stream_to_openai(ctx)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    """Google RPC envelope (any model), or Anthropic's own envelope from Claude models."""
    obj = parse_json(body)
    if isinstance(obj, dict) and obj.get("type") == "error":
        return anthropic.error_to_openai(status, body, ctx)
    return google_error(status, body, obj)

