"""Balance sources, key hints and form fields of channel_types.toml: what the shipped file says, and bad entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from admin_api.balance import READERS
from rules import RulesError, load_catalog
from rules.channel_form import BALANCE_READERS, BalanceSource, FormField, OtherField

ONE_TYPE = """
[[type]]
id = 1
name = "OpenAI"
api_style = "openai"
{extra}
"""


def test_shipped_balance_sources() -> None:
    catalog = load_catalog()
    sources = {t.id: t.balance_source for t in catalog if t.balance_source}
    assert sources[4] == BalanceSource(path="/dashboard/billing/credit_grants", field="total_available")
    assert sources[5] == BalanceSource(path="/sb-api/user/status", field="data.credit", auth="query")
    assert sources[10] == BalanceSource(path="/api/report/getUserOverview", field="data.totalPoints",
                                        auth="api-key", base="https://aiproxy.io")
    assert {i: s.reader for i, s in sources.items() if s.reader != "field"} == {
        1: "openai", 8: "openai", 20: "openrouter", 36: "deepseek", 44: "siliconflow"}
    assert sources[36].currency == "CNY"


def test_every_named_reader_has_code() -> None:
    assert set(READERS) == BALANCE_READERS - {"field", "openai"}


def test_shipped_forms() -> None:
    catalog = load_catalog()
    assert catalog.get(3).other_fallback == "2024-03-01-preview" and catalog.get(24).other_fallback == ""
    assert catalog.get(18).form.other == OtherField(label="Spark version", placeholder="v1.1")
    assert catalog.get(33).form.config == (
        FormField("ak", "AWS Access Key ID"), FormField("sk", "AWS Secret Access Key"),
        FormField("region", "Region", "us-east-1"))
    assert {t.id: t.key_hint for t in catalog if t.key_hint and not t.form.key_from_config} == {
        3: "AZURE_OPENAI_KEY", 8: "Key sent as a Bearer token; the base URL is used as given",
        15: "APIKey|SecretKey", 16: "id.secret", 18: "APPID|APISecret|APIKey", 22: "APIKey-AppId",
        23: "AppId|SecretId|SecretKey", 34: "Coze personal access token"}
    # an OpenAI-compatible provider needs none of this: most types have no form at all
    assert sum(1 for t in catalog if t.form == type(t.form)()) > 30


@pytest.mark.parametrize(("extra", "fragment"), [
    ("balance = true", "type 1.balance: must be a table"),
    ('balance = { reader = "cash", path = "/x" }', "unknown reader 'cash'"),
    ('balance = { path = "/x" }', "'field' is needed with reader 'field'"),
    ('balance = { reader = "deepseek", path = "/x", field = "a" }', "'field' is needed with reader 'field' and only"),
    ('balance = { field = "a" }', "'path' must start with '/'"),
    ('balance = { reader = "openai", path = "/v1/x" }', "left out only for reader 'openai'"),
    ('balance = { path = "/x", field = "a", auth = "basic" }', "unknown auth 'basic'"),
    ('balance = { path = "/x", field = "a", url = "b" }', "unknown field(s) 'url'"),
    ("key_hint = 3", "field 'key_hint' must be a string"),
    ('form.other = { placeholder = "x" }', "type 1.form.other: missing required field 'label'"),
    ('form.config = { key = "a" }', "field 'config' must be a list of tables"),
    ('form.config = [{ key = "a" }]', "type 1.form.config #1: missing required field 'label'"),
    ('form.config = [{ key = "a", label = "A" }, { key = "a", label = "B" }]', "config repeats a key"),
    ("form.key_from_config = true", "key_from_config needs config fields"),
    ("form.models_optinal = true", "unknown field(s) 'models_optinal'"),
])
def test_bad_entry_names_the_problem(tmp_path: Path, extra: str, fragment: str) -> None:
    path = tmp_path / "types.toml"
    path.write_text(ONE_TYPE.format(extra=extra), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_catalog(path)
    assert str(caught.value).startswith("types.toml: type 1") and fragment in str(caught.value)
