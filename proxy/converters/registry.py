"""The one list of converters: each channel api_style's provider module, with the abilities it declares.

Built and checked when this module is imported: a module whose `PROVIDES` declares an ability without its
functions (or with other parameters than the ability's Protocol), or that implements an ability it does not
declare, stops the import with a message naming both. The relay looks converters up here by api_style.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

from proxy.converters.abilities import (
    CLIENT_DIALECTS,
    AccessTokenStep,
    ChatConverter,
    ClientDialect,
    PolledTask,
    Provides,
    RequestAwareAnswers,
    WebSocketTransport,
)
from proxy.converters.base import ConvertContext, Converted, StreamConverter
from proxy.converters.dialects import anthropic_client, gemini_client, responses_client
from proxy.converters.providers import (
    aiproxy_library,
    ali,
    anthropic,
    aws,
    baidu,
    cloudflare,
    cohere,
    coze,
    deepl,
    gemini,
    ollama,
    palm,
    replicate,
    tencent,
    vertexai,
    xunfei,
    zhipu,
)

__all__ = ["CONVERTERS", "DIALECTS", "ConverterDeclarationError", "Converters", "converters_for", "converters_from",
           "dialect_from"]

# api_style (rules/channel_types.toml) → provider module; the style is the module's own name
PROVIDERS: tuple[ModuleType, ...] = (aiproxy_library, ali, anthropic, aws, baidu, cloudflare, cohere, coze, deepl,
                                     gemini, ollama, palm, replicate, tencent, vertexai, xunfei, zhipu)


class ConverterDeclarationError(TypeError):
    """A provider module's declaration and its functions disagree."""


@dataclass(frozen=True, slots=True)
class Converters:
    """One api_style's converter, each optional ability typed or None."""

    api_style: str
    provides: Provides
    chat: ChatConverter
    access_token: AccessTokenStep | None = None
    task: PolledTask | None = None
    websocket: WebSocketTransport | None = None
    request_aware: RequestAwareAnswers | None = None

    def response(self, status: int, body: bytes, ctx: ConvertContext, request: Mapping[str, Any]) -> Converted:
        """A whole answer in OpenAI's shape; `request` goes only to converters that declared they read it."""
        if self.request_aware is not None:
            return self.request_aware.response_to_openai(status, body, ctx, request=request)
        return self.chat.response_to_openai(status, body, ctx)

    def stream(self, ctx: ConvertContext, request: Mapping[str, Any]) -> StreamConverter:
        if self.request_aware is not None:
            return self.request_aware.stream_to_openai(ctx, request=request)
        return self.chat.stream_to_openai(ctx)

    def polled(self, stream: bool) -> PolledTask | None:
        """The task poller when this call is polled: always for non-streams, for streams only when declared."""
        return self.task if self.task is not None and (not stream or self.provides.task_streams) else None

    def token_expired(self, code: Any) -> bool:
        """Whether an error code says the cached access token died."""
        return code in self.provides.token_expired_codes


# ability → (its Protocol, declared in this Provides?)
_ABILITIES: tuple[tuple[str, type, Callable[[Provides], bool]], ...] = (
    ("chat", ChatConverter, lambda p: True),
    ("access_token", AccessTokenStep, lambda p: p.access_token),
    ("task", PolledTask, lambda p: p.task),
    ("websocket", WebSocketTransport, lambda p: p.websocket),
)


def _methods(protocol: type) -> dict[str, inspect.Signature]:
    """A Protocol's methods as the module functions that implement them would be (no `self`)."""
    out: dict[str, inspect.Signature] = {}
    for name, fn in vars(protocol).items():
        if inspect.isfunction(fn) and not name.startswith("_"):
            signature = inspect.signature(fn)
            out[name] = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "self"])
    return out


