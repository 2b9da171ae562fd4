"""The console's sources: its unit tests (Vitest) pass, and the channel forms it gets from the server are translated."""

from __future__ import annotations

import os
import re
import subprocess

from rules import ChannelType, load_catalog
from tests.browser.toolchain import WEB, web_build_or_skip

# Texts of the channel forms that read the same in both languages: key formats, identifiers, examples.
UNTRANSLATED = {
    "AZURE_OPENAI_KEY", "AZURE_OPENAI_ENDPOINT", "2024-03-01-preview", "APIKey|SecretKey", "id.secret",
    "APPID|APISecret|APIKey", "v1.1", "APIKey-AppId", "AppId|SecretId|SecretKey", "AWS Access Key ID",
    "AWS Secret Access Key", "us-east-1", "us-central1",
}


def _form_texts(channel_type: ChannelType) -> set[str]:
    form = channel_type.form
    texts = {channel_type.key_hint, form.base_url_label}
    if form.other:
        texts |= {form.other.label, form.other.placeholder}
    for field in form.config:
        texts |= {field.label, field.placeholder}
    return texts - {""}


def test_channel_form_texts_are_translated() -> None:
    """The console gets the forms from GET /api/channel/types in English and translates them with zh.ts."""
    zh = (WEB / "src" / "lib" / "zh.ts").read_text(encoding="utf-8")
    translated = set(re.findall(r'^\s*"((?:[^"\\]|\\.)*)":', zh, re.MULTILINE))
    texts = set().union(*(_form_texts(t) for t in load_catalog()))
    assert texts - UNTRANSLATED - translated == set()
    assert {"API version", "Region", "Service account JSON (ADC)"} <= texts & translated


def test_the_console_keeps_no_copy_of_the_channel_types() -> None:
    source = (WEB / "src" / "lib" / "channel-types.ts").read_text(encoding="utf-8")
    assert "/api/channel/types" in source
    assert not re.search(r"\{ id: \d+, name: '", source)
    assert "https://" not in source


def test_vitest_unit_tests_pass() -> None:
    web_build_or_skip()
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    result = subprocess.run(["npx", "--no-install", "vitest", "run"], cwd=WEB, capture_output=True, text=True,
                            timeout=300, env=env)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert result.returncode == 0, output[-4000:] + result.stderr[-2000:]
    assert re.search(r"Tests\s+\d+ passed", output), output[-2000:]
