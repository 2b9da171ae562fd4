"""Gemini client dialect, streams: hub (OpenAI chat) SSE in, Gemini `alt=sse` events out, split at every byte;
compared with the answers Gemini CLI accepted (tests/fixtures/captures) and read by google-genai's own stream
parser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.converters.base import Usage
from proxy.converters.chunks import ChunkWriter
from proxy.converters.dialects.gemini_client import stream_from_openai
from tests.unit.converters.dialects.test_gemini_client import SIGNATURE, THINKING, sdk_client

CAPTURES = Path(__file__).parents[3] / "fixtures" / "captures"
USAGE = {"prompt_tokens": 300, "completion_tokens": 30, "total_tokens": 330,
         "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 18}}
GEMINI_USAGE = {"promptTokenCount": 300, "candidatesTokenCount": 12, "totalTokenCount": 330,
                "cachedContentTokenCount": 100, "thoughtsTokenCount": 18}
EVENT = re.compile(rb"data: [^\r\n]+\r\n\r\n")


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, usage: Any = None) -> bytes:
    body: dict[str, Any] = {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1, "model": "gemini-x",
                            "choices": [] if delta is None else [{"index": 0, "delta": delta,
                                                                  "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage
    return b"data: " + orjson.dumps(body) + b"\n\n"


DONE = b"data: [DONE]\n\n"

SAY_HELLO = b"".join([chunk({"role": "assistant", "content": ""}), chunk({"content": "Hello from"}),
                      chunk({"content": " the mock."}), chunk({}, "stop"), chunk(None, usage=USAGE), DONE])

TOOL_CALL = b"".join([
    chunk({"role": "assistant", "content": ""}), chunk({"reasoning_content": "Reading the file."}),
    chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                           "function": {"name": "read_file", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"file_path": "/home/us'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'er/project/secret.txt"}'}}]}),
    chunk({}, "tool_calls"), chunk(None, usage=USAGE), DONE])


def convert(data: bytes, pieces: list[int] | None = None, request: dict[str, Any] | None = None) -> list[bytes]:
    """The converter's output when fed `data` cut at `pieces` (offsets), then flushed."""
    stream = stream_from_openai(request=request)
    out: list[bytes] = []
    start = 0
    for end in [*(pieces or []), len(data)]:
        out += stream.feed(data[start:end])
        start = end
    return out + stream.flush()


def events(out: list[bytes]) -> list[dict[str, Any]]:
    assert all(EVENT.fullmatch(e) for e in out), out   # one-line JSON, CRLF CRLF, no event: lines
    return [orjson.loads(e[len(b"data: "):]) for e in out]


def answer(n: int) -> list[dict[str, Any]]:
    text = (CAPTURES / f"gemini-{n}.answer.txt").read_bytes()
    return [orjson.loads(line[len(b"data: "):]) for line in re.split(rb"\r?\n\r?\n", text) if line.strip()]


def test_text_stream_as_gemini_sends_it() -> None:
    out = convert(SAY_HELLO, request=THINKING)
    assert events(out) == [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello from"}]}, "index": 0}],
         "modelVersion": "gemini-x", "responseId": "chatcmpl-7"},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": " the mock."}]}, "finishReason": "STOP",
                         "index": 0}],
         "usageMetadata": GEMINI_USAGE, "modelVersion": "gemini-x", "responseId": "chatcmpl-7"},
    ]
    # the answer Gemini CLI accepted (gemini-1): same parts, finish and usage figures
    accepted = answer(1)
    assert [e["candidates"][0]["content"] for e in events(out)] == [e["candidates"][0]["content"] for e in accepted]
    assert events(out)[-1]["candidates"][0]["finishReason"] == accepted[-1]["candidates"][0]["finishReason"]
    assert {k: accepted[-1]["usageMetadata"][k] for k in GEMINI_USAGE} == GEMINI_USAGE


