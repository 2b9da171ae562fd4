"""The channel test (admin_api.channel_probe) of a channel of each family: its exact request (a chat completion,
pinned to the channel with root's key) through the real gateway to a local upstream speaking the provider's own
wire format, and its answer read as a success, as the probe reads it. Anthropic, Gemini, Bedrock Claude and
Vertex AI Claude channels answer it through the hub like an OpenAI channel."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from admin_api.channel_probe import _read_reply
from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel
from tests.e2e.mock_providers import Handler, ProviderMock, check_sigv4, json_response
from tests.e2e.mock_upstream import Recorded
from tests.e2e.vertex_account import service_account

CLAUDE_ANSWER = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn",
                 "content": [{"type": "text", "text": "I am Claude."}], "usage": {"input_tokens": 5, "output_tokens": 4}}
GEMINI_ANSWER = {"candidates": [{"content": {"role": "model", "parts": [{"text": "I am Gemini."}]},
                                 "finishReason": "STOP", "index": 0}],
                 "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 4, "totalTokenCount": 9}}
AK, SK, REGION = "AKIDLOCALTEST", "local/test+secret", "us-east-1"


def _answering(obj: dict[str, Any], check: Callable[[Recorded], None] = lambda rec: None) -> Handler:
    async def handler(request: web.Request, rec: Recorded) -> web.StreamResponse:
        check(rec)
        return json_response(obj)
    return handler


def _bedrock_signed(rec: Recorded) -> None:
    check_sigv4(rec, AK, SK, REGION, "bedrock")


# type, model, key, config, {path: handler}
FAMILIES: list[tuple[int, str, str, str, dict[str, Handler]]] = [
    (1, "gpt-4o-mini", "sk-up", "", {"/v1/chat/completions": _answering({
        "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "I am GPT."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}})}),
    (14, "claude-sonnet-4-5", "sk-ant", "", {"/v1/messages": _answering(CLAUDE_ANSWER)}),
    (24, "gemini-2.5-flash", "gm-key", "", {"/v1beta/models/gemini-2.5-flash:generateContent":
                                            _answering(GEMINI_ANSWER)}),
    (33, "claude-3-5-haiku-20241022", f"{AK}|{SK}|{REGION}", "", {
        "/model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke": _answering(CLAUDE_ANSWER, _bedrock_signed)}),
    (42, "claude-sonnet-4-5@20250929", "<sa>", '{"region": "us-central1"}', {
        "/token": _answering({"access_token": "ya29.t", "expires_in": 3599, "token_type": "Bearer"}),
        "/v1/projects/my-project/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5@20250929"
        ":rawPredict": _answering(CLAUDE_ANSWER)}),
]


@pytest.mark.parametrize("family", FAMILIES, ids=[str(f[0]) for f in FAMILIES])
async def test_a_channel_of_each_family_answers_the_channel_test(
        gateway: Gateway, db: Database, mock: ProviderMock, family: tuple[int, str, str, str, dict[str, Handler]]
        ) -> None:
    ctype, model, key, config, routes = family
    for path, handler in routes.items():
        mock.route("POST", path, handler)
    root = await add_account(db, role=100, username="root")
    channel_id = await add_channel(db, base_url=mock.url, type=ctype, models=model, config=config,
                                   key=json.dumps(service_account()) if key == "<sa>" else key)
    await gateway.reload()
    body = {"model": model, "messages": [{"role": "user", "content": "Output only your specific model name."}],
            "stream": False}   # what the probe sends (admin_api.channel_probe._send)
    headers = {"Authorization": f"Bearer {root.key}-{channel_id}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(f"{gateway.url}/v1/chat/completions",
                                                          data=orjson.dumps(body), headers=headers) as r:
        reply, problem, _ = _read_reply(r.status, await r.read())
    assert not mock.failures
    assert reply is not None and reply.startswith("I am "), problem
    assert mock.requests[-1].path in routes

