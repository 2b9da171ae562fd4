"""OpenAI chat ↔ AWS Bedrock Claude (InvokeModel / InvokeModelWithResponseStream, providers-global.md §3)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

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
from proxy.converters.errors import find_message, parse_json, type_for_status
from proxy.converters.eventstream import EventMessage, EventStreamDecoder, EventStreamError
from proxy.converters.providers import anthropic
from proxy.converters.providers.anthropic_stream import AnthropicStream
from proxy.converters.signing.sigv4 import Credentials, sign_headers

PROVIDES = Provides()

ANTHROPIC_VERSION = "bedrock-2023-05-31"
SERVICE = "bedrock"  # the signing name, not the host's "bedrock-runtime"

# OpenAI-style Claude model name → Bedrock model id (One API's table plus later models).
MODEL_IDS: dict[str, str] = {
    "claude-instant-1.2": "anthropic.claude-instant-v1",
    "claude-2.0": "anthropic.claude-v2",
    "claude-2.1": "anthropic.claude-v2:1",
    "claude-3-haiku-20240307": "anthropic.claude-3-haiku-20240307-v1:0",
    "claude-3-sonnet-20240229": "anthropic.claude-3-sonnet-20240229-v1:0",
    "claude-3-opus-20240229": "anthropic.claude-3-opus-20240229-v1:0",
    "claude-3-5-sonnet-20240620": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "claude-3-5-sonnet-20241022": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-5-sonnet-latest": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-5-haiku-20241022": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "claude-3-7-sonnet-20250219": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "claude-sonnet-4-20250514": "anthropic.claude-sonnet-4-20250514-v1:0",
    "claude-opus-4-20250514": "anthropic.claude-opus-4-20250514-v1:0",
    "claude-opus-4-1-20250805": "anthropic.claude-opus-4-1-20250805-v1:0",
    "claude-sonnet-4-5-20250929": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-haiku-4-5-20251001": "anthropic.claude-haiku-4-5-20251001-v1:0",
}
# Already a Bedrock id: base id, inference profile (us./eu./apac./global.) or an ARN.
_BEDROCK_ID = re.compile(r"^(arn:aws[\w-]*:bedrock:|([a-z]+\.)?anthropic\.)")

# exception name (Bedrock's stream frames use camelCase) → (status, OpenAI type), §3.4
_STREAM_EXCEPTIONS: dict[str, tuple[int, str]] = {
    "throttlingException": (429, "rate_limit_error"),
    "validationException": (400, "invalid_request_error"),
    "modelStreamErrorException": (424, "server_error"),
    "modelTimeoutException": (408, "server_error"),
    "internalServerException": (500, "server_error"),
    "serviceUnavailableException": (503, "server_error"),
}
# When the relay cannot pass `x-amzn-ErrorType`, the exception Bedrock documents for the status (§3.5).
_EXCEPTION_BY_STATUS: dict[int, str] = {
    400: "ValidationException", 404: "ResourceNotFoundException", 408: "ModelTimeoutException",
    424: "ModelErrorException", 429: "ThrottlingException", 500: "InternalServerException",
    503: "ServiceUnavailableException",
}


# -- request -------------------------------------------------------------------------------

def model_id_from_openai(model: str) -> str:
    if model in MODEL_IDS:
        return MODEL_IDS[model]
    if _BEDROCK_ID.match(model):
        return model
    raise ConversionError(f"model {model!r} has no AWS Bedrock model id; map it to one "
                          "(e.g. anthropic.claude-…-v1:0 or an inference profile) in the channel")


def _credentials(ctx: ConvertContext) -> tuple[Credentials | None, str, str]:
    """(SigV4 credentials or None, Bedrock API key or "", region) from ctx.config, else key `ak|sk|region`."""
    parts = ctx.key.split("|") if "|" in ctx.key else []
    from_key = dict(zip(("ak", "sk", "region"), parts, strict=False))
    ak = ctx.config.get("ak") or from_key.get("ak", "")
    sk = ctx.config.get("sk") or from_key.get("sk", "")
    region = ctx.config.get("region") or from_key.get("region", "")
    if not region:
        raise ConversionError("the AWS channel needs a region (config 'region' or key 'ak|sk|region')")
    if ak and sk:
        return Credentials(ak, sk), "", region
    if ctx.key and not parts:
        return None, ctx.key, region  # a Bedrock API key: plain Bearer auth, no SigV4
    raise ConversionError("the AWS channel needs credentials (config 'ak'/'sk' or key 'ak|sk|region')")


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if ctx.mode != "chat":
        raise ConversionError(f"AWS Bedrock Claude has no {ctx.mode} endpoint; only chat completions are supported")
    _credentials(ctx)   # a channel without region or credentials is refused before the body is converted
    stream = bool(body.get("stream") or ctx.stream)
    # Bedrock takes only inline (base64) images, and the model id goes in the URL.
    payload = anthropic.body_from_openai(body, ctx, url_images=False)
    model = str(payload.pop("model") or "")
    return invoke_request({"anthropic_version": ANTHROPIC_VERSION, **payload}, model, stream, ctx)


def invoke_request(payload: Mapping[str, Any], model: str, stream: bool, ctx: ConvertContext) -> UpstreamRequest:
    """InvokeModel / InvokeModelWithResponseStream of `payload` (a Bedrock Anthropic body) for `model` (its
    Bedrock id in the URL), signed with SigV4 or sent with the Bedrock API key; shared by OpenAI clients (above)
    and Anthropic clients (proxy.converters.dialects.anthropic_envelope)."""
    creds, api_key, region = _credentials(ctx)
    model_id = model_id_from_openai(model)
    base = (ctx.base_url or f"https://bedrock-runtime.{region}.amazonaws.com").rstrip("/")
    action = "invoke-with-response-stream" if stream else "invoke"
    url = f"{base}/model/{quote(model_id, safe=':')}/{action}"
    headers = {"Content-Type": "application/json"}
    if stream:
        headers |= {"Accept": "application/vnd.amazon.eventstream", "X-Amzn-Bedrock-Accept": "application/json"}
    else:
        headers["Accept"] = "application/json"
    data = orjson.dumps(payload)
    if creds is None:
        headers["Authorization"] = f"Bearer {api_key}"
    else:
        headers = sign_headers("POST", url, headers, data, creds, region, SERVICE, ctx.now)
    return UpstreamRequest("POST", url, headers, data)


# -- responses -----------------------------------------------------------------------------

def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    """Bedrock returns the Anthropic Messages response body unchanged."""
    return anthropic.response_to_openai(status, body, ctx)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext,
                    headers: Mapping[str, str] | None = None) -> OpenAIError:
    """`{"message": ...}` + `x-amzn-ErrorType` → OpenAI error with the exception name as code (§3.5)."""
    obj = parse_json(body)
    message = ""
    if isinstance(obj, dict):
        message = next((obj[k] for k in ("message", "Message") if isinstance(obj.get(k), str) and obj[k]), "")
    message = message or find_message(obj) or f"bad response status code {status}"
    return OpenAIError(status=status, message=message, type=type_for_status(status),
                       code=_exception_name(status, obj, headers))


def _exception_name(status: int, obj: Any, headers: Mapping[str, str] | None) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == "x-amzn-errortype" and value:
            return value.split(":", 1)[0]
    kind = obj.get("__type") if isinstance(obj, dict) else None
    if isinstance(kind, str) and kind:
        return kind.rsplit("#", 1)[-1]
    return _EXCEPTION_BY_STATUS.get(status)


class BedrockStream:
    """Event-stream frames → base64 Anthropic events → the Anthropic stream converter."""

    def __init__(self, ctx: ConvertContext) -> None:
        self._inner = AnthropicStream(ctx)
        self._frames = EventStreamDecoder()

    @property
    def usage(self) -> Usage:
        return self._inner.usage

    @property
    def error(self) -> OpenAIError | None:
        return self._inner.error

    def feed(self, data: bytes) -> list[bytes]:
        if self._inner.done:
            return []
        try:
            messages = self._frames.feed(data)
        except EventStreamError as exc:
            return self._inner.fail(OpenAIError(502, f"invalid event stream from upstream: {exc}", "server_error"))
        out: list[bytes] = []
        for message in messages:
            out += self._message(message)
        return out

    def flush(self) -> list[bytes]:
        return self._inner.close()

    def _message(self, message: EventMessage) -> list[bytes]:
        error = frame_error(message)
        if error is not None:
            return self._inner.fail(error)
        raw = frame_event(message)
        if raw is None:
            return []
        event = parse_json(raw)
        if not isinstance(event, dict):
            return self._inner.fail(OpenAIError(502, "undecodable event in the upstream stream", "server_error"))
        metrics = event.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            self._inner.update_usage(metrics_usage(metrics))
        return self._inner.on_event(event)


def frame_error(message: EventMessage) -> OpenAIError | None:
    """An `exception` or `error` frame as the error it reports; None for any other frame."""
    kind = message.headers.get(":message-type")
    if kind == "exception":
        name = str(message.headers.get(":exception-type") or "")
        return _stream_error(name, find_message(parse_json(message.payload)) or name or "upstream exception")
    if kind == "error":
        name = str(message.headers.get(":error-code") or "")
        return _stream_error(name, str(message.headers.get(":error-message") or name))
    return None


def frame_event(message: EventMessage) -> bytes | None:
    """The Anthropic event inside an `event` frame (`{"bytes": base64}`), as JSON bytes; None for a frame that
    carries none (skipped), b"" for bytes that are not base64 (undecodable, as a broken event is)."""
    if message.headers.get(":message-type") != "event":
        return None
    wrapper = parse_json(message.payload)
    encoded = wrapper.get("bytes") if isinstance(wrapper, dict) else None
    if not isinstance(encoded, str):
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _stream_error(name: str, message: str) -> OpenAIError:
    key = name[:1].lower() + name[1:]
    status, kind = _STREAM_EXCEPTIONS.get(key, (500, "server_error"))
    return OpenAIError(status=status, message=message, type=kind, code=name or None)


def metrics_usage(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Bedrock's authoritative per-invocation counts, in Anthropic's usage field names."""
    names = {"inputTokenCount": "input_tokens", "outputTokenCount": "output_tokens",
             "cacheReadInputTokenCount": "cache_read_input_tokens",
             "cacheWriteInputTokenCount": "cache_creation_input_tokens"}
    return {ours: metrics[theirs] for theirs, ours in names.items() if theirs in metrics}


def stream_to_openai(ctx: ConvertContext) -> BedrockStream:
    return BedrockStream(ctx)

