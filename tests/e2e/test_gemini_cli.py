"""The real Gemini CLI (npm `@google/gemini-cli`) through the gateway, offline: to a Gemini channel (passed through),
a Vertex AI channel (in Vertex's envelope) and an OpenAI-compatible channel (converted through the hub) it calls
its `read_file` tool on a file and answers with what the file holds; the upstream received the channel's key
(never the user's token) and, on the second turn, the tool's result; every turn is logged and billed. Skipped
when the CLI is not installed (GEMINI_CLI_BIN, or `npm install --prefix ~/.cache/one-api/gemini-cli
@google/gemini-cli`, as .ci/run does)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from store import Database
from tests.e2e.agent_cli import OFFLINE, SECRET, find_cli, run_cli, workspace
from tests.e2e.agent_families import FAMILIES
from tests.e2e.harness import Gateway, account_on, balances, logs
from tests.e2e.mock_providers import ProviderMock, json_response, send_stream
from tests.e2e.mock_upstream import Recorded
from tests.e2e.responses_upstreams import ANSWER_PREFIX, Script
from tests.e2e.vertex_account import REGION_CONFIG, service_account, token_endpoint

PROMPT = "Read notes.txt with the read_file tool and tell me what it says."
# what Gemini CLI's settings need to run offline with an API key (captures/README.md), updates and telemetry off
SETTINGS = {"security": {"auth": {"selectedType": "gemini-api-key"}}, "selectedAuthType": "gemini-api-key",
            "privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True}}


GEMINI_CLI = find_cli("GEMINI_CLI_BIN", "gemini-cli", "gemini")
pytestmark = pytest.mark.skipif(GEMINI_CLI is None, reason="Gemini CLI not installed")


# ---------------------------------------------------------------- a Gemini upstream (pass-through)

def _gemini_events(payload: dict[str, Any], path: str, model: str) -> bytes:
    """read_file on the first turn (a thought, then the call with a signature), then the file's text."""
    contents = payload.get("contents") or []
    last = contents[-1].get("parts", []) if contents else []
    results = [p["functionResponse"] for p in last if isinstance(p, dict) and "functionResponse" in p]
    names = {f.get("name") for t in payload.get("tools") or [] for f in t.get("functionDeclarations") or []}
    usage = {"promptTokenCount": 300, "candidatesTokenCount": 12, "totalTokenCount": 330,
             "cachedContentTokenCount": 100, "thoughtsTokenCount": 18}
    if results:
        parts: list[dict[str, Any]] = [{"text": "The file says: " + orjson.dumps(results[-1]["response"]).decode()}]
    elif "read_file" in names:
        parts = [{"functionCall": {"name": "read_file", "args": {"file_path": path}},
                  "thoughtSignature": "c2lnbmF0dXJl"}]
    else:
        parts = [{"text": "ok"}]
    first = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Thinking.", "thought": True}]},
                             "index": 0}], "usageMetadata": {**usage, "candidatesTokenCount": 1},
             "modelVersion": model}
    final = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
             "usageMetadata": usage, "modelVersion": model}
    return b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in (first, final))


async def test_gemini_cli_reads_a_file_through_a_gemini_channel(gateway: Gateway, db: Database,
                                                                tmp_path: Path) -> None:
    model = "gemini-2.5-flash"
    work = workspace(tmp_path)

    async def stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.query == "alt=sse"
        return await send_stream(request, _gemini_events(rec.json(), str(work / "notes.txt"), model),
                                 "text/event-stream")

    mock = await ProviderMock().route("POST", f"/v1beta/models/{model}:streamGenerateContent", stream).start()
    try:
        acct = await account_on(db, gateway, mock.url, type=24, key="gemini-channel-key", models=model)
        before = await balances(db, acct)
        out, err, code = await _run_gemini(gateway, acct.key, model, tmp_path, work)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out, (out, err)
        assert not mock.failures and len(mock.requests) >= 2
        assert all(r.headers["x-goog-api-key"] == "gemini-channel-key" and acct.key not in r.query
                   for r in mock.requests)
        turns = [r.json() for r in mock.requests]
        replies = [p["functionResponse"] for p in turns[-1]["contents"][-1]["parts"] if "functionResponse" in p]
        assert replies and replies[0]["name"] == "read_file" and SECRET in str(replies[0]["response"])
        # the signature went back with the call, as the CLI keeps it (passed through untouched)
        assert any(p.get("thoughtSignature") == "c2lnbmF0dXJl" for c in turns[-1]["contents"] for p in c["parts"])
        await gateway.flush()
        rows = await logs(db)
        assert len(rows) == len(mock.requests)
        assert all((r.prompt_tokens, r.completion_tokens, r.model_name) == (300, 30, model) for r in rows)
        after = await balances(db, acct)
        assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows) > 0
    finally:
        await mock.close()


