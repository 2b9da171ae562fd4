"""Gemini converter against vectors/gemini.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import gemini
from proxy.converters.providers.gemini_schema import schema_from_json_schema
from proxy.converters.providers.gemini_stream import finish_reason
from tests.unit.converters.vectors import (
    assert_absent,
    assert_stream,
    assert_subset,
    feed_all,
    load,
    stream_payloads,
    wire_lines_to_bytes,
)

V = load("gemini")
CASES = V["cases"]
BASE = "https://generativelanguage.googleapis.com"


def make_ctx(model: str = "gemini-2.0-flash", mode: str = "chat", **kw: Any) -> ConvertContext:
    kw.setdefault("base_url", BASE)
    kw.setdefault("key", "AIza-test-key")
    return ConvertContext(mode=mode, model=model, now=1735689600.0, **kw)


def ctx_for_request(req: dict[str, Any], **kw: Any) -> ConvertContext:
    return make_ctx(req["model"], "embeddings" if "input" in req else "chat", stream=bool(req.get("stream")),
                    include_usage=bool((req.get("stream_options") or {}).get("include_usage")), **kw)



REQUEST_CASES = [n for n, c in CASES.items() if isinstance(c, dict) and "upstream_request" in c]
RESPONSE_CASES = [n for n, c in CASES.items() if isinstance(c, dict) and "expected_openai_response" in c]
STREAM_CASES = [n for n, c in CASES.items() if isinstance(c, dict) and "expected_openai_stream" in c]
ERROR_CASES = [n for n, c in CASES.items() if isinstance(c, dict) and "expected_openai_error" in c]


@pytest.mark.parametrize("name", REQUEST_CASES)
def test_request_vectors(name: str) -> None:
    case = CASES[name]
    up = gemini.request_from_openai(case["openai_request"], ctx_for_request(case["openai_request"]))
    want = case["upstream_request"]
    assert up.method == want["method"]
    assert up.url == want["url"]
    assert_subset(want["headers"], up.headers)
    body = orjson.loads(up.body)
    assert_subset(want["body"], body)
    assert_absent({"body": body}, case.get("must_not_have", []))
    if "contents" in body:
        assert [s["threshold"] for s in body["safetySettings"]] == ["BLOCK_NONE"] * 5


@pytest.mark.parametrize("name", RESPONSE_CASES)
def test_response_vectors(name: str) -> None:
    case = CASES[name]
    mode = "embeddings" if name.startswith("embeddings") else "chat"
    model = (case.get("openai_request") or {}).get("model", "gemini-2.0-flash")
    resp = case["upstream_response"]
    got = gemini.response_to_openai(resp["status"], orjson.dumps(resp["body"]), make_ctx(model, mode))
    assert got.error is None
    assert_subset(case["expected_openai_response"], got.body)
    if "usage" in case["expected_openai_response"] and mode == "chat":
        assert got.usage.to_openai() == got.body["usage"]


@pytest.mark.parametrize("step", [None, 1, 7])
@pytest.mark.parametrize("name", STREAM_CASES)
def test_stream_vectors(name: str, step: int | None) -> None:
    case = CASES[name]
    req = case["openai_request"]
    conv = gemini.stream_to_openai(ctx_for_request(req))
    events = feed_all(conv, wire_lines_to_bytes(case["upstream_stream"]), step)
    assert_stream(case["expected_openai_stream"], events)
    assert conv.error is None
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (8, 3)


def test_stream_accepts_crlf() -> None:
    case = CASES["stream_sse"]
    data = "".join(line + "\r\n" for line in case["upstream_stream"]).encode()
    events = feed_all(gemini.stream_to_openai(ctx_for_request(case["openai_request"])), data, 1)
    assert_stream(case["expected_openai_stream"], events)


@pytest.mark.parametrize("name", ERROR_CASES)
def test_error_vectors(name: str) -> None:
    case = CASES[name]
    resp = case["upstream_response"]
    err = gemini.error_to_openai(resp["status"], orjson.dumps(resp["body"]), make_ctx())
    want = case["expected_openai_error"]
    assert err.status == want["status"]
    assert err.to_body() == want["body"]


def test_finish_reason_table() -> None:
    table = CASES["finish_reason_table"]
    for raw, want in table.items():
        assert finish_reason(raw) == want.split(" ")[0]


# ---- request edge cases --------------------------------------------------------------------

def test_base_url_is_used_and_key_not_in_url() -> None:
    up = gemini.request_from_openai({"messages": [{"role": "user", "content": "hi"}]},
                                    make_ctx(base_url="http://127.0.0.1:9999"))
    assert up.url == "http://127.0.0.1:9999/v1beta/models/gemini-2.0-flash:generateContent"
    assert "key=" not in up.url


@pytest.mark.parametrize("model,config,options,want", [
    ("gemini-2.0-flash", {}, {}, "v1beta"),
    ("gemini-1.5-pro", {}, {"GEMINI_VERSION": "v1"}, "v1beta"),
    ("gemini-2.5-pro", {}, {"GEMINI_VERSION": "v1"}, "v1beta"),
    ("gemini-pro", {}, {"GEMINI_VERSION": "v1"}, "v1"),
    ("gemini-pro", {}, {}, "v1beta"),
    ("gemini-2.0-flash", {"api_version": "v1"}, {}, "v1"),
])
def test_api_version_rules(model: str, config: dict, options: dict, want: str) -> None:
    assert gemini.api_version(make_ctx(model, config=config, options=options)) == want


def test_safety_setting_option() -> None:
    up = gemini.request_from_openai({"messages": [{"role": "user", "content": "hi"}]},
                                    make_ctx(options={"GEMINI_SAFETY_SETTING": "OFF"}))
    settings = orjson.loads(up.body)["safetySettings"]
    assert {s["category"] for s in settings} == set(gemini.SAFETY_CATEGORIES)
    assert {s["threshold"] for s in settings} == {"OFF"}


def test_roles_merge_and_empty_content_dropped() -> None:
    body = {"messages": [
        {"role": "system", "content": "a"}, {"role": "developer", "content": [{"type": "text", "text": "b"}]},
        {"role": "user", "content": "one"}, {"role": "user", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "two"}]},
        {"role": "assistant", "content": ""}, {"role": "assistant", "content": "ok"},
    ]}
    out = orjson.loads(gemini.request_from_openai(body, make_ctx()).body)
    assert out["systemInstruction"] == {"parts": [{"text": "a"}, {"text": "b"}]}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
                               {"role": "model", "parts": [{"text": "ok"}]}]


def test_only_system_message_becomes_user_turn() -> None:
    out = orjson.loads(gemini.request_from_openai(
        {"messages": [{"role": "system", "content": "Tell a joke"}]}, make_ctx()).body)
    assert out["contents"] == [{"role": "user", "parts": [{"text": "Tell a joke"}]}]
    assert "systemInstruction" not in out


def test_no_messages_is_an_error() -> None:
    with pytest.raises(ConversionError):
        gemini.request_from_openai({"messages": [{"role": "user", "content": ""}]}, make_ctx())


def test_http_image_url_refused() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}
    with pytest.raises(ConversionError, match="data: URLs"):
        gemini.request_from_openai(body, make_ctx())


def test_gs_uri_becomes_file_data() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "gs://bucket/cat.png"}}]}]}
    out = orjson.loads(gemini.request_from_openai(body, make_ctx()).body)
    assert out["contents"][0]["parts"] == [{"fileData": {"fileUri": "gs://bucket/cat.png", "mimeType": "image/png"}}]


def test_unknown_tool_call_id_refused() -> None:
    body = {"messages": [{"role": "user", "content": "x"},
                         {"role": "tool", "tool_call_id": "nope", "content": "r"}]}
    with pytest.raises(ConversionError, match="tool_call_id"):
        gemini.request_from_openai(body, make_ctx())


def test_tool_results_of_one_round_share_a_turn_and_json_kept() -> None:
    calls = [{"id": f"c{i}", "type": "function", "function": {"name": f"f{i}", "arguments": "{}"}}
             for i in range(2)]
    body = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": calls},
                         {"role": "tool", "tool_call_id": "c0", "content": "{\"t\": 1}"},
                         {"role": "tool", "tool_call_id": "c1", "content": "plain"}],
            "tool_choice": "required"}
    out = orjson.loads(gemini.request_from_openai(body, make_ctx()).body)
    assert out["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "f0", "response": {"t": 1}}},
        {"functionResponse": {"name": "f1", "response": {"content": "plain"}}}]}
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_thought_signature_is_replayed() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"},
            "extra_content": {"google": {"thought_signature": "sig=="}}}
    body = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call]}]}
    out = orjson.loads(gemini.request_from_openai(body, make_ctx()).body)
    assert out["contents"][1]["parts"][0] == {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "sig=="}


def test_invalid_tool_arguments_refused() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    body = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call]}]}
    with pytest.raises(ConversionError, match="not valid JSON"):
        gemini.request_from_openai(body, make_ctx())


def test_parameterless_function_omits_parameters() -> None:
    tools = [{"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}]
    body = {"messages": [{"role": "user", "content": "x"}], "tools": tools}
    out = orjson.loads(gemini.request_from_openai(body, make_ctx()).body)
    assert out["tools"] == [{"functionDeclarations": [{"name": "now", "description": ""}]}]


def test_json_object_and_reasoning_effort() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"},
            "reasoning_effort": "low", "max_completion_tokens": 10, "stop": "X", "top_k": 3}
    cfg = orjson.loads(gemini.request_from_openai(body, make_ctx("gemini-2.5-flash")).body)["generationConfig"]
    assert cfg == {"responseMimeType": "application/json", "thinkingConfig": {"thinkingBudget": 1024},
                   "maxOutputTokens": 10, "stopSequences": ["X"], "topK": 3}
    cfg3 = orjson.loads(gemini.request_from_openai(body, make_ctx("gemini-3-pro-preview")).body)["generationConfig"]
    assert cfg3["thinkingConfig"] == {"thinkingLevel": "low"}


def test_schema_sanitiser() -> None:
    schema = {"$schema": "x", "type": "object", "additionalProperties": False,
              "properties": {"a": {"$ref": "#/$defs/A"}, "b": {"type": ["string", "null"]},
                             "c": {"oneOf": [{"type": "integer"}, {"const": "x"}]}},
              "$defs": {"A": {"type": "array", "items": {"type": "string", "additionalProperties": 1}}}}
    assert schema_from_json_schema(schema) == {
        "type": "object",
        "properties": {"a": {"type": "array", "items": {"type": "string"}},
                       "b": {"type": "string", "nullable": True},
                       "c": {"anyOf": [{"type": "integer"}, {"enum": ["x"]}]}}}


def test_recursive_schema_refused() -> None:
    schema = {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}},
              "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}}
    with pytest.raises(ConversionError):
        schema_from_json_schema(schema)


def test_stream_with_n_refused() -> None:
    with pytest.raises(ConversionError, match="n > 1"):
        gemini.request_from_openai({"messages": [{"role": "user", "content": "x"}], "n": 2},
                                   make_ctx(stream=True))


def test_embeddings_token_arrays_refused() -> None:
    with pytest.raises(ConversionError):
        gemini.request_from_openai({"input": [[1, 2]]}, make_ctx("text-embedding-004", "embeddings"))


def test_images_request_and_response() -> None:
    up = gemini.request_from_openai({"prompt": "a cat", "n": 2, "size": "1792x1024"},
                                    make_ctx("imagen-3.0-generate-002", "images", options={"GEMINI_VERSION": "v1"}))
    assert up.url == f"{BASE}/v1beta/models/imagen-3.0-generate-002:predict"
    assert orjson.loads(up.body) == {"instances": [{"prompt": "a cat"}],
                                     "parameters": {"sampleCount": 2, "aspectRatio": "16:9"}}
    body = {"predictions": [{"bytesBase64Encoded": "AAA", "mimeType": "image/png"}]}
    got = gemini.response_to_openai(200, orjson.dumps(body), make_ctx("imagen-3.0-generate-002", "images"))
    assert got.body == {"created": 1735689600, "data": [{"b64_json": "AAA"}]}
    with pytest.raises(ConversionError):
        gemini.request_from_openai({"prompt": "a", "response_format": "url"}, make_ctx("imagen", "images"))


# ---- response edge cases -------------------------------------------------------------------

def test_thoughts_and_text_and_cached_usage() -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "hmm", "thought": True}, {"text": "A"},
                                                  {"text": "B"}]}, "finishReason": "SAFETY"}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2, "thoughtsTokenCount": 5,
                              "cachedContentTokenCount": 4, "toolUsePromptTokenCount": 1, "totalTokenCount": 18}}
    got = gemini.response_to_openai(200, orjson.dumps(body), make_ctx())
    choice = got.body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "AB", "reasoning_content": "hmm"}
    assert choice["finish_reason"] == "content_filter"
    assert got.body["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,
                                 "prompt_tokens_details": {"cached_tokens": 4},
                                 "completion_tokens_details": {"reasoning_tokens": 5}}


def test_empty_candidate_content() -> None:
    body = {"candidates": [{"content": {"role": "model"}, "finishReason": "STOP"}], "usageMetadata": {}}
    got = gemini.response_to_openai(200, orjson.dumps(body), make_ctx())
    assert got.body["choices"][0]["message"] == {"role": "assistant", "content": ""}


def test_error_inside_200_body() -> None:
    body = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    got = gemini.response_to_openai(200, orjson.dumps(body), make_ctx())
    assert got.body is None and got.error is not None
    assert (got.error.status, got.error.type, got.error.code) == (503, "server_error", "UNAVAILABLE")


def test_non_json_error_body() -> None:
    err = gemini.error_to_openai(502, b"<html>bad gateway</html>", make_ctx())
    assert (err.status, err.message, err.type) == (502, "bad response status code 502", "server_error")


def test_array_wrapped_error() -> None:
    body = [{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}]
    err = gemini.error_to_openai(400, orjson.dumps(body), make_ctx())
    assert (err.message, err.code) == ("bad", "INVALID_ARGUMENT")


def test_function_call_response_keeps_signature() -> None:
    body = {"candidates": [{"content": {"parts": [
        {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": "s1"}]}, "finishReason": "STOP"}]}
    got = gemini.response_to_openai(200, orjson.dumps(body), make_ctx())
    call = got.body["choices"][0]["message"]["tool_calls"][0]
    assert call["extra_content"] == {"google": {"thought_signature": "s1"}}
    assert got.body["choices"][0]["message"]["content"] is None


# ---- stream edge cases ---------------------------------------------------------------------

def sse(*objs: Any) -> bytes:
    return b"".join(b"data: " + orjson.dumps(o) + b"\r\n\r\n" for o in objs)


def test_stream_unicode_split_and_missing_final_event() -> None:
    data = sse({"candidates": [{"content": {"parts": [{"text": "héllo 世界"}]}}]})
    conv = gemini.stream_to_openai(make_ctx())
    payloads = stream_payloads(feed_all(conv, data, 1))
    assert payloads[1]["choices"][0]["delta"] == {"content": "héllo 世界"}
    assert payloads[-2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert payloads[-1] == "[DONE]"


def test_stream_tool_calls_and_thoughts() -> None:
    data = sse({"candidates": [{"content": {"parts": [{"text": "plan", "thought": True}]}}]},
               {"candidates": [{"content": {"parts": [
                   {"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "sg"},
                   {"functionCall": {"name": "b", "args": {}}}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "thoughtsTokenCount": 2}})
    conv = gemini.stream_to_openai(make_ctx(include_usage=True))
    payloads = stream_payloads(feed_all(conv, data))
    assert payloads[1]["choices"][0]["delta"] == {"reasoning_content": "plan"}
    first = payloads[2]["choices"][0]["delta"]["tool_calls"][0]
    assert (first["index"], first["function"], first["extra_content"]) == (
        0, {"name": "a", "arguments": "{\"x\":1}"}, {"google": {"thought_signature": "sg"}})
    assert payloads[3]["choices"][0]["delta"]["tool_calls"][0]["index"] == 1
    assert payloads[4]["choices"][0]["finish_reason"] == "tool_calls"
    assert payloads[5]["usage"] == {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9,
                                    "completion_tokens_details": {"reasoning_tokens": 2}}
    assert all(p["usage"] is None for p in payloads[:5])


def test_stream_midstream_error_stops() -> None:
    data = sse({"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]},
               {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}},
               {"candidates": [{"content": {"parts": [{"text": "never"}]}}]})
    conv = gemini.stream_to_openai(make_ctx())
    payloads = stream_payloads(feed_all(conv, data))
    assert payloads[-1] == {"error": {"message": "overloaded", "type": "server_error", "param": None,
                                      "code": "UNAVAILABLE"}}
    assert conv.error is not None and conv.error.status == 503
    assert len(payloads) == 3


def test_stream_prompt_blocked() -> None:
    data = sse({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}})
    payloads = stream_payloads(feed_all(gemini.stream_to_openai(make_ctx()), data))
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert payloads[1]["choices"][0]["finish_reason"] == "content_filter"
    assert payloads[2] == "[DONE]"


def test_stream_same_id_and_created_everywhere() -> None:
    data = wire_lines_to_bytes(CASES["stream_sse"]["upstream_stream"])
    payloads = [p for p in stream_payloads(feed_all(gemini.stream_to_openai(make_ctx(include_usage=True)), data))
                if p != "[DONE]"]
    assert len({p["id"] for p in payloads}) == 1
    assert {p["created"] for p in payloads} == {1735689600}
