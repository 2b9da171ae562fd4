"""Every channel family the agent CLIs' tests run against, as one scripted upstream each (responses_upstreams'
wire formats): the channel to create (type, key, model) and the routes its mock serves, each route checking the
channel's credentials as the provider would (SigV4 for Bedrock, recomputed from the bytes received)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from tests.e2e.mock_providers import ProviderMock, check_sigv4
from tests.e2e.mock_upstream import Recorded
from tests.e2e.responses_upstreams import Handler, Script, anthropic_messages, bedrock, gemini, openai_chat

KEY = "sk-channel-key"
BEDROCK_KEY = ("AKIDLOCALTEST", "local/test+secret", "us-east-1")
BEDROCK_MODEL = "claude-sonnet-4-5-20250929"
BEDROCK_ID = "anthropic.claude-sonnet-4-5-20250929-v1:0"   # what the gateway puts in Bedrock's URL for it


@dataclass(frozen=True)
class Family:
    """A channel family: its type, model, key and the mock routes speaking its wire format."""

    type: int
    model: str
    key: str
    routes: Callable[[Script], list[tuple[str, Handler]]]
    header: str | None   # where the channel's key arrives (None: a signature, checked by the route itself)

    def key_arrived(self, rec: Recorded) -> bool:
        """The request carried the channel's key (Bedrock's routes verify their signature themselves)."""
        if self.header is None:
            return "AWS4-HMAC-SHA256 Credential=" + BEDROCK_KEY[0] in rec.headers.get("Authorization", "")
        expected = f"Bearer {self.key}" if self.header == "Authorization" else self.key
        return rec.headers.get(self.header) == expected

    async def start(self, script: Script) -> ProviderMock:
        mock = ProviderMock()
        for path, handler in self.routes(script):
            mock.route("POST", path, handler)
        return await mock.start()


def _signed(handler: Handler) -> Handler:
    """Bedrock's routes: the SigV4 signature verified over what arrived, then the scripted answer."""
    async def handle(request: web.Request, rec: Recorded) -> web.StreamResponse:
        check_sigv4(rec, BEDROCK_KEY[0], BEDROCK_KEY[1], BEDROCK_KEY[2], "bedrock")
        return await handler(request, rec)
    return handle


def _gemini_routes(model: str) -> Callable[[Script], list[tuple[str, Handler]]]:
    return lambda s: [(f"/v1beta/models/{model}:{verb}", gemini(s, model))
                      for verb in ("streamGenerateContent", "generateContent")]


def _bedrock_routes(script: Script) -> list[tuple[str, Handler]]:
    handler = _signed(bedrock(script))
    return [(f"/model/{BEDROCK_ID}/{verb}", handler) for verb in ("invoke-with-response-stream", "invoke")]


FAMILIES: dict[str, Family] = {
    "openai": Family(1, "gpt-4o-mini", KEY, lambda s: [("/v1/chat/completions", openai_chat(s))], "Authorization"),
    "anthropic": Family(14, "claude-sonnet-4-5", KEY, lambda s: [("/v1/messages", anthropic_messages(s))],
                        "x-api-key"),
    "gemini": Family(24, "gemini-2.5-flash", KEY, _gemini_routes("gemini-2.5-flash"), "x-goog-api-key"),
    "bedrock": Family(33, BEDROCK_MODEL, "|".join(BEDROCK_KEY), _bedrock_routes, None),
    "deepseek": Family(36, "deepseek-chat", KEY, lambda s: [("/v1/chat/completions", openai_chat(s))],
                       "Authorization"),
}


__all__ = ["BEDROCK_ID", "BEDROCK_KEY", "BEDROCK_MODEL", "FAMILIES", "KEY", "Family"]
