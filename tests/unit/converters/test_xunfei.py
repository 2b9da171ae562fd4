"""iFlytek Spark converter and signed URL against vectors/xunfei.json."""

from __future__ import annotations

import calendar
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import xunfei
from proxy.converters.signing import xunfei_auth
from tests.unit.converters.vectors import assert_stream, assert_subset, load, stream_payloads

V = load("xunfei")
AUTH = V["auth_max_v35"]["inputs"]
APP_ID = "6d7e2f1a"
KEY = f"{APP_ID}|{AUTH['api_secret']}|{AUTH['api_key']}"
NOW = float(calendar.timegm(time.strptime("Thu, 09 May 2024 03:20:39", "%a, %d %b %Y %H:%M:%S")))


def ctx(model: str = "Spark-Max", **kw: Any) -> ConvertContext:
    args: dict[str, Any] = {"mode": "chat", "model": model, "base_url": "", "key": KEY, "now": NOW}
    args.update(kw)
    return ConvertContext(**args)


def frames_bytes(frames: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(f) for f in frames]


def run_stream(c: ConvertContext, messages: list[bytes], step: int | None = None) -> tuple[list[bytes], Any]:
    conv = xunfei.stream_to_openai(c)
    out: list[bytes] = []
    for message in messages:
        pieces = [message] if step is None else [message[i:i + step] for i in range(0, len(message), step)]
        for piece in pieces:
            out += conv.feed(piece)
    out += conv.flush()
    return out, conv


# --- auth ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,style", [("auth_official_example", "official"), ("auth_max_v35", "official"),
                                        ("auth_one_api_variant", "one_api")])
def test_auth_vectors(name: str, style: str) -> None:
    case = V[name]
    i = case["inputs"]
    parts = urlsplit(i["base_url"])
    origin = xunfei_auth.signature_origin(parts.netloc, i["date"], parts.path)
    assert origin == case["signature_origin_raw"]
    sig = xunfei_auth.signature(i["api_secret"], origin)
    assert sig == case["signature"]
    assert xunfei_auth.authorization_origin(i["api_key"], sig, style) == case["authorization_origin_raw"]
    assert xunfei_auth.authorization(i["api_key"], sig, style) == case["authorization"]
    assert xunfei_auth.signed_url(i["base_url"], i["api_key"], i["api_secret"], i["date"], style) == case["url"]


def test_hmac_bytes_match_official_guide() -> None:
    import base64
    case = V["auth_official_example"]
    raw = base64.b64decode(xunfei_auth.signature(case["inputs"]["api_secret"], case["signature_origin_raw"]))
    assert raw.hex() == case["hmac_sha256_hex"]


def test_date_is_rfc1123_gmt_from_ctx_now() -> None:
    assert xunfei_auth.rfc1123_date(NOW) == AUTH["date"]


# --- routing and request ---------------------------------------------------------------------

@pytest.mark.parametrize("model", [m for m in V["model_routing"] if m.startswith("Spark")])
def test_model_routing(model: str) -> None:
    assert xunfei.route(model, {}) == (V["model_routing"][model]["path"], V["model_routing"][model]["domain"])


@pytest.mark.parametrize("model,config,expected", [
    ("SparkDesk-v2.1", {}, ("/v2.1/chat", "generalv2")),
    ("SparkDesk-v3.5", {"api_version": "v1.1"}, ("/v3.5/chat", "generalv3.5")),
    ("SparkDesk", {"api_version": "v4.0"}, ("/v4.0/chat", "4.0Ultra")),
    ("SparkDesk", {}, ("/v1.1/chat", "lite")),
    ("SparkDesk-v9.9", {}, ("/v9.9/chat", "generalv9.9")),
    ("my-model", {"api_version": "max-32k"}, ("/chat/max-32k", "max-32k")),
])
def test_version_routing_fallbacks(model: str, config: dict[str, str], expected: tuple[str, str]) -> None:
    assert xunfei.route(model, config) == expected


def test_chat_request() -> None:
    case = V["chat_request"]
    req = xunfei.request_from_openai(case["openai_request"], ctx())
    assert xunfei.TRANSPORT == "websocket"
    assert req.url == case["websocket_url"]
    assert orjson.loads(req.body) == case["first_frame_sent"]


