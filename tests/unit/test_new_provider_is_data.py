"""Adding an OpenAI-compatible provider is one [[type]] entry in channel_types.toml plus its prices.

The shipped catalog with one more entry appended: the relay builds the new type's URL and auth, the console's
GET /api/channel/types lists it with its defaults, /v1/models lists its models, and the prices file prices
them — no registry in code names it.
"""

from __future__ import annotations

from pathlib import Path

from admin_api.routes.choices import type_json
from proxy.addons.info import ModelCatalog
from proxy.addons.mapping import ModelMapping
from proxy.addons.openai_upstream import OpenAIUpstream
from rules import load_catalog, load_prices
from rules.catalog import DEFAULT_CATALOG_PATH
from rules.prices import DEFAULT_PRICES_PATH
from tests.unit.addons.fakes import channel, make_flow

NEW_TYPE = """
[[type]]
id = 90
name = "Example AI"
base_url = "https://api.example-ai.test"
api_style = "openai"
owned_by = "example-ai"
models = "example_ai"
"""


def _with_new_type(tmp_path: Path) -> Path:
    text = DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")
    text = text.replace("catalog_order = [\n", "catalog_order = [\n    90,\n", 1)   # listed in /v1/models
    text = text.replace("[model_lists]\n", '[model_lists]\nexample_ai = ["example-large"]\n', 1)
    path = tmp_path / "channel_types.toml"
    path.write_text(text + NEW_TYPE, encoding="utf-8")
    return path


async def test_one_entry_makes_a_working_type(tmp_path: Path) -> None:
    catalog = load_catalog(_with_new_type(tmp_path))
    body = {"model": "example-large", "messages": [{"role": "user", "content": "hi"}]}
    flow = make_flow(body=body, requested_model="example-large", mode="chat", relay_path="/v1/chat/completions")
    flow.state.body = dict(body)
    flow.state.channel = channel(type=90, base_url="", key="sk-example", models=("example-large",))
    ModelMapping().rewrite(flow)
    OpenAIUpstream(catalog, 0, False).rewrite(flow)
    assert flow.upstream.url == "https://api.example-ai.test/v1/chat/completions"
    assert flow.upstream.headers["Authorization"] == "Bearer sk-example"

    assert type_json(catalog.get(90))["name"] == "Example AI"
    assert type_json(catalog.get(90))["base_url"] == "https://api.example-ai.test"
    assert ModelCatalog(catalog).by_id["example-large"]["owned_by"] == "example-ai"
    assert catalog.models_by_type()[90] == ["example-large"]


def test_its_price_is_one_line_of_prices_toml(tmp_path: Path) -> None:
    text = DEFAULT_PRICES_PATH.read_text(encoding="utf-8")
    assert "\n[model_ratio]\n" in text
    path = tmp_path / "prices.toml"
    path.write_text(text.replace("\n[model_ratio]\n", '\n[model_ratio]\n"example-large" = 2.5\n', 1), encoding="utf-8")
    assert load_prices(path).model_ratio("example-large") == 2.5
