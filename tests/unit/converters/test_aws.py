"""AWS Bedrock Claude converter against vectors/bedrock.json plus edge cases."""

from __future__ import annotations

import base64
import calendar
import time
from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.eventstream import encode_message
from proxy.converters.providers import aws
from proxy.converters.signing import sigv4
from tests.unit.converters.vectors import assert_absent, assert_stream, assert_subset, feed_all, load, stream_payloads

CASES = load("bedrock")["cases"]
SIGV4 = CASES["sigv4_invoke"]["inputs"]
NOW = float(calendar.timegm(time.strptime(SIGV4["x_amz_date"], "%Y%m%dT%H%M%SZ")))
KEY = f"{SIGV4['access_key_id']}|{SIGV4['secret_access_key']}|us-east-1"
EVENT_HEADERS = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}


def make_ctx(request: dict[str, Any] | None = None, **over: Any) -> ConvertContext:
    request = request or {}
    fields: dict[str, Any] = dict(
        mode="chat", model=request.get("model", "claude-3-5-haiku-20241022"), base_url="", key=KEY,
        stream=bool(request.get("stream")),
        include_usage=bool((request.get("stream_options") or {}).get("include_usage")), now=NOW)
    fields.update(over)
    return ConvertContext(**fields)


def frame(event: dict[str, Any]) -> bytes:
    payload = orjson.dumps({"bytes": base64.b64encode(orjson.dumps(event)).decode()})
    return encode_message(EVENT_HEADERS, payload)


# -- vector cases --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["invoke_nonstream", "stream_frames"])
def test_request_vector(name: str) -> None:
    case = CASES[name]
    req = aws.request_from_openai(case["openai_request"], make_ctx(case["openai_request"]))
    expected = case["upstream_request"]
    assert req.method == expected["method"]
    assert req.url in [expected["url"], *expected.get("url_alternatives", [])]
    body = orjson.loads(req.body)
    assert_subset(expected["body"], body)
    assert_absent({"body": body}, case["must_not_have"])
    sigv4_headers = {k: v for k, v in expected["headers"].items() if v == "<sigv4>"}
    assert_subset({k: v for k, v in expected["headers"].items() if k not in sigv4_headers}, req.headers)
    assert req.headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=")
    assert req.headers["X-Amz-Date"] == SIGV4["x_amz_date"]


def test_request_signature_verifies() -> None:
    """Re-sign the exact URL, headers and body sent: the signature must be the one we attached."""
    case = CASES["invoke_nonstream"]
    req = aws.request_from_openai(case["openai_request"], make_ctx(case["openai_request"]))
    unsigned = {k: v for k, v in req.headers.items() if k not in ("Authorization", "X-Amz-Date")}
    creds = sigv4.Credentials(SIGV4["access_key_id"], SIGV4["secret_access_key"])
    again = sigv4.sign_headers("POST", req.url, unsigned, req.body, creds, "us-east-1", "bedrock", NOW)
    assert again["Authorization"] == req.headers["Authorization"]
    assert "SignedHeaders=accept;content-type;host;x-amz-date," in req.headers["Authorization"]


def test_body_bytes_match_the_signing_vector() -> None:
    case = CASES["invoke_nonstream"]
    req = aws.request_from_openai(case["openai_request"], make_ctx(case["openai_request"]))
    assert req.body == SIGV4["body_string"].encode("utf-8")


def test_response_vector() -> None:
    case = CASES["invoke_nonstream"]
    up = case["upstream_response"]
    got = aws.response_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx(case["openai_request"]))
    assert got.error is None
    assert_subset(case["expected_openai_response"], got.body)


STREAM_CASES = [name for name, case in CASES.items() if "upstream_frames_hex" in case]


@pytest.mark.parametrize("step", [None, 1, 9])
@pytest.mark.parametrize("name", STREAM_CASES)
def test_stream_vector(name: str, step: int | None) -> None:
    case = CASES[name]
    request = case.get("openai_request") or CASES["stream_frames"]["openai_request"]
    conv = aws.stream_to_openai(make_ctx(request))
    data = b"".join(bytes.fromhex(h) for h in case["upstream_frames_hex"])
    assert_stream(case["expected_openai_stream"], feed_all(conv, data, step), case.get("optional_trailing_done", False))