# ---------------------------------------------------------------- an OpenAI upstream (converted)

def _chat_chunks(payload: dict[str, Any], path: str) -> bytes:
    messages = payload.get("messages") or []
    results = [m for m in messages if m.get("role") == "tool"]
    names = {t.get("function", {}).get("name") for t in payload.get("tools") or []}
    if results and messages[-1].get("role") == "tool":
        delta: dict[str, Any] = {"role": "assistant", "content": "The file says: " + str(results[-1]["content"])}
        finish = "stop"
    elif "read_file" in names:
        call = {"index": 0, "id": "call_read_1", "type": "function",
                "function": {"name": "read_file", "arguments": orjson.dumps({"file_path": path}).decode()}}
        delta, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    else:
        delta, finish = {"role": "assistant", "content": "ok"}, "stop"
    chunks = [{"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
              {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
              {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}]
    body = b"".join(b"data: " + orjson.dumps({"id": "chatcmpl-g", "object": "chat.completion.chunk", "created": 1,
                                              "model": payload.get("model"), **c}) + b"\n\n" for c in chunks)
    return body + b"data: [DONE]\n\n"


async def test_gemini_cli_reads_a_file_through_an_openai_channel(gateway: Gateway, db: Database,
                                                                 tmp_path: Path) -> None:
    model = "gpt-4o-mini"
    work = workspace(tmp_path)

    async def chat(request: web.Request, rec: Recorded) -> web.StreamResponse:
        payload = rec.json()
        assert payload.get("stream") is True
        return await send_stream(request, _chat_chunks(payload, str(work / "notes.txt")), "text/event-stream")

    mock = await ProviderMock().route("POST", "/v1/chat/completions", chat).start()
    try:
        acct = await account_on(db, gateway, mock.url, key="sk-channel-key", models=model)
        before = await balances(db, acct)
        out, err, code = await _run_gemini(gateway, acct.key, model, tmp_path, work)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out, (out, err)
        assert not mock.failures and len(mock.requests) >= 2
        assert all(r.headers["Authorization"] == "Bearer sk-channel-key" for r in mock.requests)
        last = mock.requests[-1].json()
        assert any(t["function"]["name"] == "read_file" for t in last["tools"])   # converted declarations
        assert last["messages"][-1]["role"] == "tool" and SECRET in last["messages"][-1]["content"]
        await gateway.flush()
        rows = await logs(db)
        assert len(rows) == len(mock.requests)
        assert all((r.prompt_tokens, r.completion_tokens) == (100, 10) and r.is_stream for r in rows)
        after = await balances(db, acct)
        assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows) > 0
    finally:
        await mock.close()


# Gemini CLI 0.61.0's default (auto) routing: a non-streamed classifier call on a flash-lite model asking for JSON
# (responseJsonSchema with Gemini's upper-case type names), then the chosen pro or flash model
AUTO_MODELS = ("gemini-3.5-flash-lite", "gemini-3.8-flash", "gemini-3.1-pro-preview", "gemini-3-flash-preview")


async def test_gemini_cli_in_auto_mode_through_an_openai_channel(gateway: Gateway, db: Database,
                                                                 tmp_path: Path) -> None:
    """Without `-m` the CLI's every model is served by one OpenAI channel (mapped): its classifier's JSON schema
    arrives as JSON Schema, and the task is done on the model it picks."""
    work = workspace(tmp_path)
    classified: list[dict[str, Any]] = []

    async def chat(request: web.Request, rec: Recorded) -> web.StreamResponse:
        payload = rec.json()
        if payload.get("response_format"):
            classified.append(payload)
            content = orjson.dumps({"complexity_reasoning": "A small task.", "complexity_score": 5}).decode()
            return json_response({"id": "chatcmpl-c", "object": "chat.completion", "created": 1,
                                  "model": payload["model"], "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                                  "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}})
        return await send_stream(request, _chat_chunks(payload, str(work / "notes.txt")), "text/event-stream")

    mock = await ProviderMock().route("POST", "/v1/chat/completions", chat).start()
    try:
        mapping = orjson.dumps(dict.fromkeys(AUTO_MODELS, "gpt-4o-mini")).decode()
        acct = await account_on(db, gateway, mock.url, key="sk-channel-key", models=",".join(AUTO_MODELS),
                                model_mapping=mapping)
        out, err, code = await _run_gemini(gateway, acct.key, None, tmp_path, work)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out and b"Routing" not in err, (out, err)   # no "[Routing] … failed" fallback
        assert not mock.failures and classified
        schema = classified[0]["response_format"]["json_schema"]["schema"]
        assert schema["type"] == "object" and schema["properties"]["complexity_score"]["type"] == "integer"
        assert all(r.json()["model"] == "gpt-4o-mini" for r in mock.requests)
        await gateway.flush()
        rows = await logs(db)
        assert len(rows) == len(mock.requests) == 3   # classifier, read_file call, answer
        assert all(r.model_name == "gpt-4o-mini" and r.quota > 0 for r in rows)   # logged as the mapped model
    finally:
        await mock.close()


