"""Secrets a channel keeps in its config JSON (AWS `sk`, Vertex AI `vertex_ai_adc`): write-only, like the key.

AWS Bedrock and Vertex AI channels may hold their credentials in config instead of the key. The
admin API never shows them (the entry is there, blank) and an update that leaves one blank or out
keeps the stored value, as a blank key does. Pure functions on the config text.
"""

from __future__ import annotations

from typing import Any

import orjson

SECRET_CONFIG_KEYS = ("sk", "vertex_ai_adc")


def parse(text: str | None) -> dict[str, Any]:
    """The config object; anything that is not a JSON object reads as empty (as the proxy reads it)."""
    try:
        parsed = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def secrets_in(text: str | None) -> list[str]:
    """Names of the secret entries a config (stored, or an update's) holds a value for."""
    config = parse(text)
    return [name for name in SECRET_CONFIG_KEYS if config.get(name)]


def public(text: str | None) -> str:
    """The config as the admin API shows it: secret entries present but blank."""
    secrets = secrets_in(text)
    if not secrets:
        return text or ""
    config = parse(text)
    return orjson.dumps({**config, **{name: "" for name in secrets}}).decode()


def keep_stored(stored: str | None, new: str) -> str:
    """The new config with every secret it leaves blank or out taken from the stored config."""
    kept = {name: value for name, value in parse(stored).items() if name in SECRET_CONFIG_KEYS and value}
    missing = {name: value for name, value in kept.items() if not parse(new).get(name)}
    if not missing:
        return new
    return orjson.dumps({**parse(new), **missing}).decode()
