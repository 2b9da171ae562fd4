"""DeepL translation exposed as chat: the last message is translated into the model's target language."""

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
from proxy.converters.chunks import ChunkWriter, completion_body
from proxy.converters.errors import generic_error, parse_json
from proxy.converters.text import text_of

PROVIDES = Provides(answers_need_request=True)

DEFAULT_TARGET = "ZH"   # model name `deepl` without a language, as One API
# Bare codes DeepL deprecates as targets → the variant it recommends.
_TARGET_ALIASES = {"EN": "EN-US"}
_TEXT_ONLY = "DeepL translates text only; remove image or audio parts"


def target_lang_from_model(model: str) -> str:
    """`deepl-zh` → `ZH`, `deepl-en` → `EN-US`, `deepl-pt-br` → `PT-BR`, `deepl` → `ZH`."""
    lang = model[len("deepl"):] if model.lower().startswith("deepl") else model
    lang = lang.lstrip("-").upper()
    if not lang:
        return DEFAULT_TARGET
    return _TARGET_ALIASES.get(lang, lang)


def source_text(body: Mapping[str, Any]) -> str:
    """The text DeepL translates: the last message's text (system prompt and history are not used)."""
    messages = body.get("messages") or []
    if not messages:
        raise ConversionError("DeepL needs at least one message to translate")
    return text_of(messages[-1].get("content"), _TEXT_ONLY)


def _check_supported(body: Mapping[str, Any]) -> None:
    if body.get("tools") or body.get("functions"):
        raise ConversionError("DeepL translation does not support tools")
    if (body.get("response_format") or {}).get("type", "text") != "text":
        raise ConversionError("DeepL translation does not support response_format")
    if (body.get("n") or 1) > 1:
        raise ConversionError("DeepL translation does not support n > 1")


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if ctx.mode != "chat":
        raise ConversionError(f"DeepL channels support chat only, not {ctx.mode}")
    _check_supported(body)
    payload = {"text": [source_text(body)], "target_lang": target_lang_from_model(ctx.model)}
    headers = {"Authorization": f"DeepL-Auth-Key {ctx.key}", "Content-Type": "application/json"}
    return UpstreamRequest("POST", ctx.base_url + "/v2/translate", headers, orjson.dumps(payload))


# ---------------------------------------------------------------- responses

def _usage(translations: list[Mapping[str, Any]], request: Mapping[str, Any] | None) -> Usage:
    """DeepL bills source characters (code points): `billed_characters` when given, else the source length."""
    billed = [t["billed_characters"] for t in translations if isinstance(t.get("billed_characters"), int)]
    if billed:
        return Usage(prompt_tokens=sum(billed))
    if request is not None:
        try:
            return Usage(prompt_tokens=len(source_text(request)))
        except ConversionError:
            pass
    return Usage()


def _translation(status: int, body: bytes) -> tuple[str, list[Mapping[str, Any]]] | OpenAIError:
    obj = parse_json(body)
    translations = obj.get("translations") if isinstance(obj, dict) else None
    if not isinstance(translations, list) or not translations:
        message = obj.get("message") if isinstance(obj, dict) else None
        return OpenAIError(status=500 if status < 400 else status, type="server_error", code="deepl_error",
                           message=message or "DeepL answered without a translation")
    return "".join(t.get("text") or "" for t in translations), translations


def response_to_openai(status: int, body: bytes, ctx: ConvertContext, *,
                       request: Mapping[str, Any] | None = None) -> Converted:
    """`request` (the client's OpenAI body) lets usage fall back to the source length when DeepL gives none."""
    got = _translation(status, body)
    if isinstance(got, OpenAIError):
        return Converted(None, Usage(), got)
    text, translations = got
    usage = _usage(translations, request)
    message = {"role": "assistant", "content": text}
    return Converted(completion_body(ctx.model, message, "stop", usage, created=int(ctx.now)), usage)


_QUOTA_EXCEEDED = 456


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    """Generic mapping, except DeepL's 456 quota exhaustion, which clients know as 429 insufficient_quota."""
    err = generic_error(status, body)
    if status != _QUOTA_EXCEEDED:
        return err
    return OpenAIError(status=429, message=err.message, type="insufficient_quota", code="quota_exceeded")


# ---------------------------------------------------------------- streaming

class DeepLStream:
    """DeepL never streams: the JSON answer is collected and replayed as role, text, finish, [DONE]."""

    def __init__(self, ctx: ConvertContext, request: Mapping[str, Any] | None = None) -> None:
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._ctx = ctx
        self._request = request
        self._body = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._body += data
        return []

    def flush(self) -> list[bytes]:
        got = response_to_openai(200, self._body, self._ctx, request=self._request)
        if got.error is not None:
            self.error = got.error
            return ChunkWriter.error(got.error)
        self.usage = got.usage
        writer = ChunkWriter(self._ctx.model, include_usage=self._ctx.include_usage, created=int(self._ctx.now))
        assert got.body is not None       # a converted answer without an error has a body
        text = got.body["choices"][0]["message"]["content"]
        return writer.start() + writer.content(text) + writer.end("stop", self.usage)


def stream_to_openai(ctx: ConvertContext, *, request: Mapping[str, Any] | None = None) -> DeepLStream:
    return DeepLStream(ctx, request)