def test_stream_vector_usage_and_error() -> None:
    data = b"".join(bytes.fromhex(h) for h in CASES["stream_frames"]["upstream_frames_hex"])
    conv = aws.stream_to_openai(make_ctx(CASES["stream_frames"]["openai_request"]))
    feed_all(conv, data)
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens, conv.error) == (11, 4, None)
    data = b"".join(bytes.fromhex(h) for h in CASES["stream_exception_frame"]["upstream_frames_hex"])
    conv = aws.stream_to_openai(make_ctx())
    feed_all(conv, data)
    assert conv.error is not None and (conv.error.status, conv.error.code) == (429, "throttlingException")


@pytest.mark.parametrize("name", ["error_validation", "error_throttling"])
def test_error_vector(name: str) -> None:
    case = CASES[name]
    up = case["upstream_response"]
    err = aws.error_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx(), headers=up["headers"])
    assert err.status == case["expected_openai_error"]["status"]
    assert err.to_body() == case["expected_openai_error"]["body"]


@pytest.mark.parametrize("name", ["error_validation", "error_throttling"])
def test_error_vector_without_headers(name: str) -> None:
    """The contract's error_to_openai has no headers: the code falls back to the status's exception."""
    case = CASES[name]
    up = case["upstream_response"]
    err = aws.error_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx())
    assert err.to_body() == case["expected_openai_error"]["body"]


# -- requests: extra cases -----------------------------------------------------------------

def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-3-5-haiku-20241022", "messages": [{"role": "user", "content": "hi"}], **extra}


def test_base_url_config_credentials_and_inference_profile() -> None:
    ctx = make_ctx(model="us.anthropic.claude-sonnet-4-20250514-v1:0", key="", base_url="http://127.0.0.1:8080/",
                   config={"ak": "AK", "sk": "SK", "region": "us-west-2"})
    req = aws.request_from_openai(chat(stream=True), ctx)
    assert req.url == ("http://127.0.0.1:8080/model/us.anthropic.claude-sonnet-4-20250514-v1:0"
                       "/invoke-with-response-stream")
    assert "Credential=AK/20250101/us-west-2/bedrock/aws4_request" in req.headers["Authorization"]
    assert "x-amzn-bedrock-accept" in req.headers["Authorization"]
    assert req.headers["Accept"] == "application/vnd.amazon.eventstream"


def test_arn_model_id_is_path_encoded() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
    req = aws.request_from_openai(chat(), make_ctx(model=arn))
    assert req.url.endswith("/model/arn:aws:bedrock:us-east-1:123456789012:inference-profile%2Fus.anthropic."
                            "claude-3-5-haiku-20241022-v1:0/invoke")


def test_api_key_uses_bearer() -> None:
    req = aws.request_from_openai(chat(), make_ctx(key="bedrock-api-key", config={"region": "eu-central-1"}))
    assert req.headers["Authorization"] == "Bearer bedrock-api-key"
    assert req.url.startswith("https://bedrock-runtime.eu-central-1.amazonaws.com/")


