"""The Anthropic client's Bedrock and Vertex envelopes: the request built, Bedrock's event-stream read back as
Anthropic SSE in any split, usage from the invocation metrics, an exception frame as an `error` event."""

from __future__ import annotations

import base64

import orjson

from proxy.converters.base import ConvertContext
from proxy.converters.dialects.anthropic_envelope import BedrockEvents, bedrock_request
from proxy.converters.dialects.envelopes import envelope_of
from proxy.converters.eventstream import encode_message

EVENTS = [{"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 3, "output_tokens": 1}}},
          {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "h\u00e9"}},
          {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
              "inputTokenCount": 3, "outputTokenCount": 9, "cacheReadInputTokenCount": 10}}]
HEADERS = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
FRAMES = b"".join(encode_message(HEADERS, orjson.dumps({"bytes": base64.b64encode(orjson.dumps(e)).decode()}))
                  for e in EVENTS)


def test_which_channels_have_an_envelope() -> None:
    assert envelope_of("anthropic", "aws", "claude-sonnet-4-5") == "bedrock"
    assert envelope_of("anthropic", "aws", "us.anthropic.claude-sonnet-4-5-20250929-v1:0") == "bedrock"
    assert envelope_of("anthropic", "vertexai", "claude-sonnet-4-5@20250929") == "vertex-claude"
    assert envelope_of("gemini", "vertexai", "gemini-2.5-pro", "streamGenerateContent") == "vertex-gemini"
    assert envelope_of("gemini", "vertexai", "gemini-embedding-001", "embedContent") == ""   # :predict, the hub's
    assert envelope_of("anthropic", "vertexai", "gemini-2.5-pro") == envelope_of("anthropic", "openai", "c") == ""
    assert envelope_of("responses", "aws", "claude-sonnet-4-5") == ""


def test_bedrock_request_moves_model_stream_and_beta() -> None:
    ctx = ConvertContext(mode="chat", model="claude-sonnet-4-5-20250929", base_url="http://127.0.0.1:9",
                         key="AK|SK|us-east-1", stream=True, now=1.7e9)
    call = bedrock_request({"model": "x", "stream": True, "max_tokens": 5, "messages": []}, ctx, "a-1, b-2")
    assert call.url == "http://127.0.0.1:9/model/anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream"
    assert orjson.loads(call.body) == {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": [],
                                       "anthropic_beta": ["a-1", "b-2"]}
    assert call.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AK/")


def test_bedrock_frames_become_anthropic_sse_in_any_split() -> None:
    expected = b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), orjson.dumps(e)) for e in EVENTS)
    for size in (1, 5, 29, len(FRAMES)):
        events = BedrockEvents()
        out = b"".join(o for i in range(0, len(FRAMES), size) for o in events.feed(FRAMES[i:i + size]))
        assert out + b"".join(events.flush()) == expected
        assert (events.usage.prompt_tokens, events.usage.completion_tokens) == (13, 9) and events.error is None


def test_an_exception_frame_is_an_error_event_and_the_end() -> None:
    events = BedrockEvents()
    exception = encode_message({":exception-type": "throttlingException", ":content-type": "application/json",
                                ":message-type": "exception"}, b'{"message":"slow down"}')
    out = events.feed(exception + FRAMES)
    assert len(out) == 1 and out[0].startswith(b"event: error\ndata: ")
    body = orjson.loads(out[0].split(b"data: ", 1)[1])
    assert body == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    assert events.error is not None and events.error.status == 429 and events.feed(FRAMES) == []
    truncated = BedrockEvents()
    truncated.feed(FRAMES[:10])
    assert truncated.flush()[0].startswith(b"event: error")
