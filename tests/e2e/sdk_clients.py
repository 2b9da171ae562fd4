"""The official SDKs' clients pointed at a test's gateway, closed by the e2e conftest while the test's event loop
still runs (a client collected after its loop closed warns or fails). Each SDK is imported when first asked for,
so a test that uses none does not pay for loading it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tests.e2e.harness import Gateway

if TYPE_CHECKING:
    import anthropic
    import openai
    from google import genai

_CLOSERS: list[Callable[[], Awaitable[None]]] = []


def openai_client(gateway: Gateway, key: str) -> openai.AsyncOpenAI:
    import openai

    client = openai.AsyncOpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0)
    _CLOSERS.append(client.close)
    return client


def anthropic_client(gateway: Gateway, key: str, *, bearer: bool = False) -> anthropic.AsyncAnthropic:
    """`bearer`: the key sent as `Authorization: Bearer` (auth_token) rather than `x-api-key`."""
    import anthropic

    auth = {"auth_token": key} if bearer else {"api_key": key}
    client = anthropic.AsyncAnthropic(**auth, base_url=gateway.url, max_retries=0)  # type: ignore[arg-type]
    _CLOSERS.append(client.close)
    return client


def genai_client(gateway: Gateway, key: str, *, api_version: str = "v1beta") -> genai.Client:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gateway.url, api_version=api_version))
    _CLOSERS.append(client.aio.aclose)
    return client


async def close_opened() -> None:
    """Close every client opened since the last call, newest first."""
    while _CLOSERS:
        await _CLOSERS.pop()()


__all__ = ["anthropic_client", "close_opened", "genai_client", "openai_client"]
