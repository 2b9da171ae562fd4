"""Every provider's usage read into one Usage with each part once (prices-2026.md §8: what is inside what)."""

from __future__ import annotations

from proxy.converters.base import Usage
from proxy.converters.usage import usage_from_anthropic, usage_from_gemini, usage_from_openai


def test_openai_chat_cache_and_reasoning_are_parts_of_the_counts() -> None:
    usage = usage_from_openai({"prompt_tokens": 120_000, "completion_tokens": 4_000, "total_tokens": 124_000,
                               "prompt_tokens_details": {"cached_tokens": 100_000, "audio_tokens": 7},
                               "completion_tokens_details": {"reasoning_tokens": 3_000, "audio_tokens": 5}})
    assert usage == Usage(prompt_tokens=120_000, completion_tokens=4_000, cached_tokens=100_000,
                          reasoning_tokens=3_000, audio_input_tokens=7, audio_output_tokens=5)


def test_responses_input_and_output_details_with_cache_writes() -> None:
    usage = usage_from_openai({"input_tokens": 900, "output_tokens": 60, "total_tokens": 960,
                               "input_tokens_details": {"cached_tokens": 500, "cache_write_tokens": 300},
                               "output_tokens_details": {"reasoning_tokens": 40}})
    assert usage == Usage(prompt_tokens=900, completion_tokens=60, cached_tokens=500, reasoning_tokens=40,
                          cache_write_5m_tokens=300)


def test_deepseek_hit_and_miss_sum_to_the_prompt() -> None:
    usage = usage_from_openai({"prompt_tokens": 1_000, "completion_tokens": 10, "total_tokens": 1_010,
                               "prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 200})
    assert (usage.prompt_tokens, usage.cached_tokens) == (1_000, 800)


def test_kimi_top_level_cached_tokens_and_qwen_explicit_writes() -> None:
    assert usage_from_openai({"prompt_tokens": 50, "completion_tokens": 1, "cached_tokens": 30}).cached_tokens == 30
    qwen = usage_from_openai({"prompt_tokens": 5_000, "completion_tokens": 10, "prompt_tokens_details": {
        "cached_tokens": 1_000, "cache_creation_input_tokens": 2_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 2_000}, "cache_type": "ephemeral"}})
    assert qwen is not None and (qwen.cached_tokens, qwen.cache_write_5m_tokens) == (1_000, 2_000)


def test_reasoning_outside_the_completion_is_added_once() -> None:
    # xAI-style arithmetic: total = prompt + completion + reasoning means reasoning was left out of completion
    usage = usage_from_openai({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 45,
                               "completion_tokens_details": {"reasoning_tokens": 30}})
    assert usage is not None and (usage.completion_tokens, usage.reasoning_tokens) == (35, 30)
    inside = usage_from_openai({"prompt_tokens": 10, "completion_tokens": 35, "total_tokens": 45,
                                "completion_tokens_details": {"reasoning_tokens": 30}})
    assert inside is not None and inside.completion_tokens == 35


def test_anthropic_cache_is_beside_input_and_writes_are_split() -> None:
    usage = usage_from_anthropic({"input_tokens": 1_200, "cache_read_input_tokens": 48_000,
                                  "cache_creation_input_tokens": 2_500,
                                  "cache_creation": {"ephemeral_5m_input_tokens": 500,
                                                     "ephemeral_1h_input_tokens": 2_000},
                                  "output_tokens": 800})
    assert usage == Usage(prompt_tokens=51_700, completion_tokens=800, cached_tokens=48_000,
                          cache_write_5m_tokens=500, cache_write_1h_tokens=2_000)
    # without the split (older answers, Bedrock metrics) every write is a 5-minute one
    assert usage_from_anthropic({"input_tokens": 1, "cache_creation_input_tokens": 9}).cache_write_5m_tokens == 9


def test_gemini_thoughts_beside_candidates_cache_inside_prompt() -> None:
    usage = usage_from_gemini({"promptTokenCount": 300_000, "cachedContentTokenCount": 250_000,
                               "candidatesTokenCount": 1_000, "thoughtsTokenCount": 2_000,
                               "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 299_000},
                                                       {"modality": "AUDIO", "tokenCount": 1_000}]})
    assert usage == Usage(prompt_tokens=300_000, completion_tokens=3_000, cached_tokens=250_000,
                          reasoning_tokens=2_000, audio_input_tokens=1_000)


def test_hub_usage_round_trips_every_part() -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=20, cached_tokens=40, reasoning_tokens=5,
                  cache_write_5m_tokens=10, cache_write_1h_tokens=20, audio_input_tokens=3, audio_output_tokens=4)
    assert usage_from_openai(usage.to_openai()) == usage
