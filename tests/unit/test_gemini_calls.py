"""Gemini's calls read from their URL, the query without the client's key, the relay mode of each call, the
fields a pass-through changes, the model list's pages and the billable text of Gemini answers."""

from __future__ import annotations

import pytest

from proxy.addons.dialect_upstream import gemini_changes
from proxy.addons.usage_tap import gemini_parts
from proxy.converters.dialects.gemini_client_models import model_list, model_resource, page_size
from proxy.gateway import modes
from proxy.gateway.gemini_calls import GeminiCall, parse_call, query_param, without_key


@pytest.mark.parametrize(("path", "call"), [
    ("/v1beta/models/gemini-2.5-pro:generateContent", GeminiCall("v1beta", "gemini-2.5-pro", "generateContent")),
    ("/v1/models/gemini-x:streamGenerateContent", GeminiCall("v1", "gemini-x", "streamGenerateContent")),
    ("/v1beta/models/google/gemini-2.0-flash:countTokens",
     GeminiCall("v1beta", "google/gemini-2.0-flash", "countTokens")),
    ("/v1beta/models/text-embedding-004:batchEmbedContents",
     GeminiCall("v1beta", "text-embedding-004", "batchEmbedContents")),
    ("/v1/models/gpt-4o", None),                       # OpenAI's model route
    ("/v1/models/gpt-4o:unknown", None),
    ("/v1beta/models/:generateContent", None),
    ("/v1/chat/completions", None),
])
def test_parse_call(path: str, call: GeminiCall | None) -> None:
    assert parse_call(path) == call


def test_streams_and_embeds() -> None:
    assert GeminiCall("v1beta", "m", "streamGenerateContent").streams
    assert not GeminiCall("v1beta", "m", "generateContent").streams
    assert GeminiCall("v1beta", "m", "embedContent").embeds and GeminiCall("v1", "m", "batchEmbedContents").embeds


def test_the_key_never_stays_in_the_query() -> None:
    assert without_key("alt=sse&key=sk-abc") == "alt=sse"
    assert without_key("key=sk-abc") == ""
    assert query_param("alt=sse&key=sk-a%2Bb", "key") == "sk-a+b" and query_param("alt=sse", "key") == ""


def test_modes() -> None:
    assert modes.mode_for("/v1beta/models/g:streamGenerateContent") == (modes.CHAT, "/v1/chat/completions")
    assert modes.mode_for("/v1/models/e:embedContent") == (modes.EMBEDDINGS, "/v1/embeddings")
    assert modes.mode_for("/v1/models") == ("", "/v1/models")


def test_pass_through_changes_only_what_it_must() -> None:
    body = {"contents": [], "generation_config": {"temperature": 1, "max_output_tokens": 9000}}
    assert gemini_changes(body, "", "", 0) == {}
    assert gemini_changes(body, "", "Be brief.", 512) == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generation_config": {"temperature": 1, "max_output_tokens": 512}}
    batch = {"requests": [{"model": "models/alias", "content": {"parts": [{"text": "a"}]}}]}
    assert gemini_changes(batch, "real", "", 0) == {
        "requests": [{"model": "models/real", "content": {"parts": [{"text": "a"}]}}]}


def test_model_pages() -> None:
    models = [model_resource(m, 8192) for m in ("a", "b", "text-embedding-004")]
    assert models[2]["supportedGenerationMethods"] == ["embedContent", "batchEmbedContents"]
    assert models[0] == {"name": "models/a", "baseModelId": "a", "version": "", "displayName": "a",
                         "description": "", "outputTokenLimit": 8192,
                         "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"]}
    first = model_list(models, 2, "")
    assert [m["name"] for m in first["models"]] == ["models/a", "models/b"] and first["nextPageToken"] == "2"
    assert model_list(models, 2, "2") == {"models": [models[2]]}
    assert page_size("") == 50 and page_size("5000") == 1000
    for bad in ("-1", "x"):
        with pytest.raises(ValueError):
            page_size(bad)
    with pytest.raises(ValueError):
        model_list(models, 2, "nope")


def test_billable_text_of_a_gemini_event() -> None:
    event = {"candidates": [{"content": {"parts": [{"text": "Hi", "thought": True}, {"text": " there"},
                                                   {"functionCall": {"name": "f", "args": {"a": 1}}}]}}]}
    assert gemini_parts(event) == ["Hi", " there", 'f{"a":1}']
    assert gemini_parts({"candidates": "bad"}) == [] and gemini_parts({"usage": {}}) == []
