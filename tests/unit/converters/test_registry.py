"""The converter registry: every api_style of the catalog resolves, and declarations agree with the functions."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import pytest

from proxy.converters.abilities import MODES, Provides
from proxy.converters.base import ConversionError, ConvertContext, StreamConverter
from proxy.converters.registry import (
    CONVERTERS,
    ConverterDeclarationError,
    converters_for,
    converters_from,
    dialect_from,
)
from rules import API_STYLES, load_catalog

SERVED_WITHOUT_CONVERTER = {"openai", "azure", "proxy"}


def test_every_api_style_of_the_catalog_resolves() -> None:
    styles = {t.api_style for t in load_catalog()}
    for style in styles - SERVED_WITHOUT_CONVERTER:
        assert converters_for(style) is not None, style
    assert all(converters_for(s) is None for s in SERVED_WITHOUT_CONVERTER)


def test_the_registry_is_the_catalogs_list() -> None:
    """No converter without a style that names it, no style the rules allow without its converter."""
    assert set(CONVERTERS) == set(API_STYLES) - SERVED_WITHOUT_CONVERTER


def _ctx(mode: str, stream: bool = False, model: str = "m/m") -> ConvertContext:
    return ConvertContext(mode=mode, model=model, base_url="https://x.test", key="a|b|c", stream=stream, now=1.0,
                          access_token="t", config={"region": "us-east-1", "ak": "a", "sk": "s", "library_id": "1"})


@pytest.mark.parametrize("style", sorted(CONVERTERS))
def test_undeclared_modes_are_refused_by_the_converter(style: str) -> None:
    conv = CONVERTERS[style]
    for mode in sorted(MODES - conv.provides.modes):
        with pytest.raises(ConversionError) as err:
            conv.chat.request_from_openai({"model": "m/m", "messages": [], "prompt": "p", "input": "i"}, _ctx(mode))
        assert err.value.status == 400, (style, mode)


@pytest.mark.parametrize(("style", "model"), [*((s, "m/m") for s in sorted(CONVERTERS) if s != "vertexai"),
                                             ("vertexai", "gemini-pro"), ("vertexai", "claude-3-haiku")])
def test_stream_converters_are_typed(style: str, model: str) -> None:
    """What RelayState.stream_converter holds: feed/flush, usage and error, for every style."""
    stream = CONVERTERS[style].stream(_ctx("chat", stream=True, model=model), {"messages": []})
    assert isinstance(stream, StreamConverter)
    assert stream.error is None and stream.usage.total_tokens == 0


def test_abilities_as_declared() -> None:
    assert {s for s, c in CONVERTERS.items() if c.access_token} == {"baidu", "vertexai"}
    assert {s for s, c in CONVERTERS.items() if c.task} == {"ali", "replicate"}
    assert {s for s, c in CONVERTERS.items() if c.websocket} == {"xunfei"}
    assert {s for s, c in CONVERTERS.items() if c.request_aware} == {"deepl"}
    assert CONVERTERS["baidu"].token_expired(110) and not CONVERTERS["vertexai"].token_expired(110)
    assert CONVERTERS["replicate"].polled(stream=True) is not None and CONVERTERS["ali"].polled(stream=True) is None
    assert CONVERTERS["ali"].polled(stream=False) is not None and CONVERTERS["zhipu"].polled(stream=False) is None
    assert {s: c.provides.other_config for s, c in CONVERTERS.items() if c.provides.other_config} == {
        "gemini": "api_version", "xunfei": "api_version", "aiproxy_library": "library_id", "ali": "plugin"}


# ---------------------------------------------------------------- declarations checked at import

def _request(body: Any, ctx: Any) -> Any: ...
def _response(status: int, body: bytes, ctx: Any) -> Any: ...
def _stream(ctx: Any) -> Any: ...
def _error(status: int, body: bytes, ctx: Any) -> Any: ...


def _module(provides: Provides | None, **functions: Callable[..., Any]) -> types.ModuleType:
    module = types.ModuleType("proxy.converters.providers.fake")
    chat = {"request_from_openai": _request, "response_to_openai": _response, "stream_to_openai": _stream,
            "error_to_openai": _error}
    for name, fn in {**chat, **functions}.items():
        setattr(module, name, fn)
    if provides is not None:
        module.PROVIDES = provides   # type: ignore[attr-defined]
    return module


def test_a_complete_declaration_builds() -> None:
    conv = converters_from(_module(Provides(access_token=True), auth_token_request=lambda ctx: None,
                                   parse_auth_token=lambda status, body, now: ("", 0.0)))
    assert conv.api_style == "fake" and conv.access_token is not None and conv.task is None


@pytest.mark.parametrize(("module", "message"), [
    (_module(None), "no PROVIDES"),
    (_module(Provides(access_token=True), auth_token_request=lambda ctx: None), "declares access_token but has no "
                                                                                "parse_auth_token"),
    (_module(Provides(task=True), task_poll_request=lambda status, body: None), "does not fit the task ability"),
    (_module(Provides(), task_poll_request=lambda status, body, ctx: None), "does not declare task"),
    (_module(Provides(), messages_to_openai=lambda messages, ctx: None), "does not declare websocket"),
    (_module(Provides(), stream_to_openai=lambda ctx, *, request=None: None), "does not declare answers_need_request"),
    (_module(Provides(answers_need_request=True)), "does not take request="),
    (_module(Provides(), error_to_openai=lambda status, body, ctx, extra: None), "does not fit the chat ability"),
])
def test_a_wrong_declaration_fails_with_a_clear_message(module: types.ModuleType, message: str) -> None:
    with pytest.raises(ConverterDeclarationError, match=message):
        converters_from(module)


def test_optional_extra_parameters_fit() -> None:
    """Bedrock's error converter takes the response headers too, as an optional parameter; *args and **kwargs
    take anything."""
    converters_from(_module(Provides(), error_to_openai=lambda status, body, ctx, headers=None: None))
    converters_from(_module(Provides(answers_need_request=True), response_to_openai=lambda *a, **k: None,
                            stream_to_openai=lambda ctx, **k: None))


@pytest.mark.parametrize("kwargs", [{"modes": frozenset({"embeddings"})}, {"modes": frozenset({"chat", "audio"})},
                                    {"token_expired_codes": frozenset({1})}, {"task_streams": True}])
def test_impossible_declarations(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Provides(**kwargs)


def _dialect(name: str, **functions: Callable[..., Any]) -> types.ModuleType:
    module = types.ModuleType("proxy.converters.dialects.fake")
    module.DIALECT = name   # type: ignore[attr-defined]
    defaults = {"request_to_openai": lambda body, model="", stream=None: {},
                "response_from_openai": lambda body, request=None: {},
                "stream_from_openai": lambda request=None: None, "error_from_openai": lambda error: (500, b"")}
    for fn_name, fn in {**defaults, **functions}.items():
        setattr(module, fn_name, fn)
    return module


def test_client_dialects_are_checked_too() -> None:
    assert dialect_from(_dialect("anthropic"))[0] == "anthropic"
    with pytest.raises(ConverterDeclarationError, match="not one of"):
        dialect_from(_dialect("klingon"))
    with pytest.raises(ConverterDeclarationError, match="does not fit the client dialect"):
        dialect_from(_dialect("gemini", request_to_openai=lambda: {}))
