"""Gemini embeddings and countTokens through the hub: vectors, and google-genai's own requests converted and its
answers read (over an in-process transport)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError
from proxy.converters.dialects.gemini_client_embed import (
    count_tokens_request_to_openai,
    count_tokens_response,
    embeddings_request_to_openai,
    embeddings_response_from_openai,
)

OPENAI_ANSWER = {"object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 4, "total_tokens": 4},
                 "data": [{"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
                          {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}]}


def test_embed_content() -> None:
    body = {"content": {"parts": [{"text": "hello"}, {"text": "world"}]}, "taskType": "RETRIEVAL_QUERY",
            "outputDimensionality": 256}
    assert embeddings_request_to_openai(body, model="emb", batch=False) == {
        "model": "emb", "input": ["hello\nworld"], "dimensions": 256}
    assert embeddings_response_from_openai(OPENAI_ANSWER, batch=False) == {"embedding": {"values": [0.1, 0.2]}}


def test_batch_embed_contents() -> None:
    body = {"requests": [{"model": "models/emb", "content": {"parts": [{"text": "a"}]}, "title": "t"},
                         {"content": {"parts": [{"text": "b"}]}}]}
    assert embeddings_request_to_openai(body, model="emb", batch=True) == {"model": "emb", "input": ["a", "b"]}
    assert embeddings_response_from_openai(OPENAI_ANSWER, batch=True) == {
        "embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}


@pytest.mark.parametrize(("body", "message"), [
    ({"requests": []}, "non-empty list"),
    ({"requests": [{"model": "models/other", "content": {"parts": [{"text": "a"}]}}]}, "not the model of the path"),
    ({"requests": [{"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 8},
                   {"content": {"parts": [{"text": "b"}]}}]}, "same outputDimensionality"),
    ({"requests": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "x"}}]}}]}, "only text"),
    ({"requests": [{"content": {"parts": []}}]}, "non-empty list"),
])
def test_embeddings_that_cannot_be_carried_are_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        embeddings_request_to_openai(body, model="emb", batch=True)


def test_count_tokens() -> None:
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    expected = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert count_tokens_request_to_openai({"contents": contents}, model="m") == expected
    inner = {"generateContentRequest": {"model": "models/m", "contents": contents,
                                        "systemInstruction": {"parts": [{"text": "s"}]}}}
    assert count_tokens_request_to_openai(inner, model="m")["messages"][0] == {"role": "system", "content": "s"}
    with pytest.raises(ConversionError, match="contents or one generateContentRequest"):
        count_tokens_request_to_openai({**inner, "contents": contents}, model="m")
    assert count_tokens_response(12) == {"totalTokens": 12}


def sdk_through_hub(convert: Any) -> tuple[Any, list[dict[str, Any]]]:
    """A google-genai client whose requests are converted to the hub and answered with `convert(hub request)`."""
    genai = pytest.importorskip("google.genai")
    try:
        import httpx2 as httpx
    except ImportError:   # older google-genai releases use httpx
        import httpx  # type: ignore[no-redef]
    seen: list[dict[str, Any]] = []

    def handle(request: Any) -> Any:
        action = str(request.url.path).rsplit(":", 1)[-1]
        hub, body = convert(action, orjson.loads(request.content))
        seen.append(hub)
        return httpx.Response(200, headers={"content-type": "application/json"}, content=orjson.dumps(body))

    options = genai.types.HttpOptions(base_url="http://gateway.test",
                                      httpx_client=httpx.Client(transport=httpx.MockTransport(handle)))
    return genai.Client(api_key="sk-test", http_options=options), seen


def test_google_genai_embeds_and_counts_through_the_hub() -> None:
    def convert(action: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        if action == "countTokens":
            return count_tokens_request_to_openai(body, model="emb"), count_tokens_response(7)
        batch = action == "batchEmbedContents"
        return (embeddings_request_to_openai(body, model="emb", batch=batch),
                embeddings_response_from_openai(OPENAI_ANSWER, batch=batch))

    client, seen = sdk_through_hub(convert)
    result = client.models.embed_content(model="emb", contents=["a", "b"],
                                         config={"output_dimensionality": 2, "task_type": "RETRIEVAL_DOCUMENT"})
    assert [e.values for e in result.embeddings] == [[0.1, 0.2], [0.3, 0.4]]
    assert seen[-1] == {"model": "emb", "input": ["a", "b"], "dimensions": 2}
    assert client.models.count_tokens(model="emb", contents="how many?").total_tokens == 7
    assert seen[-1]["messages"] == [{"role": "user", "content": "how many?"}]
