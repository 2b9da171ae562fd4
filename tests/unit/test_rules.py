"""Tests of the rules package: channel-type catalog, price tables, quota arithmetic, bad data files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from fractions import Fraction
from pathlib import Path

import pytest

import rules
from rules import API_STYLES, AUTH_STYLES, RulesError, load_catalog, load_prices
from rules.catalog import DEFAULT_CATALOG_PATH
from rules.gojson import go_float
from rules.prices import DEFAULT_PRICES_PATH


def go_const(numerator: str, denominator: str) -> float:
    """A Go constant division like 2.19 / 0.55: exact, then rounded once to float64."""
    return float(Fraction(numerator) / Fraction(denominator))


@pytest.fixture(scope="module")
def catalog() -> rules.Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def prices() -> rules.PriceTable:
    return load_prices()


def test_public_surface() -> None:
    assert sorted(rules.__all__) == [
        "API_STYLES", "AUTH_STYLES", "AudioRules", "AutoDisable", "BalanceSource", "COMPONENT_OPTIONS", "Catalog",
        "ChannelForm", "ChannelType", "Charge", "CompletionRule", "ImageRule", "MODEL_CREATED", "MaxOutput",
        "Parts", "PriceDefaults", "PriceTable", "RulesError", "TIER_OPTION", "load_auto_disable", "load_catalog",
        "load_max_output", "load_prices", "model_object", "ratio_table", "tier_table",
    ]


def test_rules_needs_only_the_standard_library() -> None:
    code = (
        "import sys, rules; rules.load_catalog(); rules.load_prices();"
        "extra = {m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'rules', '__main__'};"
        "print(sorted(extra))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(rules.__file__).parent.parent,
    )
    assert out.stdout.strip() == "[]"


# -- catalog -------------------------------------------------------------------------------


def test_all_52_types_with_unique_ids(catalog: rules.Catalog) -> None:
    ids = [t.id for t in catalog]
    assert ids == list(range(52))
    assert len(catalog) == 52


def test_every_type_has_a_known_api_style_and_auth(catalog: rules.Catalog) -> None:
    for t in catalog:
        assert t.api_style in API_STYLES, t
        assert t.auth in AUTH_STYLES, t


def test_unknown_type_id_raises_key_error(catalog: rules.Catalog) -> None:
    with pytest.raises(KeyError):
        catalog.get(52)


def test_default_load_is_cached() -> None:
    assert load_catalog() is load_catalog()
    assert load_prices() is load_prices()


@pytest.mark.parametrize(
    ("type_id", "api_style", "base_url"),
    [
        (1, "openai", "https://api.openai.com"),
        (3, "azure", ""),
        (14, "anthropic", "https://api.anthropic.com"),
        (18, "xunfei", ""),
        (21, "aiproxy_library", "https://api.aiproxy.io"),
        (29, "openai", "https://api.groq.com/openai"),
        (33, "aws", ""),
        (41, "openai", "https://api.novita.ai/v3/openai"),
        (43, "proxy", ""),
        (46, "replicate", "https://api.replicate.com/v1/models/"),
        (50, "openai", ""),
        (51, "openai", "https://generativelanguage.googleapis.com/v1beta/openai/"),
    ],
)
def test_type_facts(catalog: rules.Catalog, type_id: int, api_style: str, base_url: str) -> None:
    t = catalog.get(type_id)
    assert (t.api_style, t.base_url) == (api_style, base_url)


@pytest.mark.parametrize(
    ("type_id", "relay_path", "upstream"),
    [
        (1, "/v1/chat/completions", "/v1/chat/completions"),
        (1, "/v1/audio/speech", "/v1/audio/speech"),
        (27, "/v1/chat/completions", "/v1/text/chatcompletion_v2"),
        (27, "/v1/embeddings", None),
        (40, "/v1/chat/completions", "/api/v3/chat/completions"),
        (40, "/v1/embeddings", "/api/v3/embeddings"),
        (40, "/v1/images/generations", None),
        (41, "/v1/chat/completions", "/chat/completions"),
        (41, "/v1/completions", None),
        (47, "/v1/chat/completions", "/v2/chat/completions"),
        (47, "/v1/embeddings", None),
        (49, "/v1/chat/completions", "/compatible-mode/v1/chat/completions"),
        (49, "/v1/embeddings", "/compatible-mode/v1/embeddings"),
        (49, "/v1/moderations", None),
        (50, "/v1/chat/completions", "/chat/completions"),
        (50, "/v1/embeddings", "/embeddings"),
        (51, "/v1/chat/completions", "/chat/completions"),
    ],
)
def test_upstream_path(catalog: rules.Catalog, type_id: int, relay_path: str, upstream: str | None) -> None:
    assert catalog.get(type_id).upstream_path(relay_path) == upstream


@pytest.mark.parametrize(
    ("type_id", "base_url", "path", "query", "url"),
    [
        (1, "", "/v1/chat/completions", "a=1", "https://api.openai.com/v1/chat/completions?a=1"),
        (50, "https://llm.example/api/v3/", "/v1/chat/completions", "a=1",
         "https://llm.example/api/v3/chat/completions?a=1"),
        (51, "", "/v1/chat/completions", "",
         "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"),
        # fixed-path types do not forward the query string
        (27, "", "/v1/chat/completions", "a=1", "https://api.minimax.chat/v1/text/chatcompletion_v2"),
        (27, "", "/v1/embeddings", "", None),
        # Cloudflare AI Gateway in front of OpenAI / Azure
        (1, "https://gateway.ai.cloudflare.com/v1/acct/gw/openai", "/v1/chat/completions", "",
         "https://gateway.ai.cloudflare.com/v1/acct/gw/openai/chat/completions"),
        (3, "https://gateway.ai.cloudflare.com/v1/acct/gw/azure-openai/res",
         "/openai/deployments/gpt-4o/chat/completions", "api-version=2024-06-01",
         "https://gateway.ai.cloudflare.com/v1/acct/gw/azure-openai/res/gpt-4o/chat/completions"
         "?api-version=2024-06-01"),
        (2, "https://gateway.ai.cloudflare.com/x", "/v1/chat/completions", "",
         "https://gateway.ai.cloudflare.com/x/v1/chat/completions"),
    ],
)
def test_upstream_url(
    catalog: rules.Catalog, type_id: int, base_url: str, path: str, query: str, url: str | None
) -> None:
    assert catalog.get(type_id).upstream_url(base_url, path, query) == url


def test_header_auth_and_body_quirks(catalog: rules.Catalog) -> None:
    assert dict(catalog.get(20).headers) == {
        "HTTP-Referer": "https://github.com/songquanpeng/one-api", "X-Title": "One API",
    }
    assert [t.id for t in catalog if t.headers] == [20]
    assert catalog.get(1).auth == "bearer"
    assert catalog.get(3).auth == "api-key"
    assert catalog.get(14).auth == "x-api-key"
    assert catalog.get(24).auth == "x-goog-api-key"
    assert catalog.get(43).auth == "raw"
    assert [t.id for t in catalog if t.always_convert] == [26]
    assert catalog.get(1).can_pass_through and catalog.get(3).can_pass_through
    assert not catalog.get(26).can_pass_through and not catalog.get(14).can_pass_through
    assert [t.id for t in catalog if t.strip_v1] == [50, 51]
    assert [t.id for t in catalog if t.paths] == [27, 40, 41, 47, 49]


def test_balance_and_required_base_url(catalog: rules.Catalog) -> None:
    assert {t.id for t in catalog if t.balance} == {1, 4, 5, 8, 10, 12, 13, 20, 36, 44}
    assert {t.id for t in catalog if t.requires_base_url} == {3, 8, 43, 50}


def test_models_by_type(catalog: rules.Catalog) -> None:
    by_type = catalog.models_by_type()
    assert sorted(by_type) == list(range(1, 52))
    assert "gpt-4o" in by_type[1] and by_type[1] == by_type[50]
    assert by_type[34] == [] and by_type[43] == []
    assert "command-r-internet" in by_type[35]
    assert by_type[24] == by_type[51]
    assert by_type[33][:1] == ["claude-instant-1.2"] and "llama3-8b-8192" in by_type[33]


def test_model_catalog_follows_one_api_order(catalog: rules.Catalog) -> None:
    entries = catalog.model_catalog()
    assert entries[0] == ("gpt-3.5-turbo", "openai")
    assert ("claude-3-opus-20240229", "anthropic") in entries
    assert ("moonshot-v1-8k", "moonshot") in entries
    owners = {owner for _, owner in entries}
    assert {"openrouter", "alibailian", "geminiv2", "aiproxy", "azure"}.isdisjoint(owners)
    assert entries[-1] == ("4.0Ultra", "xunfeiv2")


# -- prices: tables ------------------------------------------------------------------------


def test_one_api_table_is_complete_and_exact() -> None:
    raw = tomllib.loads(DEFAULT_PRICES_PATH.read_text(encoding="utf-8"))["model_ratio"]
    assert len(raw) == 566
    expected = {
        "gpt-4": 15, "gpt-4o": 2.5, "gpt-4o-mini": 0.075, "gpt-3.5-turbo": 0.25, "o1": 7.5,
        "o3-mini": 1.5, "text-embedding-3-small": 0.01, "claude-3-5-sonnet-20241022": 1.5,
        "gemini-1.5-pro": 0.625, "deepseek-chat": 0.07, "glm-4-flash": 0, "dall-e-3": 20,
        "whisper-1": 15, "tts-1": 7.5, "openrouter/auto": -500000,
        # Go constant arithmetic: RMB = 500 / 7 between integer constants = 71
        "qwen-turbo": 0.0213, "ERNIE-4.0-8K": 8.52, "step-1-flash": 7.1e-05,
        "gemma-7b-it": 3.5e-05, "llama3-8b-8192(33)": 0.15, "llama3-70b-8192(33)": 1.325,
    }
    for name, value in expected.items():
        assert raw[name] == value, name


def test_every_default_model_has_a_price(catalog: rules.Catalog, prices: rules.PriceTable) -> None:
    missing = [
        (t.id, m) for t in catalog for m in t.models if prices.find_model_ratio(m, t.id) is None
    ]
    assert missing == []


def test_unknown_model_costs_fallback(prices: rules.PriceTable) -> None:
    assert prices.find_model_ratio("my-model") is None
    assert prices.model_ratio("my-model") == 30
    assert prices.completion_ratio("my-model") == 1


def test_channel_specific_keys(prices: rules.PriceTable) -> None:
    assert prices.model_ratio("llama3-8b-8192", 33) == 0.15
    assert prices.model_ratio("llama3-8b-8192", 29) == 2.5e-05
    assert prices.model_ratio("llama3-8b-8192") == 2.5e-05
    assert prices.completion_ratio("llama3-70b-8192", 33) == go_const("0.0035", "0.00265")
    assert prices.completion_ratio("llama3-70b-8192", 29) == go_const("0.79", "0.59")


def test_internet_suffix(prices: rules.PriceTable) -> None:
    assert prices.model_ratio("qwen-turbo-internet") == prices.model_ratio("qwen-turbo")
    assert prices.model_ratio("command-r-internet") == prices.model_ratio("command-r") == 0.25
    # One API strips "-internet" for completion ratios only for qwen-*
    assert prices.completion_ratio("command-r") == 3
    assert prices.completion_ratio("command-r-internet") == 1


@pytest.mark.parametrize(
    ("model", "ratio"),
    [
        ("gpt-3.5-turbo", 3), ("gpt-3.5-turbo-0125", 3), ("gpt-3.5-turbo-1106", 2),
        ("gpt-3.5-turbo-16k", go_const("4", "3")), ("gpt-4o-2024-05-13", 3), ("gpt-4o", 4), ("gpt-4o-mini", 4),
        ("gpt-4-turbo", 3), ("gpt-4-1106-preview", 3), ("gpt-4", 2), ("gpt-4-32k", 2),
        ("o1-mini", 4), ("o3-mini", 1), ("chatgpt-4o-latest", 3), ("claude-3-opus-20240229", 5),
        ("claude-2.1", 3), ("mistral-large-latest", 3), ("gemini-1.5-pro", 3), ("deepseek-chat", 2),
        ("deepseek-reasoner", go_const("2.19", "0.55")), ("deepseek-v3", 2), ("whisper-1", 0),
        ("llama2-70b-4096", 1.25), ("llama3-8b-8192", 2), ("command", 2), ("command-light-nightly", 2),
        ("command-r-plus", 5), ("grok-beta", 3), ("ibm-granite/granite-3.0-2b-instruct", 8.333333333333334),
        ("meta/llama-2-70b", go_const("2.750", "0.650")), ("meta/meta-llama-3-8b", 5),
        ("meta/meta-llama-3.1-405b-instruct", 1), ("mistralai/mixtral-8x7b-instruct-v0.1", go_const("1", "0.3")),
        ("qwen-turbo", 1),
    ],
)
def test_completion_ratio_rules(prices: rules.PriceTable, model: str, ratio: float) -> None:
    assert prices.completion_ratio(model) == ratio


def test_group_ratio(prices: rules.PriceTable) -> None:
    assert [prices.group_ratio(g) for g in ("default", "vip", "svip", "nope")] == [1, 1, 1, 1]
    custom = prices.with_overrides(group_ratio={"default": 0.5, "vip": 2})
    assert custom.group_ratio("default") == 0.5 and custom.group_ratio("svip") == 1
    assert custom.groups() == ["default", "vip"]


def test_overrides_keep_defaults_behind(prices: rules.PriceTable) -> None:
    table = prices.with_overrides(
        model_ratio={"gpt-4": 10, "gpt-4(3)": 12, "llama3-8b-8192": 1},
        completion_ratio={"gpt-4o": 5},
    )
    assert table.model_ratio("gpt-4", 1) == 10
    assert table.model_ratio("gpt-4", 3) == 12
    assert table.model_ratio("gpt-4o") == 2.5  # not in the option: default table
    assert table.model_ratio("llama3-8b-8192", 33) == 0.15  # default M(T) before current M
    assert table.model_ratio("llama3-8b-8192", 29) == 1
    assert table.completion_ratio("gpt-4o") == 5
    assert table.completion_ratio("deepseek-chat") == 2
    assert table.with_overrides().model_ratio("gpt-4") == 10
    assert prices.model_ratio("gpt-4") == 15  # the original is untouched


# -- prices: quota -------------------------------------------------------------------------


def test_worked_examples(prices: rules.PriceTable) -> None:
    """one-api.md §7.10."""
    assert prices.quota_for(1000, 500, "gpt-4o-mini", 1, "default") == 225
    assert prices.quota_for(123, 78, "gpt-3.5-turbo", 1, "default") == 90
    assert prices.pre_consume(100, 1000, 500, "gpt-4", 1, "default") == 24000
    assert prices.image_cost("dall-e-3", "1024x1792", "hd", 1, "default") == 60000
    assert prices.speech_cost("tts-1", 1000, 1, "default") == 7500
    assert prices.quota_for(1000, 1000, "my-model", 1, "default") == 60000


def test_quota_edges(prices: rules.PriceTable) -> None:
    assert prices.quota_for(0, 0, "gpt-4", 1, "default") == 0
    assert prices.quota_for(1, 0, "gpt-4o-mini", 1, "default") == 1  # ceil(0.075)
    assert prices.quota_for(1000, 1000, "glm-4-flash", 16, "default") == 0  # free model stays free
    assert prices.quota_for(10, 10, "openrouter/auto", 20, "default") == 1  # negative ratio: minimum 1
    # exact decimals: Go's float64 gives 7.000000000000001 and charges 8
    assert prices.quota_for(100, 0, "deepseek-chat", 36, "default") == 7
    vip = prices.with_overrides(group_ratio={"vip": 0.7})
    assert vip.quota_for(1000, 0, "gpt-4", 1, "vip") == 10500


def test_pre_consume_truncates_toward_zero(prices: rules.PriceTable) -> None:
    assert prices.pre_consume(0, 0, 500, "gpt-4o-mini", 1, "default") == 37  # 37.5
    assert prices.pre_consume(1, 0, 0, "openrouter/auto", 20, "default") == -500000


def test_image_rules(prices: rules.PriceTable) -> None:
    dalle2 = prices.image_rule("dall-e-2")
    assert dalle2 is not None
    assert dalle2.allows_size("512x512") and not dalle2.allows_size("1024x1792")
    assert dalle2.allows_n(10) and not dalle2.allows_n(11) and not dalle2.allows_n(0)
    assert dalle2.allows_prompt(1000) and not dalle2.allows_prompt(1001)
    dalle3 = prices.image_rule("dall-e-3")
    assert dalle3 is not None and dalle3.allows_n(1) and not dalle3.allows_n(2)
    cogview = prices.image_rule("cogview-3")
    assert cogview is not None and cogview.allows_size("999x999") and cogview.prompt_limit == 833
    ali = prices.image_rule("ali-stable-diffusion-xl")
    assert ali is not None and ali.upstream_name == "stable-diffusion-xl"
    assert prices.image_rule("gpt-4") is None


def test_image_cost(prices: rules.PriceTable) -> None:
    assert prices.image_cost("dall-e-2", "512x512", "standard", 2, "default") == 22500
    assert prices.image_cost("dall-e-3", "1024x1024", "hd", 1, "default") == 40000
    assert prices.image_cost("dall-e-3", "1792x1024", "standard", 1, "default") == 40000
    assert prices.image_cost("wanx-v1", "1024x1024", "", 3, "default") == 24000
    # Replicate: one image charged whatever n is
    assert prices.image_cost("black-forest-labs/flux-schnell", "1024x1024", "", 4, "default", 46) == 1500


def test_audio_rules(prices: rules.PriceTable) -> None:
    assert prices.audio.speech_max_input_bytes == 4096
    assert prices.audio.transcription_billing_model == "whisper-1"
    assert prices.transcription_pre_consume(500, 1, "default") == 7500
    assert prices.speech_cost("tts-1-hd", 4096, 1, "default") == 61440


def test_option_default_json(prices: rules.PriceTable) -> None:
    assert prices.default_group_ratio_json() == '{"default":1,"svip":1,"vip":1}'
    completion = json.loads(prices.default_completion_ratio_json())
    added = prices.defaults.components    # the models sold today, from component_prices.toml
    assert completion == {
        "llama3-8b-8192(33)": 2, "llama3-70b-8192(33)": go_const("0.0035", "0.00265"),
        "whisper-1": 0, "deepseek-chat": 2, "deepseek-reasoner": go_const("2.19", "0.55"),
        **added.completion_ratio,
    }
    text = prices.default_model_ratio_json()
    model = json.loads(text)
    assert len(model) == 566 + 150 + len(added.model_ratio)
    assert model["gpt-4o-mini"] == 0.075
    assert '"gemma-7b-it":0.000035,' in text and '"gpt-4":15,' in text
    assert list(model) == sorted(model)


@pytest.mark.parametrize(
    ("value", "text"),
    [(15.0, "15"), (0.075, "0.075"), (3.5e-05, "0.000035"), (-500000.0, "-500000"), (0.0, "0"),
     (1e-07, "1e-7"), (1e21, "1e+21"), (1 / 3, "0.3333333333333333")],
)
def test_go_float_format(value: float, text: str) -> None:
    assert go_float(value) == text


# -- bad data files ------------------------------------------------------------------------

MIN_CATALOG = """
[[type]]
id = 1
name = "OpenAI"
api_style = "openai"
models = "openai"

