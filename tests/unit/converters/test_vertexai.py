"""Vertex AI converter and service-account auth against vectors/vertexai.json plus edge cases."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import vertexai
from proxy.converters.signing import google_auth
from tests.unit.converters.vectors import assert_absent, assert_stream, assert_subset, load, stream_payloads

V = load("vertexai")
CASES = V["cases"]
SA_CASE = CASES["service_account_token"]
TOKEN = "ya29.test-access-token"

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                         serialization.NoEncryption()).decode()
SA = {**SA_CASE["service_account_json_fields"], "private_key": PEM}
SA_JSON = orjson.dumps(SA).decode()


def make_ctx(model: str, channel: dict[str, str] | None = None, **kw: Any) -> ConvertContext:
    config = {"vertex_ai_adc": SA_JSON, **(channel or {"vertex_ai_project_id": "my-project", "region": "us-central1"})}
    kw.setdefault("base_url", "")
    kw.setdefault("access_token", TOKEN)
    kw.setdefault("mode", "chat")
    return ConvertContext(model=model, key="", config=config, now=float(SA_CASE["now"]), **kw)


def b64url_json(segment: str) -> Any:
    return orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def verify_jwt(jwt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, claims, sig = jwt.split(".")
    assert "=" not in jwt
    signature = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    _KEY.public_key().verify(signature, f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return b64url_json(head), b64url_json(claims)


def single_text_blocks_as_strings(obj: Any) -> Any:
    """The vectors' rule: a list holding one text block equals the plain string."""
    if isinstance(obj, dict):
        return {k: single_text_blocks_as_strings(v) for k, v in obj.items()}
    if isinstance(obj, list):
        first = obj[0] if len(obj) == 1 else None
        if isinstance(first, dict) and first.get("type") == "text" and set(first) == {"type", "text"}:
            return obj[0]["text"]
        return [single_text_blocks_as_strings(v) for v in obj]
    return obj


REQUEST_CASES = [n for n, c in CASES.items() if "upstream_request" in c]


@pytest.mark.parametrize("name", REQUEST_CASES)
def test_request_vectors(name: str) -> None:
    case = CASES[name]
    req = case["openai_request"]
    ctx = make_ctx(req["model"], case["channel"], stream=bool(req.get("stream")))
    up = vertexai.request_from_openai(req, ctx)
    want = case["upstream_request"]
    assert (up.method, up.url) == (want["method"], want["url"])
    assert_subset(want.get("headers", {}), up.headers)
    body = orjson.loads(up.body)
    assert_subset(single_text_blocks_as_strings(want["body"]), single_text_blocks_as_strings(body))
    assert_absent({"body": body}, case.get("must_not_have", []))


def test_gemini_response_vector() -> None:
    case = CASES["gemini_regional"]
    resp = case["upstream_response"]
    got = vertexai.response_to_openai(resp["status"], orjson.dumps(resp["body"]), make_ctx("gemini-2.0-flash-001"))
    assert_subset(case["expected_openai_response"], got.body)
    assert got.usage.total_tokens == 11


def test_error_vector() -> None:
    case = CASES["error_not_found"]
    resp = case["upstream_response"]
    err = vertexai.error_to_openai(resp["status"], orjson.dumps(resp["body"]), make_ctx("gemini-9"))
    assert err.status == case["expected_openai_error"]["status"]
    assert err.to_body() == case["expected_openai_error"]["body"]


# ---- service-account auth ------------------------------------------------------------------