# ---------------------------------------------------------------- running the CLI

async def _run_gemini(gateway: Gateway, key: str, model: str | None, tmp_path: Path,
                      cwd: Path) -> tuple[str, bytes, int]:
    """`model` None: the CLI's default, auto routing (a classifier call picks the model of each prompt)."""
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_bytes(orjson.dumps(SETTINGS))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "GEMINI_API_KEY": key,
           "GOOGLE_GEMINI_BASE_URL": gateway.url, "GEMINI_CLI_TRUST_WORKSPACE": "true", **OFFLINE,
           "NO_BROWSER": "true", "CI": "true"}
    assert GEMINI_CLI is not None
    return await run_cli([GEMINI_CLI, *(("-m", model) if model else ()), "-p", PROMPT], cwd, env,
                         float(os.environ.get("GEMINI_CLI_TIMEOUT", "120")))


# ---------------------------------------------------------------- Vertex AI's Gemini (in Vertex's envelope)

async def test_gemini_cli_reads_a_file_through_vertex_gemini(gateway: Gateway, db: Database, tmp_path: Path) -> None:
    """A Vertex AI channel: the CLI's bodies reach `…/publishers/google/models/{model}:streamGenerateContent`
    as sent, with the channel's OAuth token (exchanged at the channel's base URL); billed from usageMetadata."""
    model = "gemini-2.5-flash"
    work = workspace(tmp_path)
    account = service_account()

    async def stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.query == "alt=sse" and rec.headers["Authorization"] == "Bearer ya29.cli"
        return await send_stream(request, _gemini_events(rec.json(), str(work / "notes.txt"), model),
                                 "text/event-stream")

    path = f"/v1/projects/my-project/locations/us-central1/publishers/google/models/{model}:streamGenerateContent"
    mock = await ProviderMock().route("POST", "/token", token_endpoint("ya29.cli")).route("POST", path, stream).start()
    try:
        acct = await account_on(db, gateway, mock.url, type=42, key=orjson.dumps(account).decode(), models=model,
                                config=REGION_CONFIG)
        out, err, code = await _run_gemini(gateway, acct.key, model, tmp_path, work)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out, (out, err)
        assert not mock.failures
        turns = [r.json() for r in mock.requests if r.path == path]
        assert len(turns) >= 2 and all("x-goog-api-key" not in r.headers for r in mock.requests)
        assert any(p.get("thoughtSignature") == "c2lnbmF0dXJl" for c in turns[-1]["contents"] for p in c["parts"])
        await gateway.flush()
        rows = await logs(db)
        assert len(rows) == len(turns)
        assert all((r.prompt_tokens, r.completion_tokens, r.model_name) == (300, 30, model) for r in rows)
    finally:
        await mock.close()


# ---------------------------------------------------------------- Anthropic, Bedrock Claude, DeepSeek (converted)

@pytest.mark.parametrize("family", ["anthropic", "bedrock", "deepseek"])
async def test_gemini_cli_reads_a_file_through_a_hub_family(gateway: Gateway, db: Database, tmp_path: Path,
                                                            family: str) -> None:
    """An Anthropic, a Bedrock Claude (SigV4, event-stream) and a China provider's (DeepSeek) channel: the CLI's
    function declarations converted, the file's text back as the provider's tool result; every turn billed."""
    fam = FAMILIES[family]
    work = workspace(tmp_path)
    script = Script(tool="read_file", arguments={"file_path": str(work / "notes.txt")}, call_usage=(300, 20),
                    text_usage=(400, 12))
    mock = await fam.start(script)
    try:
        acct = await account_on(db, gateway, mock.url, type=fam.type, key=fam.key, models=fam.model)
        before = await balances(db, acct)
        out, err, code = await _run_gemini(gateway, acct.key, fam.model, tmp_path, work)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out and ANSWER_PREFIX in out, (out, err)
        assert not mock.failures and len(mock.requests) >= 2
        assert all(fam.key_arrived(r) and acct.key.removeprefix("sk-") not in str(r.headers)
                   for r in mock.requests)
        assert all(b'"read_file"' in r.body for r in mock.requests)   # its declarations, converted
        assert SECRET in mock.requests[-1].body.decode() and SECRET not in mock.requests[0].body.decode()
        await gateway.flush()
        rows = await logs(db)
        assert len(rows) == len(mock.requests) and all(r.is_stream for r in rows)
        assert [(r.prompt_tokens, r.completion_tokens) for r in rows][-2:] == [(300, 20), (400, 12)]
        after = await balances(db, acct)
        assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows) > 0
    finally:
        await mock.close()
