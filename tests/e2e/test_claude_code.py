"""The real Claude Code CLI (npm `@anthropic-ai/claude-code`) through the gateway, to an OpenAI-compatible channel
(converted), to an Anthropic channel (passed through) and to Claude on AWS Bedrock (in Bedrock's envelope): it
calls its `Read` tool on a file and answers with what the file holds; the upstream received the channel's key and
the tools, and the turns are billed. Skipped when the CLI is not installed (CLAUDE_CODE_BIN, or
`npm install --prefix ~/.cache/one-api/claude-code @anthropic-ai/claude-code`)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from proxy.converters.eventstream import encode_message
from store import Database
from tests.e2e.agent_cli import SECRET, find_cli, run_cli, workspace
from tests.e2e.agent_families import FAMILIES
from tests.e2e.harness import Gateway, account_on, balances, logs
from tests.e2e.mock_providers import ProviderMock, check_sigv4, json_response, send_stream
from tests.e2e.mock_upstream import Recorded
from tests.e2e.responses_upstreams import ANSWER_PREFIX, Script

MODEL = "gpt-4o-mini"


CLAUDE = find_cli("CLAUDE_CODE_BIN", "claude-code", "claude")
pytestmark = pytest.mark.skipif(CLAUDE is None, reason="Claude Code CLI not installed")


def _answer(payload: dict[str, Any], path: str) -> dict[str, Any]:
    """Read the file when the Read tool is offered and no tool result came yet; then say what it holds."""
    messages = payload.get("messages") or []
    results = [m for m in messages if m.get("role") == "tool"]
    names = {t.get("function", {}).get("name") for t in payload.get("tools") or []}
    if results:
        message: dict[str, Any] = {"role": "assistant", "content": "The file says: " + str(results[-1]["content"])}
        finish = "stop"
    elif "Read" in names:
        call = {"id": "call_read_1", "type": "function",
                "function": {"name": "Read", "arguments": orjson.dumps({"file_path": path}).decode()}}
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": "ok"}, "stop"
    return {"id": "chatcmpl-cc", "object": "chat.completion", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}


async def test_claude_code_reads_a_file_through_an_openai_channel(gateway: Gateway, db: Database,
                                                                  tmp_path: Path) -> None:
    assert CLAUDE is not None
    secret_file = workspace(tmp_path) / "notes.txt"

    async def chat(request: web.Request, rec: Recorded) -> web.StreamResponse:
        payload = rec.json()
        answer = _answer(payload, str(secret_file))
        if not payload.get("stream"):
            return json_response(answer)
        return await _as_stream(request, answer)

    mock = await ProviderMock().route("POST", "/v1/chat/completions", chat).start()
    try:
        acct = await account_on(db, gateway, mock.url, key="sk-channel-key", models=MODEL)
        before = await balances(db, acct)
        out, err, code = await _run_claude(gateway, acct.key, MODEL, tmp_path, secret_file.parent)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out, (out, err)
        assert not mock.failures
        assert all(r.headers["Authorization"] == "Bearer sk-channel-key" for r in mock.requests)
        turns = [r.json() for r in mock.requests if any(m.get("role") == "tool" for m in r.json()["messages"])]
        assert turns and SECRET in str(turns[-1]["messages"])   # the tool's result went upstream
        assert turns[-1]["stream"] is True and any(t["function"]["name"] == "Read" for t in turns[-1]["tools"])
        await gateway.flush()
        rows = await logs(db)
        assert len(rows) == len(mock.requests) and all(r.prompt_tokens == 100 for r in rows)
        after = await balances(db, acct)
        assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows) > 0
    finally:
        await mock.close()


async def _as_stream(request: web.Request, answer: dict[str, Any]) -> web.StreamResponse:
    """The same answer as an OpenAI chat stream with a usage chunk."""
    message, finish = answer["choices"][0]["message"], answer["choices"][0]["finish_reason"]
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{"index": 0, **message["tool_calls"][0]}]
    chunks = [{"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
              {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
              {"choices": [], "usage": answer["usage"]}]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for chunk in chunks:
        obj = {"id": "chatcmpl-cc", "object": "chat.completion.chunk", "created": 1, "model": MODEL, **chunk}
        await response.write(b"data: " + orjson.dumps(obj) + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _anthropic_events(payload: dict[str, Any], path: str) -> bytes:
    """Anthropic's own stream: a Read tool_use on the first turn, then text with what the tool returned."""
    last = payload["messages"][-1]["content"]
    results = [b for b in last if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(last, list) \
        else []
    names = {t.get("name") for t in payload.get("tools") or []}
    start = {"type": "message_start", "message": {"id": "msg_cc", "type": "message", "role": "assistant",
                                                  "model": payload["model"], "content": [], "stop_reason": None,
                                                  "usage": {"input_tokens": 90, "output_tokens": 1,
                                                            "cache_read_input_tokens": 10}}}
    if results:
        text = "The file says: " + str(results[-1]["content"])
        block, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": text}
        stop = "end_turn"
    elif "Read" in names:
        block = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}
        delta = {"type": "input_json_delta", "partial_json": orjson.dumps({"file_path": path}).decode()}
        stop = "tool_use"
    else:
        block, delta, stop = {"type": "text", "text": ""}, {"type": "text_delta", "text": "ok"}, "end_turn"
    events = [start, {"type": "content_block_start", "index": 0, "content_block": block},
              {"type": "content_block_delta", "index": 0, "delta": delta},
              {"type": "content_block_stop", "index": 0},
              {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
               "usage": {"output_tokens": 10}},
              {"type": "message_stop"}]
    return b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), orjson.dumps(e)) for e in events)


