"""Every provider's and dialect's usage object read into one `Usage`, each part exactly once.

The rule that matters (prices-2026.md §8): OpenAI, Responses, Gemini, DeepSeek, Qwen, GLM, Kimi and xAI count cache
reads (and writes) inside the prompt count; Anthropic counts them beside `input_tokens`. Gemini counts thoughts
beside the candidates; the others count reasoning inside the output. `Usage` keeps OpenAI's convention, so the
readers below add what a provider left outside and never add what it already counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.converters.base import Usage

__all__ = ["usage_from_anthropic", "usage_from_gemini", "usage_from_openai"]


def _int(value: Any) -> int:
    """A count as reported; anything but a non-negative number is 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return 0
    return max(int(value), 0)


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def _writes(details: Any) -> tuple[int, int]:
    """(5m, 1h) cache writes of a details object: the split when given, else the total as the one write rate."""
    split = _get(details, "cache_creation")
    total = _int(_get(details, "cache_creation_input_tokens")) or _int(_get(details, "cache_write_tokens"))
    if isinstance(split, Mapping):
        five, hour = _int(split.get("ephemeral_5m_input_tokens")), _int(split.get("ephemeral_1h_input_tokens"))
        return five + max(total - five - hour, 0), hour
    return total, 0


def usage_from_openai(obj: Any) -> Usage | None:
    """OpenAI chat/completions `usage` or the Responses API's input/output form (and the OpenAI-compatible
    providers' extensions: DeepSeek's hit/miss, Kimi's top-level `cached_tokens`, Qwen's cache writes, xAI's
    reasoning outside the completion). None when it is not a usage object."""
    if not isinstance(obj, Mapping):
        return None
    prompt = obj.get("prompt_tokens", obj.get("input_tokens"))
    if not isinstance(prompt, int) or isinstance(prompt, bool):
        return None
    prompt = max(prompt, 0)
    completion = _int(obj.get("completion_tokens", obj.get("output_tokens", 0)))
    total = _int(obj.get("total_tokens"))
    if total and not completion and prompt < total and "completion_tokens_details" not in obj:
        completion = total - prompt     # embeddings report prompt + total only
    inp = obj.get("prompt_tokens_details") or obj.get("input_tokens_details")
    out = obj.get("completion_tokens_details") or obj.get("output_tokens_details")
    cached = (_int(_get(inp, "cached_tokens")) or _int(obj.get("prompt_cache_hit_tokens"))   # DeepSeek
              or _int(obj.get("cached_tokens")))                                              # Kimi
    reasoning = _int(_get(out, "reasoning_tokens"))
    if reasoning and total and total == prompt + completion + reasoning:
        completion += reasoning         # reasoning reported outside the completion (xAI's arithmetic test)
    five, hour = _writes(inp)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached,
                 reasoning_tokens=reasoning, cache_write_5m_tokens=five, cache_write_1h_tokens=hour,
                 audio_input_tokens=_int(_get(inp, "audio_tokens")),
                 audio_output_tokens=_int(_get(out, "audio_tokens")),
                 image_input_tokens=_int(_get(inp, "image_tokens")),
                 image_output_tokens=_int(_get(out, "image_tokens")))


def usage_from_anthropic(raw: Any) -> Usage:
    """Anthropic's usage (a message's, `message_start`'s or the cumulative `message_delta`'s): `input_tokens` is
    only what follows the last cache breakpoint, so the prompt is input + cache writes + cache reads."""
    if not isinstance(raw, Mapping):
        return Usage()
    read = _int(raw.get("cache_read_input_tokens"))
    five, hour = _writes(raw)
    return Usage(prompt_tokens=_int(raw.get("input_tokens")) + five + hour + read,
                 completion_tokens=_int(raw.get("output_tokens")), cached_tokens=read,
                 reasoning_tokens=_int(_get(raw, "output_tokens_details", "thinking_tokens")),
                 cache_write_5m_tokens=five, cache_write_1h_tokens=hour)


def _modality(details: Any, modality: str) -> int:
    """Tokens of one modality in Gemini's `[{modality, tokenCount}]` lists."""
    if not isinstance(details, list):
        return 0
    return sum(_int(d.get("tokenCount")) for d in details if isinstance(d, Mapping) and d.get("modality") == modality)


def usage_from_gemini(meta: Any) -> Usage:
    """Gemini's usageMetadata: the cache is inside promptTokenCount, thoughts are beside candidatesTokenCount (and
    billed as output), tool-use prompt tokens beside the prompt (billed as input)."""
    if not isinstance(meta, Mapping):
        return Usage()
    thoughts = _int(meta.get("thoughtsTokenCount"))
    prompt_details, output_details = meta.get("promptTokensDetails"), meta.get("candidatesTokensDetails")
    return Usage(prompt_tokens=_int(meta.get("promptTokenCount")) + _int(meta.get("toolUsePromptTokenCount")),
                 completion_tokens=_int(meta.get("candidatesTokenCount")) + thoughts,
                 cached_tokens=_int(meta.get("cachedContentTokenCount")), reasoning_tokens=thoughts,
                 audio_input_tokens=_modality(prompt_details, "AUDIO"),
                 audio_output_tokens=_modality(output_details, "AUDIO"),
                 image_input_tokens=_modality(prompt_details, "IMAGE"),
                 image_output_tokens=_modality(output_details, "IMAGE"))
