"""Each provider family end to end: the gateway in front of a local server speaking the provider's
wire format (replaying the reference vectors), the answer and the billed usage checked."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
import openai
import orjson
import pytest

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, logs
from tests.e2e.vector_upstream import VectorUpstream
from tests.unit.converters.vectors import assert_stream, assert_subset, load

# (vectors file, case, channel type, channel key, channel config, stream format)
CASES = [
    ("anthropic", "chat_basic", 14, "sk-ant-test", {}, "sse"),
    ("anthropic", "tools_images_cache_usage", 14, "sk-ant-test", {}, "sse"),
    ("anthropic", "stream_text_with_usage", 14, "sk-ant-test", {}, "sse"),
    ("anthropic", "stream_tool_use", 14, "sk-ant-test", {}, "sse"),
    ("gemini", "chat_basic", 24, "gemini-key", {}, "sse"),
    ("gemini", "tools_roundtrip", 24, "gemini-key", {}, "sse"),
    ("gemini", "stream_sse", 24, "gemini-key", {}, "sse"),
    ("gemini", "embeddings_batch", 24, "gemini-key", {}, "sse"),
    ("cohere", "v2_tools", 35, "co-key", {}, "sse"),
    ("cohere", "v2_stream_sse", 35, "co-key", {}, "sse"),
    ("ollama", "tools", 30, "", {}, "ndjson"),
    ("ollama", "stream_ndjson", 30, "", {}, "ndjson"),
    ("ollama", "embed", 30, "", {}, "ndjson"),
    ("cloudflare", "openai_compatible_chat", 37, "cf-key", {"user_id": "023e105f4ecef8ad9ca31a8372d0c353"}, "sse"),
    ("coze", "v3_stream", 34, "coze-key", {}, "sse"),
    ("deepl", "translate_zh", 38, "deepl-key:fx", {}, "sse"),
    ("palm", "chat", 11, "palm-key", {}, "sse"),
]


def _endpoint(request: dict[str, Any]) -> str:
    if "input" in request and "messages" not in request:
        return "/v1/embeddings"
    return "/v1/chat/completions"


@pytest.mark.parametrize("provider, case_name, ctype, key, config, fmt", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
async def test_provider_through_the_gateway(gateway: Gateway, db: Database, provider: str, case_name: str, ctype: int,
                                            key: str, config: dict[str, str], fmt: str) -> None:
    case = load(provider)["cases"][case_name]
    request = case["openai_request"]
    upstream = await VectorUpstream(case, fmt).start()
    try:
        acct = await add_account(db)
        await add_channel(db, base_url=upstream.url, type=ctype, key=key, models=request["model"],
                          config=orjson.dumps(config).decode() if config else "")
        await gateway.reload()
        async with aiohttp.ClientSession() as http, http.post(gateway.url + _endpoint(request), json=request,
                                                              headers={"Authorization": "Bearer " + acct.key}) as resp:
            body = await resp.read()
            assert resp.status == 200, body
        if "expected_openai_stream" in case:
            assert_stream(case["expected_openai_stream"], [body], case.get("optional_trailing_done", False))
        else:
            assert_subset(case["expected_openai_response"], orjson.loads(body))
        want = _expected_usage(case)
        await gateway.flush()
        [row] = await logs(db)
        if want is not None and isinstance(want.get("prompt_tokens"), int):
            assert (row.prompt_tokens, row.completion_tokens) == (want["prompt_tokens"], want.get("completion_tokens", 0))
            assert row.usage_source == "upstream"
        assert row.quota > 0 or row.model_name.startswith(("llama", "all-minilm"))   # Ollama is priced 0
        expected_url = (case.get("upstream_request") or {}).get("url")
        if expected_url:
            assert upstream.requests[0].path == urlsplit(expected_url).path
    finally:
        await upstream.close()


def _expected_usage(case: dict[str, Any]) -> dict[str, int] | None:
    if "expected_openai_response" in case:
        return case["expected_openai_response"].get("usage")
    for chunk in reversed(case.get("expected_openai_stream", [])):
        if isinstance(chunk, dict) and chunk.get("usage"):
            return chunk["usage"]
    return None


async def test_anthropic_stream_with_the_openai_sdk(gateway: Gateway, db: Database) -> None:
    case = load("anthropic")["cases"]["stream_text_with_usage"]
    upstream = await VectorUpstream(case).start()
    try:
        acct = await add_account(db)
        await add_channel(db, base_url=upstream.url, type=14, key="sk-ant-test", models="claude-3-5-haiku-20241022")
        await gateway.reload()
        client = openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
        stream = await client.chat.completions.create(model="claude-3-5-haiku-20241022", stream=True,
                                                      messages=[{"role": "user", "content": "Say hello"}],
                                                      max_tokens=32, stream_options={"include_usage": True})
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            usage = chunk.usage or usage
        assert text == "Hello!"
        assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (12, 6)
        sent = upstream.requests[0]
        assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == "sk-ant-test"
        assert "authorization" not in {k.lower() for k in sent.headers}
    finally:
        await upstream.close()
