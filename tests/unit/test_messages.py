"""The relay's message catalogue and the LANGUAGE setting that picks its language."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from proxy.gateway import messages
from settings import load_settings


@pytest.fixture(autouse=True)
def _chinese_after() -> Iterator[None]:
    yield
    messages.use("zh")


def test_both_languages_fill_the_same_fields_and_name_no_code() -> None:
    for key, (zh, en) in messages.CATALOGUE.items():
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key
        for text in (zh, en):
            assert not re.search(r"\w+\.\w+\(|\b[A-Z]\w+\.[A-Z]\w+", text), (key, text)   # no Go/Python names


def test_chinese_by_default_english_on_request() -> None:
    assert messages.say("no_channel", group="vip", model="m") == "当前分组 vip 下对于模型 m 无可用渠道"   # One API's
    messages.use("en")
    assert messages.say("model_forbidden", model="gpt-4o").endswith("model gpt-4o")
    messages.use("fr")
    assert messages.language() == "zh"


@pytest.mark.parametrize(("raw", "language"), [("en", "en"), ("en_US.UTF-8", "en"), ("EN-gb:en", "en"),
                                               ("zh_CN", "zh"), ("de_DE:de", "zh"), ("", "zh")])
def test_language_setting(raw: str, language: str) -> None:
    assert load_settings({"LANGUAGE": raw} if raw else {}, []).language == language