def test_tool_call_stream_sends_the_call_whole_with_a_signature() -> None:
    out = events(convert(TOOL_CALL, request=THINKING))
    assert out == [{"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Reading the file.", "thought": True},
        {"functionCall": {"id": "call_1", "name": "read_file", "args": {"file_path": "/home/user/project/secret.txt"}},
         "thoughtSignature": "skip_thought_signature_validator"}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": GEMINI_USAGE, "modelVersion": "gemini-x", "responseId": "chatcmpl-7"}]
    # the answer Gemini CLI accepted (gemini-2) has the same thought, call and finish
    accepted = [p for e in answer(2) for p in e["candidates"][0]["content"]["parts"]]
    got = out[0]["candidates"][0]["content"]["parts"]
    assert got[0] == accepted[0]
    assert got[1]["functionCall"]["args"] == accepted[1]["functionCall"]["args"]
    assert got[1]["functionCall"]["name"] == accepted[1]["functionCall"]["name"]


def test_thoughts_only_when_asked_for() -> None:
    out = events(convert(TOOL_CALL, request={}))
    assert [list(p) for p in out[0]["candidates"][0]["content"]["parts"]] == [["functionCall", "thoughtSignature"]]


SPLIT_CASES = {
    "hello": SAY_HELLO,
    "tool": TOOL_CALL,
    "utf8": b"".join([chunk({"content": "h\u00e9llo \u4e16\u754c "}), chunk({"content": "\U0001f389!"}),
                      chunk({}, "stop"), chunk(None, usage=USAGE), DONE]).replace(b"\n\n", b"\r\n\r\n"),
}


@pytest.mark.parametrize("name", sorted(SPLIT_CASES))
def test_every_split_gives_the_same_events(name: str) -> None:
    data = SPLIT_CASES[name]
    whole = convert(data, request=THINKING)
    assert b"".join(convert(data, list(range(1, len(data))), request=THINKING)) == b"".join(whole)
    for cut in range(1, len(data)):
        assert b"".join(convert(data, [cut], request=THINKING)) == b"".join(whole), cut


def test_split_utf8_survives() -> None:
    data = SPLIT_CASES["utf8"]
    texts = [p["text"] for e in events(convert(data, list(range(1, len(data))))) for p in
             e["candidates"][0]["content"]["parts"]]
    assert "".join(texts) == "h\u00e9llo \u4e16\u754c \U0001f389!"


def test_parallel_calls_and_real_signatures() -> None:
    data = b"".join([
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"},
                               "extra_content": {"google": {"thought_signature": SIGNATURE}}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({}, "tool_calls"), DONE])
    parts = events(convert(data))[-1]["candidates"][0]["content"]["parts"]
    assert parts == [{"functionCall": {"id": "a", "name": "f", "args": {"x": 1}},
                      "thoughtSignature": "skip_thought_signature_validator"},
                     {"functionCall": {"id": "b", "name": "g", "args": {}}, "thoughtSignature": SIGNATURE}]


def test_malformed_call_arguments() -> None:
    data = chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}]}) + DONE
    (final,) = events(convert(data))
    assert final["candidates"][0] == {"content": {"role": "model", "parts": []},
                                      "finishReason": "MALFORMED_FUNCTION_CALL", "index": 0}


@pytest.mark.parametrize(("reason", "expected"), [("length", "MAX_TOKENS"), ("content_filter", "SAFETY"),
                                                  ("stop", "STOP")])
def test_finish_reasons(reason: str, expected: str) -> None:
    out = events(convert(chunk({"content": "x"}) + chunk({}, reason) + DONE))
    assert out[-1]["candidates"][0]["finishReason"] == expected
    assert "usageMetadata" not in out[-1]


def test_a_stream_that_just_ends_still_finishes() -> None:
    """No finish chunk, no [DONE]: Gemini CLI still needs a finishReason."""
    out = events(convert(chunk({"content": "partial"})))
    assert out == [{"candidates": [{"content": {"role": "model", "parts": [{"text": "partial"}]},
                                    "finishReason": "STOP", "index": 0}],
                    "modelVersion": "gemini-x", "responseId": "chatcmpl-7"}]