[model_lists]
openai = ["gpt-4"]
"""

MIN_PRICES = """
[fallback]
model_ratio = 30
completion_ratio = 1
group_ratio = 1

[model_ratio]
gpt-4 = 15

[group_ratio]
default = 1

[audio]
speech_max_input_bytes = 4096
transcription_billing_model = "whisper-1"
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_minimal_files_load(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path, "types.toml", MIN_CATALOG))
    assert [t.models for t in catalog] == [("gpt-4",)]
    prices = load_prices(_write(tmp_path, "prices.toml", MIN_PRICES))
    assert prices.model_ratio("gpt-4") == 15 and prices.completion_ratio("gpt-4") == 1


CATALOG_ERRORS = [
    (MIN_CATALOG.replace('"openai"\nmodels', '"openia"\nmodels'), ["type 1", "unknown api_style 'openia'"]),
    (MIN_CATALOG + '[[type]]\nid = 1\nname = "Again"\napi_style = "openai"\n', ["type 1", "duplicate id 1"]),
    (MIN_CATALOG.replace('models = "openai"', 'models = "nope"'), ["type 1", "unknown list 'nope'"]),
    (MIN_CATALOG.replace('api_style = "openai"', 'api_style = "openai"\nbase_ulr = "x"'),
     ["type 1", "unknown field(s) 'base_ulr'"]),
    (MIN_CATALOG.replace('api_style = "openai"', 'api_style = "openai"\nauth = "basic"'),
     ["type 1", "unknown auth 'basic'"]),
    (MIN_CATALOG.replace('api_style = "openai"', 'api_style = "openai"\nstrip_v1 = "yes"'),
     ["type 1", "'strip_v1' must be true or false"]),
    (MIN_CATALOG.replace('api_style = "openai"', 'api_style = "openai"\npaths = { "chat" = "/x" }'),
     ["type 1", "must start with '/'"]),
    (MIN_CATALOG.replace('id = 1\n', ''), ["missing required field 'id'"]),
    (MIN_CATALOG + 'catalog_order = [7]\n', ["catalog_order"]),
    ("[[type]\nid = 1", ["invalid TOML"]),
]


