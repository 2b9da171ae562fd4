"""The shared text-of-content helper that replaced the converters' private copies, and what providers get from it."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import aiproxy_library, ali, baidu, cloudflare, deepl, replicate, tencent, zhipu
from proxy.converters.text import text_of, text_parts_of

PARTS = [{"type": "text", "text": "a"}, {"type": "text", "text": ""}, {"type": "text", "text": "b"}]


def test_strings_and_null_pass() -> None:
    assert (text_of(None), text_of("x", "no")) == ("", "x")
    assert (text_parts_of(None, "no"), text_parts_of("x", "no")) == ("", "x")


def test_joins_with_the_providers_separator() -> None:
    assert text_of(PARTS, "no") == "a\n\nb"
    assert text_of(PARTS, "no", sep="") == "ab"
    assert text_parts_of(PARTS, "no") == "a\nb"      # empty texts dropped


def test_without_a_refusal_other_parts_add_nothing() -> None:
    assert text_of([{"type": "image_url", "image_url": {"url": "x"}}, *PARTS, "junk"], sep="") == "ab"


@pytest.mark.parametrize("content", [[{"type": "image_url", "image_url": {"url": "x"}}], ["a"], [None], [1], {"a": 1}])
def test_a_refusal_names_the_provider(content: Any) -> None:
    with pytest.raises(ConversionError, match="text only") as err:
        text_of(content, "Foo takes text only")
    assert err.value.status == 400
    with pytest.raises(ConversionError, match="text only"):
        text_parts_of(content, "Foo takes text only")


def _ctx(model: str, **config: str) -> ConvertContext:
    return ConvertContext(mode="chat", model=model, base_url="https://x.test", key="a|b|c", config=config,
                          now=1.0, access_token="t")


CASES = [(aiproxy_library, _ctx("gpt-4o", library_id="1")), (ali, _ctx("qwen-turbo")), (baidu, _ctx("ERNIE-3.5-8K")),
         (cloudflare, _ctx("@cf/meta/llama", api_version="native")), (deepl, _ctx("deepl-zh")),
         (replicate, _ctx("meta/llama")), (zhipu, _ctx("chatglm_turbo"))]


@pytest.mark.parametrize(("module", "ctx"), CASES, ids=[m.__name__.rsplit(".", 1)[1] for m, _ in CASES])
def test_a_part_that_is_not_an_object_is_a_400_not_a_crash(module: Any, ctx: ConvertContext) -> None:
    """A content list holding a bare string was an AttributeError (a 500) in these converters' private copies."""
    with pytest.raises(ConversionError) as err:
        module.request_from_openai({"model": ctx.model, "messages": [{"role": "user", "content": ["hi"]}]}, ctx)
    assert err.value.status == 400


def test_tencent_joins_text_parts_without_a_separator() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}
    ctx = ConvertContext(mode="chat", model="hunyuan-lite", base_url="https://hunyuan.tencentcloudapi.com",
                         key="1|id|key", now=1.0)
    assert b'"Content":"ab"' in tencent.request_from_openai(body, ctx).body