def test_token_request_vector() -> None:
    up = vertexai.auth_token_request(make_ctx("gemini-2.0-flash"))
    want = SA_CASE["token_request"]
    assert (up.method, up.url) == (want["method"], want["url"])
    assert_subset(want["headers"], up.headers)
    form = {k: v[0] for k, v in parse_qs(up.body.decode()).items()}
    assert form["grant_type"] == want["form"]["grant_type"]
    assert up.body.startswith(b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
    header, claims = verify_jwt(form["assertion"])
    assert header == SA_CASE["jwt_header"]
    assert claims == SA_CASE["jwt_claims"]


def test_token_response_vector() -> None:
    token, expiry = vertexai.parse_auth_token(200, orjson.dumps(SA_CASE["token_response"]), 1000.0)
    assert (token, expiry) == (TOKEN, 1000.0 + 3599)
    assert vertexai.request_from_openai(
        {"messages": [{"role": "user", "content": "x"}]}, make_ctx("gemini-2.0-flash")
    ).headers["Authorization"] == SA_CASE["expected_upstream_header"]["Authorization"]


def test_token_error_vector() -> None:
    example = SA_CASE["token_error_example"]
    with pytest.raises(ConversionError, match="invalid_grant: Invalid JWT Signature.") as info:
        vertexai.parse_auth_token(example["status"], orjson.dumps(example["body"]), 0.0)
    assert info.value.status == 400
    with pytest.raises(ConversionError):
        vertexai.parse_auth_token(200, b"not json", 0.0)


def test_token_url_follows_mirror_base_url_only() -> None:
    mirror = vertexai.auth_token_request(make_ctx("gemini-2.0-flash", base_url="http://127.0.0.1:8081"))
    assert mirror.url == "http://127.0.0.1:8081/token"
    google = vertexai.auth_token_request(make_ctx("gemini-2.0-flash",
                                                  base_url="https://us-central1-aiplatform.googleapis.com"))
    assert google.url == "https://oauth2.googleapis.com/token"


def test_literal_backslash_n_key_and_bad_key() -> None:
    escaped = {**SA, "private_key": PEM.replace("\n", "\\n")}
    sa = google_auth.service_account_from_json(orjson.dumps(escaped))
    verify_jwt(google_auth.sign_jwt(sa, {"x": 1}))
    with pytest.raises(ConversionError):
        google_auth.sign_jwt(google_auth.service_account_from_json({**SA, "private_key": "garbage"}), {})
    with pytest.raises(ConversionError):
        google_auth.service_account_from_json("{}")


def test_key_in_region_project_adc_form() -> None:
    ctx = ConvertContext(mode="chat", model="gemini-2.0-flash", base_url="", key=f"europe-west4|proj-x|{SA_JSON}",
                         access_token=TOKEN)
    up = vertexai.request_from_openai({"messages": [{"role": "user", "content": "x"}]}, ctx)
    assert up.url.startswith(
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-x/locations/europe-west4/")


def test_self_signed_jwt_without_access_token() -> None:
    up = vertexai.request_from_openai({"messages": [{"role": "user", "content": "x"}]},
                                      make_ctx("gemini-2.0-flash", access_token=""))
    header, claims = verify_jwt(up.headers["Authorization"].removeprefix("Bearer "))
    assert claims["aud"] == "https://aiplatform.googleapis.com/" and "scope" not in claims
    assert claims["exp"] - claims["iat"] == 3600


def test_project_falls_back_to_service_account() -> None:
    up = vertexai.request_from_openai({"messages": [{"role": "user", "content": "x"}]},
                                      make_ctx("gemini-2.0-flash", {"region": "us-central1"}))
    assert "/projects/my-project/locations/us-central1/" in up.url


# ---- routing edge cases ---------------------------------------------------------------------

def test_base_url_is_used_for_model_calls() -> None:
    up = vertexai.request_from_openai({"messages": [{"role": "user", "content": "x"}]},
                                      make_ctx("gemini-2.0-flash", base_url="http://127.0.0.1:9"))
    assert up.url == ("http://127.0.0.1:9/v1/projects/my-project/locations/us-central1/publishers/google/"
                      "models/gemini-2.0-flash:generateContent")


def test_unknown_model_family_and_missing_region_refused() -> None:
    with pytest.raises(ConversionError, match="not supported on Vertex"):
        vertexai.request_from_openai({"messages": [{"role": "user", "content": "x"}]}, make_ctx("llama-3"))
    with pytest.raises(ConversionError, match="region"):
        vertexai.request_from_openai({"messages": [{"role": "user", "content": "x"}]},
                                     make_ctx("gemini-2.0-flash", {"vertex_ai_project_id": "p"}))


def test_claude_non_stream_roundtrip() -> None:
    ctx = make_ctx("claude-3-5-sonnet-v2@20241022", {"vertex_ai_project_id": "my-project", "region": "us-east5"})
    up = vertexai.request_from_openai({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}, ctx)
    assert up.url.endswith("/publishers/anthropic/models/claude-3-5-sonnet-v2@20241022:rawPredict")
    body = orjson.loads(up.body)
    assert "stream" not in body and "model" not in body and body["anthropic_version"] == "vertex-2023-10-16"
    answer = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-v2@20241022",
              "content": [{"type": "text", "text": "Hello"}], "stop_reason": "end_turn",
              "usage": {"input_tokens": 3, "output_tokens": 2}}
    got = vertexai.response_to_openai(200, orjson.dumps(answer), ctx)
    assert got.body["choices"][0]["message"]["content"] == "Hello"
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (3, 2)


def test_claude_stream_is_anthropic_sse() -> None:
    ctx = make_ctx("claude-3-5-sonnet-v2@20241022", stream=True)
    events = [
        {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [],
                                              "model": "claude", "usage": {"input_tokens": 4, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hé"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]
    data = b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)
    conv = vertexai.stream_to_openai(ctx)
    out: list[bytes] = []
    for i in range(len(data)):
        out += conv.feed(data[i:i + 1])
    out += conv.flush()
    payloads = stream_payloads(out)
    assert [p["choices"][0]["delta"] for p in payloads[:2]] == [{"role": "assistant", "content": ""},
                                                                  {"content": "Hé"}]
    assert payloads[2]["choices"][0]["finish_reason"] == "stop" and payloads[-1] == "[DONE]"
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (4, 2)


def test_gemini_stream_vector_shape() -> None:
    data = (b'data: {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP"}],'
            b'"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}}\r\n\r\n')
    conv = vertexai.stream_to_openai(make_ctx("gemini-2.5-flash", stream=True))
    events = conv.feed(data) + conv.flush()
    assert_stream([{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
                   {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]},
                   {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, "[DONE]"], events)


def test_claude_errors_in_both_envelopes() -> None:
    ctx = make_ctx("claude-3-5-sonnet-v2@20241022")
    anth = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    err = vertexai.error_to_openai(529, orjson.dumps(anth), ctx)
    assert (err.status, err.message, err.type) == (529, "Overloaded", "overloaded_error")
    google = {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}
    err = vertexai.error_to_openai(429, orjson.dumps(google), ctx)
    assert (err.type, err.code) == ("rate_limit_error", "RESOURCE_EXHAUSTED")


def test_embeddings_predict() -> None:
    ctx = make_ctx("text-embedding-005", mode="embeddings")
    up = vertexai.request_from_openai({"input": ["a", "b"], "dimensions": 2}, ctx)
    assert up.url.endswith("/publishers/google/models/text-embedding-005:predict")
    assert orjson.loads(up.body) == {"instances": [{"content": "a"}, {"content": "b"}],
                                     "parameters": {"outputDimensionality": 2}}
    answer = {"predictions": [{"embeddings": {"values": [0.1, 0.2], "statistics": {"token_count": 3}}},
                              {"embeddings": {"values": [0.3, 0.4], "statistics": {"token_count": 4}}}]}
    got = vertexai.response_to_openai(200, orjson.dumps(answer), ctx)
    assert [d["index"] for d in got.body["data"]] == [0, 1]
    assert got.body["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