@pytest.mark.parametrize("over,message", [
    ({"model": "gpt-4o"}, "Bedrock model id"),
    ({"key": "ak|sk"}, "region"),
    ({"key": "", "config": {"region": "us-east-1"}}, "credentials"),
    ({"mode": "embeddings"}, "only chat"),
])
def test_request_errors(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        aws.request_from_openai(chat(), make_ctx(**over))


def test_http_images_rejected_data_urls_kept() -> None:
    http = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    with pytest.raises(ConversionError, match="data:"):
        aws.request_from_openai(chat(messages=[{"role": "user", "content": [http]}]), make_ctx())
    data = {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklG"}}
    body = orjson.loads(aws.request_from_openai(chat(messages=[{"role": "user", "content": [data]}]), make_ctx()).body)
    assert body["messages"][0]["content"][0]["source"] == {"type": "base64", "media_type": "image/webp", "data": "UklG"}


def test_anthropic_options_survive_without_model_and_stream() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = orjson.loads(aws.request_from_openai(chat(tools=tools, tool_choice="required", stream=True, user="u"),
                                                make_ctx()).body)
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert body["tool_choice"] == {"type": "any"} and body["metadata"] == {"user_id": "u"}
    assert "model" not in body and "stream" not in body


# -- responses and streams: extra cases ----------------------------------------------------

def test_200_body_carrying_an_error() -> None:
    body = {"type": "error", "error": {"type": "api_error", "message": "Internal"}}
    got = aws.response_to_openai(200, orjson.dumps(body), make_ctx())
    assert got.body is None and got.error is not None and got.error.message == "Internal"


def test_error_message_variants() -> None:
    err = aws.error_to_openai(403, b'{"Message":"User is not authorized"}', make_ctx(),
                              headers={"X-Amzn-ErrorType": "AccessDeniedException:http://internal"})
    assert (err.message, err.type, err.code) == ("User is not authorized", "permission_error", "AccessDeniedException")
    body = b'{"__type":"com.amazon.coral#UnrecognizedClientException","message":"bad"}'
    err = aws.error_to_openai(403, body, make_ctx())
    assert err.code == "UnrecognizedClientException"
    err = aws.error_to_openai(502, b"not json", make_ctx())
    assert (err.message, err.type, err.code) == ("bad response status code 502", "server_error", None)


START = {"type": "message_start", "message": {"id": "msg_b", "model": "claude-x",
                                              "usage": {"input_tokens": 3, "output_tokens": 1}}}


def test_stream_unicode_split_and_truncated_end() -> None:
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "日本語 ✓"}}
    conv = aws.stream_to_openai(make_ctx(include_usage=True))
    payloads = stream_payloads(feed_all(conv, frame(START) + frame(delta) + frame(START)[:20], 1))
    assert payloads[1]["choices"][0]["delta"] == {"content": "日本語 ✓"}
    assert payloads[2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert payloads[3]["usage"]["prompt_tokens"] == 3 and payloads[-1] == "[DONE]"


def test_invocation_metrics_are_authoritative() -> None:
    stop = {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
        "inputTokenCount": 7, "outputTokenCount": 12, "cacheReadInputTokenCount": 100}}
    conv = aws.stream_to_openai(make_ctx())
    feed_all(conv, frame(START) + frame(stop))
    assert conv.usage.to_openai() == {"prompt_tokens": 107, "completion_tokens": 12, "total_tokens": 119,
                                      "prompt_tokens_details": {"cached_tokens": 100}}


def test_bad_crc_becomes_midstream_error() -> None:
    broken = bytearray(frame(START))
    broken[-6] ^= 0xFF
    conv = aws.stream_to_openai(make_ctx())
    payloads = stream_payloads(feed_all(conv, bytes(broken)))
    assert payloads[0]["error"]["type"] == "server_error" and "CRC" in payloads[0]["error"]["message"]
    assert conv.error is not None and conv.feed(frame(START)) == []


def test_generic_error_frame_and_validation_exception() -> None:
    error_frame = encode_message({":message-type": "error", ":error-code": "InternalFailure",
                                  ":error-message": "boom"}, b"")
    payloads = stream_payloads(feed_all(aws.stream_to_openai(make_ctx()), frame(START) + error_frame))
    assert payloads[1]["error"] == {"message": "boom", "type": "server_error", "param": None, "code": "InternalFailure"}
    validation = encode_message({":message-type": "exception", ":exception-type": "validationException"},
                                b'{"message":"bad input"}')
    conv = aws.stream_to_openai(make_ctx())
    payloads = stream_payloads(feed_all(conv, validation))
    assert payloads[0]["error"]["type"] == "invalid_request_error" and conv.error.status == 400


def test_undecodable_payload_becomes_error() -> None:
    bad = encode_message(EVENT_HEADERS, b'{"bytes":"!!!not base64"}')
    conv = aws.stream_to_openai(make_ctx())
    payloads = stream_payloads(feed_all(conv, frame(START) + bad))
    assert "error" in payloads[1] and conv.error is not None
