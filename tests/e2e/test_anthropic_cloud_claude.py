"""An Anthropic client on Claude behind AWS Bedrock (type 33) and Vertex AI (type 42): the `anthropic` SDK's
Messages body reaches the cloud in its envelope (Bedrock's invoke with SigV4, Vertex's rawPredict with an OAuth
token), not through the hub: thinking signatures, cache_control and tools arrive as sent; Bedrock's event-stream
comes back as Anthropic's SSE; billing reads the usage with its cache tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

import anthropic
import orjson
import pytest
from aiohttp import web

from proxy.converters.eventstream import encode_message
from store import Database
from tests.e2e.harness import Account, Gateway, add_account, add_channel, balances, logs
from tests.e2e.mock_providers import ProviderMock, check_sigv4, json_response, send_stream
from tests.e2e.mock_upstream import Recorded
from tests.e2e.vertex_account import REGION_CONFIG, service_account, token_endpoint
from tests.e2e.weather_upstream import ANTHROPIC_TOOL as TOOL
from tests.e2e.weather_upstream import ASK

AK, SK, REGION = "AKIDLOCALTEST", "local/test+secret", "us-east-1"
BEDROCK_MODEL = "claude-sonnet-4-5-20250929"
BEDROCK_ID = "anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_MODEL = "claude-sonnet-4-5@20250929"
VERTEX_PATH = f"/v1/projects/my-project/locations/us-central1/publishers/anthropic/models/{VERTEX_MODEL}"
SYSTEM = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
BETA = "interleaved-thinking-2025-05-14"
USAGE = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20}
THINKING = {"type": "thinking", "thinking": "Look it up.", "signature": "EqQBCkYIBxgCKkD=="}
CALL = {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}


def _answer(model: str, turn_two: bool) -> dict[str, Any]:
    content = [{"type": "text", "text": "Sunny, 21 C."}] if turn_two else [THINKING, CALL]
    return {"id": "msg_01", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "end_turn" if turn_two else "tool_use", "stop_sequence": None, "usage": USAGE}


def _events(model: str, turn_two: bool) -> list[dict[str, Any]]:
    """The answer as Anthropic's stream events."""
    events: list[dict[str, Any]] = [{"type": "message_start", "message": {
        **_answer(model, turn_two), "content": [], "stop_reason": None, "usage": {**USAGE, "output_tokens": 1}}}]
    if turn_two:
        events += [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                   {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Sunny, "}},
                   {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "21 C."}},
                   {"type": "content_block_stop", "index": 0}]
    else:
        events += [{"type": "content_block_start", "index": 0,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
                   {"type": "content_block_delta", "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": THINKING["thinking"]}},
                   {"type": "content_block_delta", "index": 0,
                    "delta": {"type": "signature_delta", "signature": THINKING["signature"]}},
                   {"type": "content_block_stop", "index": 0},
                   {"type": "content_block_start", "index": 1,
                    "content_block": {**CALL, "input": {}}},
                   {"type": "content_block_delta", "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": '{"city": '}},
                   {"type": "content_block_delta", "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}},
                   {"type": "content_block_stop", "index": 1}]
    events += [{"type": "message_delta", "delta": {"stop_reason": "end_turn" if turn_two else "tool_use",
                                                   "stop_sequence": None}, "usage": {"output_tokens": 7}},
               {"type": "message_stop"}]
    return events


def _bedrock_frames(events: list[dict[str, Any]]) -> bytes:
    """Bedrock's invoke-with-response-stream: each event base64 in a `chunk` frame, metrics on the last one."""
    metrics = {"inputTokenCount": 10, "outputTokenCount": 7, "cacheReadInputTokenCount": 100,
               "cacheWriteInputTokenCount": 20, "invocationLatency": 12, "firstByteLatency": 5}
    out = b""
    for event in events:
        if event["type"] == "message_stop":
            event = {**event, "amazon-bedrock-invocationMetrics": metrics}
        payload = orjson.dumps({"bytes": base64.b64encode(orjson.dumps(event)).decode(), "p": "abcd"})
        out += encode_message({":event-type": "chunk", ":content-type": "application/json",
                               ":message-type": "event"}, payload)
    return out


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), orjson.dumps(e)) for e in events)


def _second_turn(first: anthropic.types.Message) -> list[dict[str, Any]]:
    return [*ASK, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny, 21"}]}]


async def _round_trip(client: anthropic.AsyncAnthropic, model: str, stream: bool) -> list[anthropic.types.Message]:
    """The tool round trip Claude Code makes: the answer's thinking and tool_use go back with the tool's result."""
    args: dict[str, Any] = {"model": model, "max_tokens": 4096, "system": SYSTEM, "tools": [TOOL],
                            "thinking": {"type": "enabled", "budget_tokens": 2048}, "extra_headers": {
                                "anthropic-beta": BETA}}
    answers = []
    for messages in (ASK, None):
        messages = messages or _second_turn(answers[0])
        if stream:
            async with client.messages.stream(messages=messages, **args) as events:  # type: ignore[arg-type]
                answers.append(await events.get_final_message())
        else:
            answers.append(await client.messages.create(messages=messages, **args))  # type: ignore[arg-type]
    return answers


async def _round_trip_on(gateway: Gateway, db: Database, mock: ProviderMock, stream: bool, model: str,
                         **channel: Any) -> tuple[Account, dict[str, Any], list[anthropic.types.Message]]:
    """A new account, a channel serving `claude-x` as the cloud's `model` (`channel`: its type, key, config),
    then the round trip; the account, its balances before and the two answers."""
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, models="claude-x",
                      model_mapping=orjson.dumps({"claude-x": model}).decode(), **channel)
    await gateway.reload()
    before = await balances(db, acct)
    async with anthropic.AsyncAnthropic(api_key=acct.key, base_url=gateway.url, max_retries=0) as client:
        answers = await _round_trip(client, "claude-x", stream)
    return acct, before, answers