def test_base_url_points_at_local_socket() -> None:
    req = xunfei.request_from_openai(V["chat_request"]["openai_request"], ctx(base_url="ws://127.0.0.1:18765"))
    parts = urlsplit(req.url)
    assert (parts.scheme, parts.netloc, parts.path) == ("ws", "127.0.0.1:18765", "/v3.5/chat")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["host"] == "127.0.0.1:18765" and query["date"] == AUTH["date"]
    sig = xunfei_auth.signature(AUTH["api_secret"], xunfei_auth.signature_origin("127.0.0.1:18765", AUTH["date"],
                                                                                 "/v3.5/chat"))
    assert query["authorization"] == xunfei_auth.authorization(AUTH["api_key"], sig)
    https = xunfei.request_from_openai(V["chat_request"]["openai_request"], ctx(base_url="https://mirror.example"))
    assert https.url.startswith("wss://mirror.example/v3.5/chat?")


def test_request_maps_user_top_k_tools_and_clamps() -> None:
    body = {"messages": [{"role": "developer", "content": [{"type": "text", "text": "sys"}]},
                         {"role": "user", "content": "hi"}],
            "temperature": 0, "max_completion_tokens": 50, "top_k": 3, "top_p": 0.2, "user": "u" * 40,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}
    frame = orjson.loads(xunfei.request_from_openai(body, ctx(model="Spark-4.0-Ultra")).body)
    assert frame == {"header": {"app_id": APP_ID, "uid": "u" * 32},
                     "parameter": {"chat": {"domain": "4.0Ultra", "temperature": 0.01, "max_tokens": 50, "top_k": 3}},
                     "payload": {"message": {"text": [{"role": "system", "content": "sys"},
                                                      {"role": "user", "content": "hi"}]},
                                 "functions": {"text": [{"name": "f", "description": "",
                                                         "parameters": {"type": "object"}}]}}}
    none_choice = orjson.loads(xunfei.request_from_openai({**body, "tool_choice": "none"}, ctx()).body)
    assert "functions" not in none_choice["payload"]


@pytest.mark.parametrize("extra,model", [
    ({"n": 2}, "Spark-Max"),
    ({"response_format": {"type": "json_object"}}, "Spark-Max"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "Spark-Lite"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"}, "Spark-Max"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:x"}}]}]}, "Spark-Max"),
    ({"messages": [{"role": "tool", "tool_call_id": "c", "content": "r"}]}, "Spark-Max"),
])
def test_unsupported_features_raise(extra: dict[str, Any], model: str) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], **extra}
    with pytest.raises(ConversionError):
        xunfei.request_from_openai(body, ctx(model=model))


def test_bad_key_and_mode() -> None:
    with pytest.raises(ConversionError) as exc:
        xunfei.request_from_openai({"messages": []}, ctx(key="a|b"))
    assert exc.value.status == 500
    with pytest.raises(ConversionError):
        xunfei.request_from_openai({"input": "x"}, ctx(mode="embeddings"))


# --- non-stream ------------------------------------------------------------------------------

def test_messages_to_openai() -> None:
    conv = xunfei.messages_to_openai(frames_bytes(V["upstream_frames"]), ctx())
    assert conv.error is None
    assert_subset(V["chat_response"]["openai_response"]["body"], conv.body)
    assert conv.body["id"] == "chatcmpl-cht000b9a1@dx18f5c3a5e7fb8f2540"
    assert conv.body["created"] == int(NOW)
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (13, 9)


def test_response_to_openai_from_concatenated_frames() -> None:
    body = b"\n".join(frames_bytes(V["upstream_frames"]))
    conv = xunfei.response_to_openai(200, body, ctx())
    assert_subset(V["chat_response"]["openai_response"]["body"], conv.body)


def test_error_frame() -> None:
    case = V["error"]
    expected = case["openai_error"]
    conv = xunfei.messages_to_openai(frames_bytes(case["upstream_frames"]), ctx())
    assert conv.body is None
    assert (conv.error.status, conv.error.to_body()) == (expected["status"], expected["body"])
    err = xunfei.error_to_openai(200, orjson.dumps(case["upstream_frames"][0]), ctx())
    assert (err.status, err.to_body()) == (expected["status"], expected["body"])