def test_usage_on_the_finish_chunk_ends_at_once() -> None:
    stream = stream_from_openai()
    out = stream.feed(chunk({"content": "a"}) + chunk({}, "stop", usage=USAGE))
    assert events(out)[-1]["usageMetadata"] == GEMINI_USAGE
    assert stream.feed(DONE) == [] and stream.flush() == []
    assert stream.usage == Usage(prompt_tokens=300, completion_tokens=30, cached_tokens=100, reasoning_tokens=18)
    assert stream.error is None


def test_an_error_mid_stream_ends_with_the_gemini_error_object() -> None:
    stream = stream_from_openai()
    out = stream.feed(chunk({"content": "Hel"}) + chunk({"content": "lo"}))
    out += stream.feed(b'data: {"error":{"message":"upstream overloaded","type":"server_error","code":null}}\n\n')
    out += stream.feed(chunk({"content": "more"}) + DONE) + stream.flush()
    assert events(out[:2]) == [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}],
         "modelVersion": "gemini-x", "responseId": "chatcmpl-7"} for t in ("Hel", "lo")]
    assert out[2:] == [b'{"error":{"code":500,"message":"upstream overloaded","status":"INTERNAL"}}\n']
    assert stream.error is not None and (stream.error.status, stream.error.message) == (500, "upstream overloaded")


def test_a_chunk_writer_stream_converts() -> None:
    """The hub streams every provider converter writes (ChunkWriter) go through."""
    writer = ChunkWriter("gemini-2.5-flash", include_usage=True, id="chatcmpl-w")
    data = b"".join([*writer.reasoning("hmm"), *writer.content("ok"),
                     *writer.tool_call_start("k", "call_w", "f"), *writer.tool_call_arguments("k", '{"a":1}'),
                     *writer.end("stop", Usage(prompt_tokens=3, completion_tokens=4, reasoning_tokens=1))])
    out = events(convert(data, request=THINKING))
    assert [e["candidates"][0]["content"]["parts"] for e in out] == [
        [{"text": "hmm", "thought": True}],
        [{"text": "ok"}, {"functionCall": {"id": "call_w", "name": "f", "args": {"a": 1}},
                          "thoughtSignature": "skip_thought_signature_validator"}]]
    assert out[-1]["candidates"][0]["finishReason"] == "STOP"
    assert out[-1]["usageMetadata"] == {"promptTokenCount": 3, "candidatesTokenCount": 3, "totalTokenCount": 7,
                                        "thoughtsTokenCount": 1}


# ---- google-genai's stream parser reads the converted stream -----------------------------------

def test_google_genai_accumulates_the_converted_stream() -> None:
    body = b"".join(convert(TOOL_CALL, request=THINKING))
    chunks = list(sdk_client(200, body, chunk=7).models.generate_content_stream(model="gemini-x", contents="q"))
    parts = [p for c in chunks for p in c.candidates[0].content.parts]
    assert [(p.thought, p.text) for p in parts if p.text] == [(True, "Reading the file.")]
    (call,) = [p.function_call for p in parts if p.function_call]
    assert (call.id, call.name, call.args) == ("call_1", "read_file", {"file_path": "/home/user/project/secret.txt"})
    assert chunks[-1].candidates[0].finish_reason.value == "STOP"
    assert chunks[-1].usage_metadata.thoughts_token_count == 18

    body = b"".join(convert(SAY_HELLO))
    chunks = list(sdk_client(200, body, chunk=5).models.generate_content_stream(model="gemini-x", contents="q"))
    assert "".join(c.text or "" for c in chunks) == "Hello from the mock."


def test_google_genai_raises_the_error_after_the_text() -> None:
    errors = pytest.importorskip("google.genai.errors")
    data = chunk({"content": "Hel"}) + chunk({"content": "lo"}) + b'data: {"error":{"message":"boom"}}\n\n'
    body = b"".join(convert(data))
    texts: list[str] = []
    with pytest.raises(errors.ServerError) as info:
        for c in sdk_client(200, body, chunk=11).models.generate_content_stream(model="gemini-x", contents="q"):
            texts.append(c.text or "")
    assert texts == ["Hel", "lo"]
    assert (info.value.code, info.value.message) == (500, "boom")