@pytest.mark.parametrize(("text", "fragments"), CATALOG_ERRORS)
def test_bad_catalog_entry_raises(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = _write(tmp_path, "types.toml", text)
    with pytest.raises(RulesError) as info:
        load_catalog(path)
    message = str(info.value)
    assert message.startswith("types.toml")
    for fragment in fragments:
        assert fragment in message


PRICE_ERRORS = [
    (MIN_PRICES.replace("gpt-4 = 15", 'gpt-4 = "15"'), ["model_ratio.'gpt-4'", "must be a finite number"]),
    (MIN_PRICES.replace("gpt-4 = 15", "gpt-4 = true"), ["model_ratio.'gpt-4'", "must be a finite number"]),
    (MIN_PRICES.replace("gpt-4 = 15", "gpt-4 = nan"), ["model_ratio.'gpt-4'", "must be a finite number"]),
    (MIN_PRICES.replace("default = 1", 'default = "one"'), ["group_ratio.'default'"]),
    (MIN_PRICES + '[image.models."dall-e-2"]\nn = [5, 1]\n', ["image.models.'dall-e-2'", "1 <= min <= max"]),
    (MIN_PRICES + '[image.models."dall-e-2"]\nn = [-1, 4]\n', ["image.models.'dall-e-2'", "1 <= min <= max"]),
    (MIN_PRICES + '[image.models."dall-e-2"]\nn = 4\n', ["image.models.'dall-e-2'", "[min, max]"]),
    (MIN_PRICES + '[image.models."dall-e-2"]\nsizes = { "256x256" = 0 }\n', ["sizes", "greater than 0"]),
    (MIN_PRICES + '[image.models."dall-e-2"]\nprompt_limit = -5\n', ["prompt_limit"]),
    (MIN_PRICES + "[[completion_rule]]\nratio = 3\n", ["completion_rule #1", "at least one condition"]),
    (MIN_PRICES + '[[completion_rule]]\nprefix = "gpt"\nratio = "3"\n', ["completion_rule #1", "'ratio'"]),
    (MIN_PRICES + '[[completion_rule]]\nprefx = "gpt"\nratio = 3\n', ["unknown field(s) 'prefx'"]),
    (MIN_PRICES + "[model_ratio_added]\ngpt-4 = 1\n", ["model_ratio_added.'gpt-4'", "already priced"]),
    (MIN_PRICES.replace("group_ratio = 1\n", ""), ["fallback", "'group_ratio'"]),
    (MIN_PRICES + "[extra]\nx = 1\n", ["unknown field(s) 'extra'"]),
]


@pytest.mark.parametrize(("text", "fragments"), PRICE_ERRORS)
def test_bad_price_entry_raises(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = _write(tmp_path, "prices.toml", text)
    with pytest.raises(RulesError) as info:
        load_prices(path)
    message = str(info.value)
    assert message.startswith("prices.toml")
    for fragment in fragments:
        assert fragment in message


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="absent.toml: cannot read"):
        load_catalog(tmp_path / "absent.toml")


def test_shipped_files_are_the_defaults() -> None:
    assert DEFAULT_CATALOG_PATH.name == "channel_types.toml"
    assert DEFAULT_PRICES_PATH.name == "prices.toml"


def test_max_output_longest_prefix_and_default(tmp_path: Path) -> None:
    table = rules.load_max_output()
    assert table.tokens("gpt-4o-mini") == 16384 and table.tokens("gpt-4-turbo-2024-04-09") == 4096
    assert table.tokens("claude-opus-4-5-20251101") == 64000 and table.tokens("claude-opus-4-1") == 32000
    assert table.tokens("openai/gpt-5-mini") == 128000 and table.tokens("some-new-model") == table.default
    bad = tmp_path / "max_output.toml"
    bad.write_text('default = 0\n[models]\n"x" = 1\n')
    with pytest.raises(rules.RulesError, match="default"):
        rules.load_max_output(bad)


def test_hold_covers_every_answer_up_to_its_limit_and_affordable_inverts_it(prices: rules.PriceTable) -> None:
    for model in ("gpt-4o-mini", "gpt-4", "claude-3-5-sonnet-20241022", "deepseek-chat"):
        hold = prices.hold(100, 1000, 500, model, 1, "default")
        assert all(prices.quota_for(100, c, model, 1, "default") <= hold for c in (0, 1, 999, 1000))
        tokens = prices.affordable_completion(hold + 3, 100, 500, model, 1, "default", ceiling=10**9)
        assert prices.hold(100, tokens, 500, model, 1, "default") <= hold + 3
        assert prices.hold(100, tokens + 1, 500, model, 1, "default") > hold + 3
        assert prices.affordable_completion(hold, 100, 500, model, 1, "default", ceiling=10) == 10
        assert prices.affordable_completion(0, 100, 500, model, 1, "default", ceiling=10) == -1
        limit = prices.affordable_prompt(hold, 500, model, 1, "default")
        assert prices.hold(limit, 0, 500, model, 1, "default") <= hold < prices.hold(limit + 1, 0, 500, model, 1, "default")
