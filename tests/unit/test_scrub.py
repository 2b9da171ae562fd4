"""proxy.gateway.scrub: keys, key-like tokens and addresses never reach a client in an error message."""

from __future__ import annotations

import orjson
import pytest

from proxy.gateway.scrub import REDACTED, scrub, secret_parts, upstream_hosts


def test_a_channel_key_echoed_by_the_upstream_is_redacted() -> None:
    key = "my-upstream-key-0123456789"
    text = f"Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com."
    assert scrub(text, secret_parts(key)) == \
        f"Incorrect API key provided: {REDACTED}. You can find your API key at https://platform.openai.com."


def test_every_key_of_a_multi_key_channel_and_every_part_of_a_composite_key() -> None:
    multi = "first-key-AAAAAAAA\nsecond-key-BBBBBBBB"
    assert scrub("bad: second-key-BBBBBBBB", secret_parts(multi)) == f"bad: {REDACTED}"
    aws = "AKIAEXAMPLEACCESSKEY|wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY|us-east-1"
    text = "The security token wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY is invalid in us-east-1"
    assert scrub(text, secret_parts(aws)) == f"The security token {REDACTED} is invalid in us-east-1"
    baidu = "baiduApiKey123456|baiduSecretKey7890"
    assert scrub("client_id baiduApiKey123456 unknown", secret_parts(baidu)) == f"client_id {REDACTED} unknown"


def test_a_service_account_json_key_is_redacted_field_by_field() -> None:
    account = {"type": "service_account", "private_key_id": "0123456789abcdef0123",
               "client_email": "relay@project.iam.gserviceaccount.com",
               "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"}
    parts = secret_parts(orjson.dumps(account).decode())
    text = "key 0123456789abcdef0123 of relay@project.iam.gserviceaccount.com: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    assert scrub(text, parts) == f"key {REDACTED} of {REDACTED}: {REDACTED}"


@pytest.mark.parametrize("token", ["sk-proj-abcdefABCDEF123456", "sk-ant-api03-xyzXYZ0123456789", "sk-abc*********xyz",
                                   "AIzaSyA0123456789abcdefghijklmnopq", "AKIAIOSFODNN7EXAMPLE"])
def test_key_like_tokens_are_redacted_without_knowing_them(token: str) -> None:
    assert scrub(f"invalid key {token} given") == f"invalid key {REDACTED} given"
    assert scrub("Authorization: Bearer abcdefghijklmnop") == f"Authorization: Bearer {REDACTED}"


@pytest.mark.parametrize("text, expected", [
    ("Cannot connect to host 127.0.0.1:42998 ssl:default [Connect call failed ('127.0.0.1', 42998)]",
     f"Cannot connect to host {REDACTED} ssl:default [Connect call failed {REDACTED}]"),
    ("Cannot connect to host vllm.internal:8000 ssl:default [Name or service not known]",
     f"Cannot connect to host {REDACTED} ssl:default [Name or service not known]"),
    ("connecting to 10.1.2.3:443 timed out", f"connecting to {REDACTED} timed out"),
    ("upstream at [::1]:8080 refused", f"upstream at {REDACTED} refused"),
    ("proxy fe80::1 and 192.168.0.10 said no", f"proxy {REDACTED} and {REDACTED} said no"),
    ("http://localhost:11434/api/chat failed", f"http://{REDACTED}/api/chat failed"),
])
def test_addresses_are_redacted(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_the_upstream_host_is_redacted_by_name() -> None:
    hosts = upstream_hosts("http://ollama.corp.example:11434/v1")
    assert scrub("ollama.corp.example:11434 answered 500; ollama.corp.example is down", hosts=hosts) == \
        f"{REDACTED} answered 500; {REDACTED} is down"


@pytest.mark.parametrize("text", ["bad response status code 429", "The model `gpt-4o` does not exist",
                                  "retry at 12:30:45", "version 1.2.3.999 of the thing", "max_tokens is too large",
                                  "Rate limit reached for gpt-4o-mini in organization org-abc on tokens per min"])
def test_ordinary_messages_are_left_alone(text: str) -> None:
    assert scrub(text, secret_parts("us-east-1|short")) == text
