"""rules/auto_disable.toml: the one list of errors that disable a channel, read by the relay and by "test all"."""

from __future__ import annotations

from pathlib import Path

import pytest

from admin_api.channel_sweep import should_disable as sweep_disables
from proxy.addons.health import should_disable as relay_disables
from rules import RulesError, load_auto_disable


def test_one_apis_list() -> None:
    rule = load_auto_disable()
    assert rule.statuses == {401}
    assert rule.types == {"insufficient_quota", "authentication_error", "permission_error", "forbidden"}
    assert rule.codes == {"invalid_api_key", "account_deactivated"}
    assert rule.phrases == (
        "your access was terminated", "violation of our policies", "your credit balance is too low",
        "organization has been disabled", "credit", "balance", "permission denied",
        "organization has been restricted", "api key not valid", "api key expired", "已欠费")


@pytest.mark.parametrize(("error", "disables"), [
    ({"type": "insufficient_quota", "message": "no"}, True),
    ({"code": "invalid_api_key", "message": ""}, True),
    ({"message": "Insufficient Account BALANCE"}, True),
    ({"message": "You have run out of credits"}, True),
    ({"message": "账户已欠费"}, True),
    ({"message": "API key not valid. Please pass a valid API key."}, True),
    ({"type": "invalid_request_error", "message": "model not found"}, False),
    ({"message": "rate limited"}, False),
])
def test_relay_and_test_all_decide_alike(error: dict[str, str], disables: bool) -> None:
    assert sweep_disables(error) is disables
    assert relay_disables(429, error.get("type"), error.get("code"), error["message"]) is disables


def test_status_401_disables_on_the_relay_only() -> None:
    assert relay_disables(401, "invalid_request_error", None, "unauthorized")
    assert not sweep_disables({"type": "invalid_request_error", "message": "unauthorized"})
    assert not sweep_disables(None)


@pytest.mark.parametrize(("text", "fragment"), [
    ('phrases = ["Credit"]', "lower case"),
    ('phrases = [""]', "lower case"),
    ("types = []", "missing required field 'phrases'"),
    ('phrases = ["x"]\nstatuses = [4010]', "field 'statuses' must be a list of HTTP statuses"),
    ('phrases = ["x"]\ncode = ["y"]', "unknown field(s) 'code'"),
    ('phrases = "x"\ntypes = [1]', "field 'types' must be a string or a list of strings"),
])
def test_bad_file_names_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "auto_disable.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_auto_disable(path)
    assert str(caught.value).startswith("auto_disable.toml: ") and fragment in str(caught.value)
