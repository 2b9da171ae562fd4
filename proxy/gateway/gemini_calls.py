"""Gemini's native calls are named by their URL, not their body: `POST /{v1beta|v1}/models/{model}:{method}`.
The model and whether the answer streams come from the path (client-dialects.md §4.1); this reads them once,
for every addon (dialect, auth, mode, the pass-through's URL)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

__all__ = ["GENERATE", "STREAM", "COUNT", "EMBED", "BATCH_EMBED", "METHODS", "GeminiCall", "parse_call",
           "query_param", "without_key"]

GENERATE, STREAM, COUNT = "generateContent", "streamGenerateContent", "countTokens"
EMBED, BATCH_EMBED = "embedContent", "batchEmbedContents"
METHODS = frozenset({GENERATE, STREAM, COUNT, EMBED, BATCH_EMBED})
_VERSIONS = ("v1beta", "v1")


@dataclass(frozen=True, slots=True)
class GeminiCall:
    version: str    # "v1beta" or "v1", as the client called it (the pass-through calls the same)
    model: str      # as in the path, "models/" dropped
    method: str     # one of METHODS
    array: bool = False   # a stream asked for without `alt=sse`: answered as one JSON array (not from the path)

    @property
    def streams(self) -> bool:
        return self.method == STREAM

    @property
    def embeds(self) -> bool:
        return self.method in (EMBED, BATCH_EMBED)


def parse_call(path: str) -> GeminiCall | None:
    """`/v1beta/models/gemini-2.5-pro:generateContent` → its call; None for any other path (OpenAI's
    `/v1/models/{model}` has no `:method` and stays OpenAI's)."""
    for version in _VERSIONS:
        prefix = f"/{version}/models/"
        if path.startswith(prefix):
            model, colon, method = path[len(prefix):].rpartition(":")
            if colon and model and method in METHODS:
                return GeminiCall(version, model, method)
            return None
    return None


def query_param(query: str, name: str) -> str:
    """One parameter of a query string ("" when absent)."""
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == name:
            return value
    return ""


def without_key(query: str) -> str:
    """The query without the client's `key=` (its gateway token must never reach an upstream)."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "key"]
    return urlencode(pairs)