async def test_claude_code_reads_a_file_through_an_anthropic_channel(gateway: Gateway, db: Database,
                                                                     tmp_path: Path) -> None:
    """Same dialect: Claude Code's requests reach the Anthropic channel as it sent them (its betas, its thinking
    and cache fields), with the channel's key; billed from Anthropic's usage (cache reads as prompt)."""
    assert CLAUDE is not None
    secret_file = workspace(tmp_path) / "notes.txt"

    async def messages(request: web.Request, rec: Recorded) -> web.StreamResponse:
        payload = rec.json()
        data = _anthropic_events(payload, str(secret_file))
        if payload.get("stream"):
            return await send_stream(request, data, "text/event-stream")
        return json_response({"type": "error", "error": {"type": "invalid_request_error", "message": "stream only"}},
                             400)

    mock = await ProviderMock().route("POST", "/v1/messages", messages).start()
    try:
        acct = await account_on(db, gateway, mock.url, type=14, key="sk-ant-channel", models="claude-sonnet-4-5")
        out, err, code = await _run_claude(gateway, acct.key, "claude-sonnet-4-5", tmp_path, secret_file.parent)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out, (out, err)
        assert not mock.failures
        assert all(r.headers["x-api-key"] == "sk-ant-channel" and "Authorization" not in r.headers
                   for r in mock.requests)
        assert all("claude-code" in r.headers.get("anthropic-beta", "") for r in mock.requests)
        assert any(r.query == "beta=true" for r in mock.requests)
        await gateway.flush()
        rows = await logs(db)
        assert len(rows) == len(mock.requests) and all(
            (r.prompt_tokens, r.completion_tokens) == (100, 10) for r in rows)
    finally:
        await mock.close()


async def _run_claude(gateway: Gateway, key: str, model: str, tmp_path: Path, cwd: Path) -> tuple[str, bytes, int]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "ANTHROPIC_BASE_URL": gateway.url,
           "ANTHROPIC_API_KEY": key, "ANTHROPIC_MODEL": model, "ANTHROPIC_SMALL_FAST_MODEL": model,
           "ANTHROPIC_DEFAULT_HAIKU_MODEL": model, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1"}
    assert CLAUDE is not None
    return await run_cli([CLAUDE, "-p", "What does notes.txt say? Use the Read tool.", "--allowedTools", "Read"],
                         cwd, env, 90)


def _bedrock_frames(sse: bytes) -> bytes:
    """Anthropic's stream in Bedrock's invoke-with-response-stream framing: each event base64 in a chunk frame."""
    frames = b""
    for block in sse.split(b"\n\n"):
        data = next((line[6:] for line in block.split(b"\n") if line.startswith(b"data: ")), None)
        if data is not None:
            payload = orjson.dumps({"bytes": base64.b64encode(data).decode()})
            frames += encode_message({":event-type": "chunk", ":content-type": "application/json",
                                      ":message-type": "event"}, payload)
    return frames