def _fits(fn: Any, expected: inspect.Signature) -> bool:
    """The expected positional parameters (by count) and keywords (by name); any further parameter optional."""
    if not callable(fn):
        return False
    got = list(inspect.signature(fn).parameters.values())
    want = list(expected.parameters.values())
    count = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in want)
    keywords = {p.name for p in want if p.kind is p.KEYWORD_ONLY}
    positional = [p for p in got if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    extra = positional[count:] + [p for p in got if p.kind is p.KEYWORD_ONLY and p.name not in keywords]
    enough = len(positional) >= count or any(p.kind is p.VAR_POSITIONAL for p in got)
    named = keywords <= {p.name for p in got if p.kind is not p.POSITIONAL_ONLY} or any(
        p.kind is p.VAR_KEYWORD for p in got)
    return enough and named and all(p.default is not p.empty for p in extra)


def _check(module: ModuleType, ability: str, protocol: type, declared: bool) -> None:
    for name, signature in _methods(protocol).items():
        fn = vars(module).get(name)
        if fn is None:
            if declared:
                raise ConverterDeclarationError(f"{module.__name__} declares {ability} but has no {name}()")
            continue
        if not declared:
            raise ConverterDeclarationError(f"{module.__name__} has {name}() but does not declare {ability}")
        if not _fits(fn, signature):
            got = inspect.signature(fn) if callable(fn) else f" = {fn!r}"
            raise ConverterDeclarationError(f"{module.__name__}.{name}{got} does not fit the {ability} ability "
                                            f"{name}{signature}")


def _check_request_aware(module: ModuleType, declared: bool) -> None:
    """Answer converters taking `request` must say so (and then take it in both)."""
    for name, signature in _methods(RequestAwareAnswers).items():
        takes = "request" in inspect.signature(vars(module)[name]).parameters
        if declared and not _fits(vars(module)[name], signature):
            raise ConverterDeclarationError(f"{module.__name__} declares answers_need_request but {name}() does "
                                            f"not take request=")
        if takes and not declared:
            raise ConverterDeclarationError(f"{module.__name__}.{name}() takes request= but the module does not "
                                            f"declare answers_need_request")


def converters_from(module: ModuleType) -> Converters:
    """A provider module's Converters, after checking its `PROVIDES` against what it implements."""
    provides = vars(module).get("PROVIDES")
    if not isinstance(provides, Provides):
        raise ConverterDeclarationError(f"{module.__name__} has no PROVIDES = Provides(...) declaration")
    for ability, protocol, is_declared in _ABILITIES:
        _check(module, ability, protocol, is_declared(provides))
    _check_request_aware(module, provides.answers_need_request)
    return Converters(
        api_style=module.__name__.rsplit(".", 1)[-1], provides=provides, chat=cast(ChatConverter, module),
        access_token=cast(AccessTokenStep, module) if provides.access_token else None,
        task=cast(PolledTask, module) if provides.task else None,
        websocket=cast(WebSocketTransport, module) if provides.websocket else None,
        request_aware=cast(RequestAwareAnswers, module) if provides.answers_need_request else None)


def dialect_from(module: ModuleType) -> tuple[str, ClientDialect]:
    """A client dialect module's name and converter, after checking it implements the ClientDialect Protocol."""
    name = vars(module).get("DIALECT")
    if name not in CLIENT_DIALECTS:
        raise ConverterDeclarationError(f"{module.__name__} has DIALECT = {name!r}, not one of "
                                        f"{sorted(CLIENT_DIALECTS)}")
    _check(module, "client dialect", ClientDialect, True)
    return str(name), cast(ClientDialect, module)


CONVERTERS: Mapping[str, Converters] = {c.api_style: c for c in map(converters_from, PROVIDERS)}

# client dialect modules (Anthropic Messages, Responses, Gemini → the hub and back); issue #10 lists them here
DIALECT_MODULES: tuple[ModuleType, ...] = (anthropic_client, gemini_client, responses_client)
DIALECTS: Mapping[str, ClientDialect] = dict(map(dialect_from, DIALECT_MODULES))


def converters_for(api_style: str) -> Converters | None:
    """The converter of a channel's api_style; None for styles served without one (openai, azure, proxy)."""
    return CONVERTERS.get(api_style)