@pytest.mark.parametrize("code,status", [(11200, 403), (11202, 429), (10907, 400), (10110, 500)])
def test_error_code_table(code: int, status: int) -> None:
    frame = {"header": {"code": code, "message": "m", "sid": "s", "status": 2}}
    assert xunfei.messages_to_openai([orjson.dumps(frame)], ctx()).error.status == status


def test_empty_answer_is_an_error() -> None:
    assert xunfei.messages_to_openai([], ctx()).error.status == 500


def test_non_stream_function_call() -> None:
    frame = {"header": {"code": 0, "sid": "s1", "status": 2}, "payload": {"choices": {"status": 2, "text": [
        {"content": "", "role": "assistant", "content_type": "function_call",
         "function_call": {"name": "get_weather", "arguments": "{\"city\":\"北京\"}"}}]},
        "usage": {"text": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}}}
    conv = xunfei.messages_to_openai([orjson.dumps(frame)], ctx())
    call = conv.body["choices"][0]["message"]["tool_calls"][0]
    assert call["id"].startswith("call_") and call["function"] == {"name": "get_weather",
                                                                     "arguments": "{\"city\":\"北京\"}"}
    assert conv.body["choices"][0]["finish_reason"] == "tool_calls"


def test_handshake_error() -> None:
    case = V["handshake_error"]
    up = case["upstream_http_response"]
    err = xunfei.error_to_openai(up["status"], orjson.dumps(up["body"]), ctx())
    assert (err.status, err.to_body()) == (case["openai_error"]["status"], case["openai_error"]["body"])
    err = xunfei.error_to_openai(403, b"Forbidden", ctx())
    assert (err.status, err.message, err.code) == (403, "bad response status code 403", 403)


# --- stream ----------------------------------------------------------------------------------

@pytest.mark.parametrize("step", [None, 1, 9])
def test_stream_vector(step: int | None) -> None:
    out, conv = run_stream(ctx(stream=True, include_usage=True), frames_bytes(V["upstream_frames"]), step)
    assert_stream(V["chat_stream"]["openai_chunks"], out)
    payloads = stream_payloads(out)
    assert len({p["id"] for p in payloads[:-1]}) == 1
    assert conv.error is None and conv.usage.total_tokens == 22


def test_stream_all_frames_in_one_feed_and_unicode_split() -> None:
    frames = [{"header": {"code": 0, "sid": "s", "status": 0},
               "payload": {"choices": {"status": 0, "text": [{"content": "讯飞星火\"{x}\"", "index": 0}]}}},
              {"header": {"code": 0, "sid": "s", "status": 2}, "payload": {"choices": {"status": 2, "text": []}}}]
    data = b" ".join(frames_bytes(frames))
    for step in (None, 1, 2):
        payloads = stream_payloads(run_stream(ctx(stream=True), [data], step)[0])
        assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": "讯飞星火\"{x}\""}
        assert payloads[1]["choices"][0]["finish_reason"] == "stop" and payloads[2] == "[DONE]"


def test_stream_without_last_frame_still_finishes() -> None:
    out, _ = run_stream(ctx(stream=True), frames_bytes(V["upstream_frames"][:1]))
    payloads = stream_payloads(out)
    assert payloads[-2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert payloads[-1] == "[DONE]"


def test_stream_error_frame_mid_stream() -> None:
    error_frame = V["error"]["upstream_frames"][0]
    out, conv = run_stream(ctx(stream=True), frames_bytes([V["upstream_frames"][0], error_frame]), 4)
    payloads = stream_payloads(out)
    assert payloads[-1] == V["error"]["openai_error"]["body"]
    assert "[DONE]" not in payloads and conv.error.status == 400


def test_stream_function_call() -> None:
    frame = {"header": {"code": 0, "sid": "s1", "status": 2}, "payload": {"choices": {"status": 2, "text": [
        {"content": "", "role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}]}}}
    payloads = stream_payloads(run_stream(ctx(stream=True), [orjson.dumps(frame)])[0])
    assert payloads[1]["choices"][0]["delta"]["tool_calls"][0]["function"] == {"name": "f", "arguments": ""}
    assert payloads[2]["choices"][0]["delta"]["tool_calls"][0]["function"] == {"arguments": "{}"}
    assert payloads[3]["choices"][0]["finish_reason"] == "tool_calls"