async def test_claude_code_reads_a_file_through_bedrock_claude(gateway: Gateway, db: Database,
                                                               tmp_path: Path) -> None:
    """Claude on AWS Bedrock: Claude Code's Messages body in Bedrock's envelope (SigV4-signed, model in the URL,
    its betas as `anthropic_beta`), the event-stream back as the Anthropic SSE the CLI reads; billed."""
    assert CLAUDE is not None
    secret_file = workspace(tmp_path) / "notes.txt"
    model_id = "anthropic.claude-sonnet-4-5-20250929-v1:0"

    async def invoke(request: web.Request, rec: Recorded) -> web.StreamResponse:
        check_sigv4(rec, "AKIDLOCALTEST", "local/test+secret", "us-east-1", "bedrock")
        payload = rec.json()
        assert "model" not in payload and "stream" not in payload
        assert payload["anthropic_version"] == "bedrock-2023-05-31"
        frames = _bedrock_frames(_anthropic_events({**payload, "model": model_id}, str(secret_file)))
        return await send_stream(request, frames, "application/vnd.amazon.eventstream", piece=61)

    async def whole(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return json_response({"id": "msg_w", "type": "message", "role": "assistant", "model": model_id,
                              "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                              "usage": {"input_tokens": 90, "output_tokens": 10, "cache_read_input_tokens": 10}})

    mock = await ProviderMock().route("POST", f"/model/{model_id}/invoke-with-response-stream", invoke) \
        .route("POST", f"/model/{model_id}/invoke", whole).start()
    try:
        acct = await account_on(db, gateway, mock.url, type=33, key="AKIDLOCALTEST|local/test+secret|us-east-1",
                                models="claude-sonnet-4-5-20250929")
        out, err, code = await _run_claude(gateway, acct.key, "claude-sonnet-4-5-20250929", tmp_path,
                                           secret_file.parent)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out, (out, err)
        assert not mock.failures
        streamed = [r.json() for r in mock.requests if r.path.endswith("-stream")]
        assert any(SECRET in str(p["messages"]) for p in streamed)   # the tool's result went upstream
        assert all(any("claude-code" in b for b in p.get("anthropic_beta", [])) for p in streamed)
        await gateway.flush()
        rows = await logs(db)
        assert len(rows) == len(mock.requests) and all(
            (r.prompt_tokens, r.completion_tokens) == (100, 10) for r in rows)
    finally:
        await mock.close()


@pytest.mark.parametrize("family", ["deepseek", "gemini"])
async def test_claude_code_reads_a_file_through_a_hub_family(gateway: Gateway, db: Database, tmp_path: Path,
                                                             family: str) -> None:
    """A Gemini channel and a China provider (DeepSeek): Claude Code's Read tool converted to the provider's
    declarations, the file's text back as the provider's tool result on the second turn; every turn billed."""
    assert CLAUDE is not None
    fam = FAMILIES[family]
    secret_file = workspace(tmp_path) / "notes.txt"
    script = Script(tool="Read", arguments={"file_path": str(secret_file)}, call_usage=(300, 20),
                    text_usage=(400, 12))
    mock = await fam.start(script)
    try:
        acct = await account_on(db, gateway, mock.url, type=fam.type, key=fam.key, models=fam.model)
        before = await balances(db, acct)
        out, err, code = await _run_claude(gateway, acct.key, fam.model, tmp_path, secret_file.parent)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out and ANSWER_PREFIX in out, (out, err)
        assert not mock.failures
        assert all(fam.key_arrived(r) and acct.key.removeprefix("sk-") not in str(r.headers)
                   for r in mock.requests)
        assert b'"Read"' in mock.requests[-1].body                   # its tools, converted
        assert SECRET in mock.requests[-1].body.decode()              # the tool's result went upstream
        await gateway.flush()
        rows = await logs(db)
        assert len(rows) == len(mock.requests)
        assert {(r.prompt_tokens, r.completion_tokens) for r in rows} <= {(300, 20), (400, 12)}
        assert (rows[-1].prompt_tokens, rows[-1].completion_tokens) == (400, 12)
        after = await balances(db, acct)
        assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows) > 0
    finally:
        await mock.close()