def _check_answers(answers: list[anthropic.types.Message]) -> None:
    first, second = answers
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert first.content[0].signature == THINKING["signature"]  # type: ignore[union-attr]
    assert first.content[1].input == {"city": "Paris"}  # type: ignore[union-attr]
    assert second.content[0].text == "Sunny, 21 C."  # type: ignore[union-attr]
    assert second.usage.cache_read_input_tokens == 100


def _check_envelope(got: dict[str, Any], turn: int) -> None:
    """What any envelope carries: the client's fields as sent (thinking signature, cache_control, tools)."""
    assert got["system"] == SYSTEM and got["tools"] == [TOOL] and got["max_tokens"] == 4096
    assert got["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    if turn == 1:
        assert got["messages"][1]["content"][0] == THINKING
        assert got["messages"][2]["content"][0]["tool_use_id"] == "toolu_01"


async def _billed(gateway: Gateway, db: Database, acct: Account, before: dict[str, Any], model: str,
                  completion: int) -> None:
    await gateway.flush()
    rows = await logs(db)
    assert [(r.model_name, r.usage_source, r.prompt_tokens, r.completion_tokens) for r in rows] == [
        (model, "upstream", 130, completion)] * 2   # cache reads and writes counted with the prompt
    after = await balances(db, acct)
    assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows) > 0


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "event-stream"])
async def test_bedrock_claude_gets_the_messages_body_in_its_envelope(gateway: Gateway, db: Database,
                                                                     mock: ProviderMock, stream: bool) -> None:
    received: list[dict[str, Any]] = []

    async def invoke(request: web.Request, rec: Recorded) -> web.StreamResponse:
        check_sigv4(rec, AK, SK, REGION, "bedrock")
        got = rec.json()
        received.append(got)
        turn_two = len(received) == 2
        if stream:
            return await send_stream(request, _bedrock_frames(_events(BEDROCK_ID, turn_two)),
                                     "application/vnd.amazon.eventstream", piece=29)
        return json_response(_answer(BEDROCK_ID, turn_two))

    action = "invoke-with-response-stream" if stream else "invoke"
    mock.route("POST", f"/model/{BEDROCK_ID}/{action}", invoke)
    acct, before, answers = await _round_trip_on(gateway, db, mock, stream, BEDROCK_MODEL, type=33,
                                                 key=f"{AK}|{SK}|{REGION}")
    assert not mock.failures
    _check_answers(answers)
    for turn, got in enumerate(received):
        _check_envelope(got, turn)
        assert got["anthropic_version"] == "bedrock-2023-05-31" and got["anthropic_beta"] == [BETA]
        assert "model" not in got and "stream" not in got
    await _billed(gateway, db, acct, before, BEDROCK_MODEL, 7 if stream else 5)


async def test_a_bedrock_exception_mid_stream_is_an_anthropic_error_event(gateway: Gateway, db: Database,
                                                                          mock: ProviderMock) -> None:
    async def invoke(request: web.Request, rec: Recorded) -> web.StreamResponse:
        frames = _bedrock_frames(_events(BEDROCK_ID, True)[:2]) + encode_message(
            {":exception-type": "throttlingException", ":content-type": "application/json",
             ":message-type": "exception"}, b'{"message":"Too many requests, please wait."}')
        return await send_stream(request, frames, "application/vnd.amazon.eventstream")

    mock.route("POST", f"/model/{BEDROCK_ID}/invoke-with-response-stream", invoke)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=33, key=f"{AK}|{SK}|{REGION}", models=BEDROCK_MODEL)
    await gateway.reload()
    async with anthropic.AsyncAnthropic(api_key=acct.key, base_url=gateway.url, max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError) as failed:
            async with client.messages.stream(model=BEDROCK_MODEL, max_tokens=64, messages=ASK) as events:  # type: ignore[arg-type]
                await events.get_final_message()
    assert "Too many requests" in str(failed.value)


@pytest.fixture(scope="module")
def vertex_key() -> dict[str, str]:
    return service_account()


@pytest.mark.parametrize("stream", [False, True], ids=["rawPredict", "streamRawPredict"])
async def test_vertex_claude_gets_the_messages_body_in_its_envelope(gateway: Gateway, db: Database,
                                                                    mock: ProviderMock, stream: bool,
                                                                    vertex_key: dict[str, str]) -> None:
    received: list[dict[str, Any]] = []

    async def predict(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.headers["Authorization"] == "Bearer ya29.local" and rec.headers["anthropic-beta"] == BETA
        got = rec.json()
        received.append(got)
        turn_two = len(received) == 2
        if stream:
            return await send_stream(request, _sse(_events(VERTEX_MODEL, turn_two)), "text/event-stream")
        return json_response(_answer(VERTEX_MODEL, turn_two))

    mock.route("POST", "/token", token_endpoint("ya29.local"))
    mock.route("POST", f"{VERTEX_PATH}:{'streamRawPredict' if stream else 'rawPredict'}", predict)
    acct, before, answers = await _round_trip_on(gateway, db, mock, stream, VERTEX_MODEL, type=42,
                                                 key=json.dumps(vertex_key), config=REGION_CONFIG)
    assert not mock.failures
    _check_answers(answers)
    for turn, got in enumerate(received):
        _check_envelope(got, turn)
        assert got["anthropic_version"] == "vertex-2023-10-16" and "model" not in got
        assert got.get("stream", False) is stream
    await _billed(gateway, db, acct, before, VERTEX_MODEL, 7 if stream else 5)
