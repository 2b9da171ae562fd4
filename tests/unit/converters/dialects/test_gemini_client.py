"""Gemini client dialect: requests to the hub and whole answers and errors back, as vectors (captures of Gemini CLI
0.61.0 in tests/fixtures/captures, and cases written here); google-genai's own types read the answers."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, OpenAIError
from proxy.converters.dialects import gemini_client
from proxy.converters.dialects.gemini_client import request_to_openai, response_from_openai
from proxy.converters.registry import DIALECTS

CAPTURES = Path(__file__).parents[3] / "fixtures" / "captures"
SIGNATURE = "c2lnbmF0dXJlLWZyb20tbW9jaw=="


def capture(n: int) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads((CAPTURES / f"gemini-{n}.json").read_bytes())["body"]
    return body


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


def hub(body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return request_to_openai(body, model=kwargs.pop("model", "gemini-x"), **kwargs)


def test_the_registry_lists_the_dialect() -> None:
    assert DIALECTS["gemini"] is gemini_client


# ---- requests: the captures -------------------------------------------------------------------

def test_capture_1_say_hello_streamed() -> None:
    body = capture(1)
    out = hub(body, stream=True)
    tools = out.pop("tools")
    assert out == {
        "model": "gemini-x",
        "messages": [{"role": "system", "content": "<23300 characters of vendor text>"},
                     {"role": "user", "content": "<503 characters of vendor text>\nsay hello"}],
        "temperature": 1, "top_p": 0.95,   # topK 64 dropped: OpenAI refuses it
        "stream": True, "stream_options": {"include_usage": True},
    }
    declarations = body["tools"][0]["functionDeclarations"]
    assert tools == [{"type": "function", "function": {"name": d["name"], "parameters": d["parametersJsonSchema"],
                                                       "description": d["description"]}} for d in declarations]
    assert [t["function"]["name"] for t in tools][:3] == ["update_topic", "list_directory", "read_file"]


def test_capture_3_function_call_round_trip() -> None:
    out = hub(capture(3), stream=True)
    assert out["messages"][1:] == [
        {"role": "user", "content": "<503 characters of vendor text>\nRead secret.txt and tell me the magic word"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "read_file_1796587654132_0", "type": "function",
            "function": {"name": "read_file", "arguments": '{"file_path":"/home/user/project/secret.txt"}'},
            "extra_content": {"google": {"thought_signature": SIGNATURE}}}]},
        {"role": "tool", "tool_call_id": "read_file_1796587654132_0",
         "content": '{"output":"The magic word is: pelican\\n"}'},
    ]


def test_non_stream_and_model_from_the_body() -> None:
    out = request_to_openai({"model": "models/gemini-2.5-flash", "contents": [user("hi")]})
    assert out == {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
    assert request_to_openai({"contents": [user("hi")]}, model="m", stream=False) == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(ConversionError, match="model is missing"):
        request_to_openai({"contents": [user("hi")]})
    with pytest.raises(ConversionError, match="at least one part"):
        hub({"contents": [], "systemInstruction": {"parts": [{"text": "s"}]}})


# ---- requests: parts ------------------------------------------------------------------------

def test_media_parts() -> None:
    parts = [{"text": "look"}, {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
             {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}},
             {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
             {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/a.jpg"}}]
    out = hub({"contents": [{"role": "user", "parts": parts}]})
    assert out["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        {"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
    ]}]


@pytest.mark.parametrize(("part", "message"), [
    ({"inlineData": {"mimeType": "video/mp4", "data": "AAAA"}}, "inlineData of type 'video/mp4'"),
    ({"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/a.png"}}, "fileData 'gs://bucket/a.png'"),
    ({"fileData": {"mimeType": "image/png",
                   "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}, "fileData"),
    ({"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/a.pdf"}}, "fileData"),
    ({"executableCode": {"language": "PYTHON", "code": "1"}}, "user part 'executableCode'"),
    ({"functionCall": {"name": "f", "args": {}}}, "user part 'functionCall'"),
])
def test_parts_that_cannot_be_carried_are_refused(part: dict[str, Any], message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        hub({"contents": [{"role": "user", "parts": [part]}]})


def test_thoughts_and_signatures_of_the_history() -> None:
    contents = [user("q"), {"role": "model", "parts": [
        {"text": "thinking about it", "thought": True, "thoughtSignature": "c2ln"},
        {"text": "I will call", "thoughtSignature": "dGV4dA=="},
        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "skip_thought_signature_validator"},
        {"functionCall": {"name": "f", "args": {"a": 2}}},
    ]}, {"role": "user", "parts": [
        {"functionResponse": {"name": "f", "response": {"r": 1}}},
        {"functionResponse": {"name": "f", "response": {"r": 2}}},
        {"text": "and now?"},
    ]}]
    assert hub({"contents": contents})["messages"][1:] == [
        {"role": "assistant", "content": "I will call", "tool_calls": [
            {"id": "call_1_0", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
            {"id": "call_1_1", "type": "function", "function": {"name": "f", "arguments": '{"a":2}'}}]},
        {"role": "tool", "tool_call_id": "call_1_0", "content": '{"r":1}'},
        {"role": "tool", "tool_call_id": "call_1_1", "content": '{"r":2}'},
        {"role": "user", "content": "and now?"},
    ]


def test_a_function_response_must_answer_a_call() -> None:
    contents = [user("q"), {"role": "model", "parts": [{"functionCall": {"id": "x1", "name": "f", "args": {}}},
                                                       {"functionCall": {"id": "x2", "name": "f", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"id": "x2", "name": "f", "response": {}}},
                                           {"functionResponse": {"id": "other", "name": "f", "response": {}}}]}]
    # by id first; an id that matches no call falls back to the first call of that name
    assert [m.get("tool_call_id") for m in hub({"contents": contents})["messages"]] == [None, None, "x2", "x1"]
    contents[2]["parts"][1]["functionResponse"] = {"id": "x3", "name": "g", "response": {}}
    with pytest.raises(ConversionError, match="'g' answers no earlier functionCall with id 'x3'"):
        hub({"contents": contents})
    contents[2]["parts"][1]["functionResponse"] = {"name": "f", "response": {}}
    contents[2]["parts"].append({"functionResponse": {"name": "f", "response": {}}})
    with pytest.raises(ConversionError, match="'f' answers no earlier functionCall"):
        hub({"contents": contents})


@pytest.mark.parametrize(("content", "message"), [
    ({"role": "system", "parts": [{"text": "s"}]}, "content role 'system'"),
    ({"role": "model", "parts": [{"functionCall": {"name": "f", "args": [1]}}]}, "args must be an object"),
    ({"role": "model", "parts": [{"functionCall": {"args": {}}}]}, "functionCall needs a name"),
    ({"role": "model", "parts": [{"codeExecutionResult": {"outcome": "OUTCOME_OK"}}]}, "codeExecutionResult"),
    ({"role": "user", "parts": [{"functionResponse": {"name": "f", "parts": [{"inlineData": {}}]}}]},
     "functionResponse parts"),
])
def test_contents_that_cannot_be_carried_are_refused(content: dict[str, Any], message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        hub({"contents": [user("q"), content]})


def test_system_instruction() -> None:
    out = hub({"contents": [user("q")], "systemInstruction": {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}})
    assert out["messages"][0] == {"role": "system", "content": "a\nb"}
    with pytest.raises(ConversionError, match="systemInstruction may only hold text"):
        hub({"contents": [user("q")], "systemInstruction": {"parts": [{"inlineData": {"mimeType": "image/png"}}]}})


# ---- requests: tools, tool config, generation config, top level -------------------------------

def test_function_declarations() -> None:
    tools = [{"functionDeclarations": [
        {"name": "get_weather", "description": "Weather", "parameters": {
            "type": "OBJECT", "properties": {"city": {"type": "STRING", "nullable": True},
                                             "days": {"type": "ARRAY", "items": {"type": "INTEGER"}}},
            "required": ["city"], "propertyOrdering": ["city", "days"]}, "response": {"type": "OBJECT"}},
        {"name": "now"},
    ]}]
    assert hub({"contents": [user("q")], "tools": tools})["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {
            "type": "object", "properties": {"city": {"type": ["string", "null"]},
                                             "days": {"type": "array", "items": {"type": "integer"}}},
            "required": ["city"]}}},
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
    ]


@pytest.mark.parametrize(("tool", "message"), [
    ({"googleSearch": {}}, "the googleSearch tool is not supported"),
    ({"codeExecution": {}}, "the codeExecution tool"),
    ({"urlContext": {}}, "the urlContext tool"),
    ({"functionDeclarations": [{"name": "mcp.server:tool"}]}, "function name 'mcp.server:tool'"),
])
def test_tools_that_cannot_be_carried_are_refused(tool: dict[str, Any], message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        hub({"contents": [user("q")], "tools": [tool]})


@pytest.mark.parametrize(("config", "choice"), [
    ({"mode": "AUTO"}, "auto"), ({"mode": "VALIDATED"}, "auto"), ({"mode": "NONE"}, "none"),
    ({"mode": "ANY"}, "required"),
    ({"mode": "ANY", "allowedFunctionNames": ["f"]}, {"type": "function", "function": {"name": "f"}}),
    ({"mode": "ANY", "allowedFunctionNames": ["f", "g"]}, {"type": "allowed_tools", "allowed_tools": {
        "mode": "required", "tools": [{"type": "function", "function": {"name": "f"}},
                                      {"type": "function", "function": {"name": "g"}}]}}),
    ({"mode": "VALIDATED", "allowedFunctionNames": ["f"]}, {"type": "allowed_tools", "allowed_tools": {
        "mode": "auto", "tools": [{"type": "function", "function": {"name": "f"}}]}}),
    ({"mode": "NONE", "allowedFunctionNames": ["f"]}, "none"),
])
def test_tool_config(config: dict[str, Any], choice: Any) -> None:
    out = hub({"contents": [user("q")], "toolConfig": {"functionCallingConfig": config}})
    assert out["tool_choice"] == choice


@pytest.mark.parametrize(("config", "message"), [
    ({"functionCallingConfig": {"mode": "SOMETIMES"}}, "mode 'SOMETIMES'"),
    ({"retrievalConfig": {"latLng": {}}}, "toolConfig.retrievalConfig"),
])
def test_tool_config_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        hub({"contents": [user("q")], "toolConfig": config})


def test_generation_config() -> None:
    config = {"temperature": 0.2, "topP": 0.9, "topK": 40, "candidateCount": 2, "maxOutputTokens": 100,
              "stopSequences": ["END"], "presencePenalty": 0.1, "frequencyPenalty": 0.3, "seed": 7,
              "mediaResolution": "MEDIA_RESOLUTION_LOW", "responseModalities": ["TEXT"],
              "responseMimeType": "application/json",
              "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
              "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 4096}}
    out = hub({"contents": [user("q")], "generationConfig": config, "safetySettings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]})
    del out["messages"]
    assert out == {"model": "gemini-x", "temperature": 0.2, "top_p": 0.9, "presence_penalty": 0.1,
                   "frequency_penalty": 0.3, "seed": 7, "max_tokens": 100, "n": 2, "stop": ["END"],
                   "response_format": {"type": "json_schema", "json_schema": {"name": "response", "schema": {
                       "type": "object", "properties": {"a": {"type": "string"}}}}},
                   "reasoning_effort": "medium"}


@pytest.mark.parametrize(("config", "expected"), [
    ({"responseMimeType": "application/json"}, {"response_format": {"type": "json_object"}}),
    ({"responseMimeType": "application/json", "responseJsonSchema": {"type": "object", "additionalProperties": False}},
     {"response_format": {"type": "json_schema", "json_schema": {
         "name": "response", "schema": {"type": "object", "additionalProperties": False}}}}),
    ({"responseMimeType": "text/plain"}, {}),
    ({"thinkingConfig": {"thinkingBudget": 0}}, {"reasoning_effort": "none"}),
    ({"thinkingConfig": {"thinkingBudget": 512}}, {"reasoning_effort": "low"}),
    ({"thinkingConfig": {"thinkingBudget": 30000}}, {"reasoning_effort": "high"}),
    ({"thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True}}, {}),
    ({"thinkingConfig": {"thinkingLevel": "MINIMAL"}}, {"reasoning_effort": "minimal"}),
    ({"thinkingConfig": {"thinkingLevel": "high"}}, {"reasoning_effort": "high"}),
    ({"thinkingConfig": {"thinkingLevel": "XHIGH"}}, {"reasoning_effort": "high"}),
    ({"candidateCount": 1}, {}),
])
def test_generation_config_cases(config: dict[str, Any], expected: dict[str, Any]) -> None:
    out = hub({"contents": [user("q")], "generationConfig": config})
    assert {k: v for k, v in out.items() if k not in ("model", "messages")} == expected


@pytest.mark.parametrize(("body", "stream", "message"), [
    ({"generationConfig": {"candidateCount": 2}}, True, "candidateCount above 1"),
    ({"generationConfig": {"responseMimeType": "text/x.enum"}}, False, "responseMimeType 'text/x.enum'"),
    ({"generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}}, False, "responseModalities"),
    ({"generationConfig": {"responseLogprobs": True}}, False, "generationConfig.responseLogprobs"),
    ({"generationConfig": {"speechConfig": {}}}, False, "generationConfig.speechConfig"),
    ({"generationConfig": {"thinkingConfig": {"thinkingLevel": "HUGE"}}}, False, "thinkingLevel 'HUGE'"),
    ({"generationConfig": {"thinkingConfig": {"thinkingBudget": -5}}}, False, "thinkingBudget -5"),
    ({"generationConfig": {"thinkingConfig": {"budget": 1}}}, False, "thinkingConfig.budget"),
    ({"cachedContent": "cachedContents/abc"}, False, "cachedContent is not supported"),
    ({"cached_content": "cachedContents/abc"}, False, "cachedContent is not supported"),
    ({"frobnicate": 1}, False, "frobnicate is not supported"),
    ({"generationConfig": []}, False, "generationConfig must be an object"),
])
def test_requests_that_cannot_be_carried_are_refused(body: dict[str, Any], stream: bool, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        hub({"contents": [user("q")], **body}, stream=stream)


def test_snake_case_field_names_as_the_api_takes_them() -> None:
    """Proto JSON takes both spellings and google-genai sends both; user data keeps its own keys."""
    body = {"contents": [
        {"role": "user", "parts": [{"text": "hi"}, {"inline_data": {"mime_type": "image/png", "data": "YWJj"}}]},
        {"role": "model", "parts": [{"function_call": {"id": "c1", "name": "x", "args": {"a_b": "v"}},
                                     "thought_signature": "c2ln"}]},
        {"role": "user", "parts": [{"function_response": {"id": "c1", "name": "x", "response": {"out_put": "y"}}}]}],
        "system_instruction": {"parts": [{"text": "s"}]},
        "tools": [{"function_declarations": [
            {"name": "x", "parameters_json_schema": {"type": "object", "properties": {"a_b": {"type": "string"}}}},
            {"name": "y", "parameters": {"type": "OBJECT", "properties": {"snake_name": {"type": "STRING",
                                                                                         "max_length": 3}}}}]}],
        "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["x"]}},
        "generation_config": {"max_output_tokens": 5, "response_mime_type": "application/json",
                              "response_json_schema": {"properties": {"snake_key": {}}},
                              "thinking_config": {"include_thoughts": True, "thinking_budget": 2048}}}
    assert hub(body) == {
        "model": "gemini-x",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "hi"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,YWJj"}}]},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "c1", "type": "function", "function": {"name": "x", "arguments": '{"a_b":"v"}'},
                "extra_content": {"google": {"thought_signature": "c2ln"}}}]},
            {"role": "tool", "tool_call_id": "c1", "content": '{"out_put":"y"}'}],
        "max_tokens": 5,
        "response_format": {"type": "json_schema", "json_schema": {"name": "response", "schema": {
            "properties": {"snake_key": {}}}}},
        "reasoning_effort": "medium",
        "tools": [{"type": "function", "function": {"name": "x", "parameters": {
                      "type": "object", "properties": {"a_b": {"type": "string"}}}}},
                  {"type": "function", "function": {"name": "y", "parameters": {
                      "type": "object", "properties": {"snake_name": {"type": "string", "maxLength": 3}}}}}],
        "tool_choice": {"type": "function", "function": {"name": "x"}}}
    answer = completion({"content": "a", "reasoning_content": "r"})
    thoughts = {"generation_config": {"thinking_config": {"include_thoughts": True}}}
    assert response_from_openai(answer, request=thoughts)["candidates"][0]["content"]["parts"][0]["thought"] is True


def test_the_request_is_not_modified() -> None:
    body = capture(3)
    before = copy.deepcopy(body)
    hub(body, stream=True)
    assert body == before


# ---- answers ----------------------------------------------------------------------------------

THINKING = {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
USAGE = {"prompt_tokens": 300, "completion_tokens": 30, "total_tokens": 330,
         "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 18}}


def completion(message: dict[str, Any], finish: str | None = "stop", **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gemini-x",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": USAGE, **extra}


def test_text_and_thoughts() -> None:
    body = completion({"content": "Hello", "reasoning_content": "Greeting."})
    assert response_from_openai(body, request=THINKING) == {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Greeting.", "thought": True},
                                                               {"text": "Hello"}]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 300, "candidatesTokenCount": 12, "totalTokenCount": 330,
                          "cachedContentTokenCount": 100, "thoughtsTokenCount": 18},
        "modelVersion": "gemini-x", "responseId": "chatcmpl-1"}
    # thoughts only when asked for, as Gemini does
    assert response_from_openai(body, request={})["candidates"][0]["content"]["parts"] == [{"text": "Hello"}]


def test_tool_calls_are_whole_function_calls_with_signatures() -> None:
    calls = [{"id": "call_a", "type": "function", "function": {"name": "read_file", "arguments": '{"file_path":"s"}'}},
             {"id": "call_b", "type": "function", "function": {"name": "ls", "arguments": ""},
              "extra_content": {"google": {"thought_signature": SIGNATURE}}}]
    out = response_from_openai(completion({"content": None, "tool_calls": calls}, "tool_calls"))
    assert out["candidates"][0] == {"content": {"role": "model", "parts": [
        {"functionCall": {"id": "call_a", "name": "read_file", "args": {"file_path": "s"}},
         "thoughtSignature": "skip_thought_signature_validator"},
        {"functionCall": {"id": "call_b", "name": "ls", "args": {}}, "thoughtSignature": SIGNATURE},
    ]}, "finishReason": "STOP", "index": 0}


def test_a_real_signature_on_the_first_call_is_kept() -> None:
    calls = [{"id": "c", "function": {"name": "f", "arguments": "{}"},
              "extra_content": {"google": {"thought_signature": SIGNATURE}}}]
    part = response_from_openai(completion({"tool_calls": calls}))["candidates"][0]["content"]["parts"][0]
    assert part["thoughtSignature"] == SIGNATURE


@pytest.mark.parametrize("arguments", ['{"a": ', "[1]", '"x"'])
def test_malformed_arguments_end_with_malformed_function_call(arguments: str) -> None:
    calls = [{"id": "c", "function": {"name": "f", "arguments": arguments}}]
    candidate = response_from_openai(completion({"content": "x", "tool_calls": calls}, "tool_calls"))["candidates"][0]
    assert candidate["finishReason"] == "MALFORMED_FUNCTION_CALL"
    assert candidate["content"]["parts"] == [{"text": "x"}]


@pytest.mark.parametrize(("reason", "expected"), [
    ("stop", "STOP"), ("length", "MAX_TOKENS"), ("tool_calls", "STOP"), ("function_call", "STOP"),
    ("content_filter", "SAFETY"), (None, "STOP"), ("weird", "OTHER"),
])
def test_finish_reasons(reason: str | None, expected: str) -> None:
    out = response_from_openai(completion({"content": "x"}, reason))
    assert out["candidates"][0]["finishReason"] == expected


def test_usage_without_details_and_several_candidates() -> None:
    body = completion({"content": "a"}, usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8})
    body["choices"].append({"index": 1, "message": {"role": "assistant", "content": "b", "refusal": None},
                            "finish_reason": "length"})
    out = response_from_openai(body)
    assert out["usageMetadata"] == {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}
    assert [(c["index"], c["content"]["parts"], c["finishReason"]) for c in out["candidates"]] == [
        (0, [{"text": "a"}], "STOP"), (1, [{"text": "b"}], "MAX_TOKENS")]


def test_refusal_becomes_text() -> None:
    out = response_from_openai(completion({"content": None, "refusal": "I can't."}, "content_filter"))
    assert out["candidates"][0]["content"]["parts"] == [{"text": "I can't."}]
    assert out["candidates"][0]["finishReason"] == "SAFETY"


# ---- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "code", "expected_status", "rpc"), [
    (400, None, 400, "INVALID_ARGUMENT"), (401, "invalid_api_key", 401, "UNAUTHENTICATED"),
    (403, None, 403, "PERMISSION_DENIED"), (404, "model_not_found", 404, "NOT_FOUND"),
    (429, "insufficient_quota", 429, "RESOURCE_EXHAUSTED"), (500, None, 500, "INTERNAL"),
    (503, None, 503, "UNAVAILABLE"), (504, None, 504, "DEADLINE_EXCEEDED"), (418, None, 418, "FAILED_PRECONDITION"),
    (529, None, 529, "INTERNAL"), (0, None, 500, "INTERNAL"), (400, "FAILED_PRECONDITION", 400, "FAILED_PRECONDITION"),
])
def test_errors(status: int, code: Any, expected_status: int, rpc: str) -> None:
    error = OpenAIError(status=status, message="went wrong", type="x", code=code)
    got_status, body = gemini_client.error_from_openai(error)
    assert got_status == expected_status
    assert orjson.loads(body) == {"error": {"code": expected_status, "message": "went wrong", "status": rpc}}


# ---- google-genai reads the answers ------------------------------------------------------------

def sdk_client(status: int, body: bytes, chunk: int = 0) -> Any:
    """A google-genai client whose HTTP transport answers `body` locally (no network)."""
    genai = pytest.importorskip("google.genai")
    try:
        import httpx2 as httpx
    except ImportError:   # older google-genai releases use httpx
        import httpx  # type: ignore[no-redef]

    def answer(request: Any) -> Any:
        content = iter([body[i:i + chunk] for i in range(0, len(body), chunk)]) if chunk else body
        kind = "text/event-stream" if chunk else "application/json"
        return httpx.Response(status, headers={"content-type": kind}, content=content)

    options = genai.types.HttpOptions(base_url="http://gateway.test",
                                      httpx_client=httpx.Client(transport=httpx.MockTransport(answer)))
    return genai.Client(api_key="sk-test", http_options=options)


def test_google_genai_reads_a_converted_answer() -> None:
    calls = [{"id": "call_a", "function": {"name": "read_file", "arguments": '{"file_path":"s"}'}}]
    body = completion({"content": "Reading.", "reasoning_content": "Hm.", "tool_calls": calls}, "tool_calls")
    answer = orjson.dumps(response_from_openai(body, request=THINKING))
    result = sdk_client(200, answer).models.generate_content(model="gemini-x", contents="q")
    assert result.text == "Reading."
    assert [(c.id, c.name, c.args) for c in result.function_calls] == [("call_a", "read_file", {"file_path": "s"})]
    assert result.candidates[0].content.parts[0].thought is True
    assert result.candidates[0].finish_reason.value == "STOP"
    usage = result.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.thoughts_token_count,
            usage.cached_content_token_count, usage.total_token_count) == (300, 12, 18, 100, 330)


def test_google_genai_raises_a_converted_error() -> None:
    errors = pytest.importorskip("google.genai.errors")
    status, body = gemini_client.error_from_openai(OpenAIError(429, "slow down", "rate_limit_error"))
    with pytest.raises(errors.ClientError) as info:
        sdk_client(status, body).models.generate_content(model="gemini-x", contents="q")
    assert (info.value.code, info.value.status, info.value.message) == (429, "RESOURCE_EXHAUSTED", "slow down")


def test_google_genai_requests_convert() -> None:
    """What google-genai itself sends for a tool round trip with a full config is carried, and its answer read."""
    genai = pytest.importorskip("google.genai")
    types = genai.types
    try:
        import httpx2 as httpx
    except ImportError:   # older google-genai releases use httpx
        import httpx  # type: ignore[no-redef]
    seen: list[dict[str, Any]] = []

    def handle(request: Any) -> Any:
        seen.append(request_to_openai(orjson.loads(request.content), model="gemini-x"))
        calls = [{"id": "call_9", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]
        body = response_from_openai(completion({"content": "Checking.", "tool_calls": calls}, "tool_calls"))
        return httpx.Response(200, headers={"content-type": "application/json"}, content=orjson.dumps(body))

    options = types.HttpOptions(base_url="http://gateway.test",
                                httpx_client=httpx.Client(transport=httpx.MockTransport(handle)))
    client = genai.Client(api_key="sk-test", http_options=options)
    weather = types.FunctionDeclaration(name="get_weather", description="Weather", parameters=types.Schema(
        type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))
    config = types.GenerateContentConfig(
        system_instruction="Be brief.", temperature=0.5, top_p=0.9, top_k=20, max_output_tokens=64,
        stop_sequences=["END"], seed=3, tools=[types.Tool(function_declarations=[weather])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=2048))
    history = [types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
               types.Content(role="model", parts=[types.Part(function_call=types.FunctionCall(
                   id="call_1", name="get_weather", args={"city": "Paris"}))]),
               types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
                   id="call_1", name="get_weather", response={"output": "sunny"}))])]
    result = client.models.generate_content(model="gemini-x", contents=history, config=config)
    assert seen == [{
        "model": "gemini-x",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
                "name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"output":"sunny"}'}],
        "temperature": 0.5, "top_p": 0.9, "seed": 3, "max_tokens": 64, "stop": ["END"], "reasoning_effort": "medium",
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        "tool_choice": "required"}]
    assert result.text == "Checking."
    assert [(c.id, c.name, c.args) for c in result.function_calls] == [("call_9", "get_weather", {"city": "Paris"})]


def test_gemini_cli_routing_classifier_schema_in_json_schema_case() -> None:
    """Gemini CLI's auto-model classifier (0.61.0, `generateContent` on a flash-lite model) sends its
    responseJsonSchema with Gemini's upper-case type names, which Gemini takes and JSON Schema (OpenAI) does
    not: they reach the hub lower-cased, property names and other keywords untouched; same for tool schemas."""
    schema = {"type": "OBJECT", "properties": {
        "complexity_reasoning": {"type": "STRING", "description": "Brief explanation for the score."},
        "complexity_score": {"type": "INTEGER", "description": "Complexity score from 1-100."},
        "TYPE": {"type": ["ARRAY", "NULL"], "items": {"anyOf": [{"type": "NUMBER"}, {"type": "BOOLEAN"}]}}},
        "required": ["complexity_reasoning", "complexity_score"], "additionalProperties": {"type": "STRING"}}
    body = {"contents": [{"role": "user", "parts": [{"text": "rate this"}]}],
            "generationConfig": {"temperature": 1, "topP": 0.95, "topK": 64, "responseMimeType": "application/json",
                                 "responseJsonSchema": schema,
                                 "thinkingConfig": {"includeThoughts": True, "thinkingLevel": "HIGH"}},
            "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": schema}]}]}
    hub = request_to_openai(body, model="gemini-3.5-flash-lite")
    expected = {"type": "object", "properties": {
        "complexity_reasoning": {"type": "string", "description": "Brief explanation for the score."},
        "complexity_score": {"type": "integer", "description": "Complexity score from 1-100."},
        "TYPE": {"type": ["array", "null"], "items": {"anyOf": [{"type": "number"}, {"type": "boolean"}]}}},
        "required": ["complexity_reasoning", "complexity_score"], "additionalProperties": {"type": "string"}}
    assert hub["response_format"] == {"type": "json_schema", "json_schema": {"name": "response", "schema": expected}}
    assert hub["tools"][0]["function"]["parameters"] == expected
    assert body["generationConfig"]["responseJsonSchema"]["type"] == "OBJECT"   # the client's request unchanged
