"""The usage reader of a passed-through Responses answer: bytes out as they came in, the terminal event's usage
(cached and reasoning tokens included) and a failure read in any split."""

from __future__ import annotations

import orjson

from proxy.converters.base import Usage
from proxy.converters.dialects.responses_passthrough import ResponsesUsageReader, answer_usage, usage_from_responses

USAGE = {"input_tokens": 200, "input_tokens_details": {"cached_tokens": 64}, "output_tokens": 30,
         "output_tokens_details": {"reasoning_tokens": 10}, "total_tokens": 230}
CREATED = {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1", "usage": None}}
DELTA = {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "delta": 'a "response.completed" and "error" é'}
DONE = {"type": "response.completed", "sequence_number": 2, "response": {"id": "resp_1", "usage": USAGE}}
FAILED = {"type": "response.failed", "sequence_number": 2,
          "response": {"id": "resp_1", "status": "failed", "usage": None,
                       "error": {"code": "server_error", "message": "model crashed"}}}
EXPECTED = Usage(prompt_tokens=200, completion_tokens=30, cached_tokens=64, reasoning_tokens=10)


def _stream(*events: dict[str, object]) -> bytes:
    return b"".join(b"event: %s\ndata: %s\n\n" % (str(e["type"]).encode(), orjson.dumps(e)) for e in events)


def _read(raw: bytes, size: int) -> tuple[ResponsesUsageReader, bytes]:
    reader = ResponsesUsageReader()
    out = [o for i in range(0, len(raw), size) for o in reader.feed(raw[i:i + size])] + reader.flush()
    return reader, b"".join(out)


def test_bytes_unchanged_and_usage_read_in_every_split() -> None:
    raw = _stream(CREATED, DELTA, DONE)
    for size in (1, 2, 7, 64, len(raw)):
        reader, out = _read(raw, size)
        assert out == raw and reader.usage == EXPECTED and reader.error is None


def test_a_failed_response_is_an_error() -> None:
    reader, _ = _read(_stream(CREATED, DELTA, FAILED), 5)
    assert reader.error is not None and reader.error.message == "model crashed"
    assert reader.error.code == "server_error" and reader.usage == Usage()
    reader, _ = _read(_stream(CREATED, {"type": "error", "code": "rate_limit_exceeded", "message": "slow down",
                                        "param": None, "sequence_number": 1}), 3)
    assert reader.error is not None and reader.error.code == "rate_limit_exceeded"


def test_a_whole_answer() -> None:
    assert answer_usage(orjson.dumps({"id": "resp_1", "object": "response", "usage": USAGE})) == EXPECTED
    assert answer_usage(b"not json") is None and answer_usage(b'{"usage": null}') is None
    assert usage_from_responses({"input_tokens": 3}) == Usage(prompt_tokens=3)


def test_whole_events_without_a_terminal_or_an_error_are_not_decoded() -> None:
    """#19: of a piece of whole events only those that can end the response or carry an error are decoded."""
    decoded: list[str] = []

    class Counting(ResponsesUsageReader):
        def _event(self, data: str) -> list[bytes]:
            decoded.append(orjson.loads(data)["type"])
            return super()._event(data)

    plain = {"type": "response.output_text.delta", "sequence_number": 1, "delta": "Hello"}
    reader = Counting()
    for piece in (_stream(CREATED), _stream(plain, plain), _stream(DONE)):
        assert reader.feed(piece) == [piece]
    assert decoded == ["response.completed"] and reader.usage == EXPECTED
    decoded.clear()
    failed = Counting()
    failed.feed(_stream(CREATED, plain, FAILED))
    assert decoded == ["response.failed"] and failed.error is not None
