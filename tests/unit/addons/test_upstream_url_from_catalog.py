"""The relay's upstream URL quirks come from rules/channel_types.toml (base_path_strips, Azure's default version)."""

from __future__ import annotations

import pytest

from proxy.addons.mapping import ModelMapping
from proxy.addons.openai_upstream import OpenAIUpstream
from rules import load_catalog
from tests.unit.addons.fakes import channel, make_flow

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def _url(channel_type: int, base: str, other: str = "") -> str:
    flow = make_flow(body=CHAT, requested_model="gpt-4o-mini", mode="chat", relay_path="/v1/chat/completions")
    flow.state.body = dict(CHAT)
    flow.state.channel = channel(type=channel_type, base_url=base, other=other)
    ModelMapping().rewrite(flow)
    OpenAIUpstream(load_catalog(), 0, False).rewrite(flow)
    return flow.upstream.url


@pytest.mark.parametrize(("channel_type", "base", "url"), [
    # OpenAI behind a Cloudflare AI Gateway: the gateway URL carries the version, so "/v1" is dropped
    (1, "https://gateway.ai.cloudflare.com/v1/acct/gw/openai",
     "https://gateway.ai.cloudflare.com/v1/acct/gw/openai/chat/completions"),
    (1, "https://api.openai.com", "https://api.openai.com/v1/chat/completions"),
    # only type 1 has that strip: another OpenAI-compatible type keeps the path
    (2, "https://gateway.ai.cloudflare.com/x", "https://gateway.ai.cloudflare.com/x/v1/chat/completions"),
])
async def test_cloudflare_gateway_strip_is_data(channel_type: int, base: str, url: str) -> None:
    assert await _url(channel_type, base) == url


async def test_azure_without_a_version_uses_the_catalogs_fallback() -> None:
    assert await _url(3, "https://r.openai.azure.com") == \
        "https://r.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-03-01-preview"
    assert (await _url(3, "https://r.openai.azure.com", other="2025-01-01")).endswith("?api-version=2025-01-01")


async def test_azure_behind_a_cloudflare_gateway_drops_the_deployments_prefix() -> None:
    assert await _url(3, "https://gateway.ai.cloudflare.com/v1/acct/gw/azure-openai/res") == (
        "https://gateway.ai.cloudflare.com/v1/acct/gw/azure-openai/res/gpt-4o-mini/chat/completions"
        "?api-version=2024-03-01-preview")
