"""Gemini request field names in one spelling: the API parses proto JSON, which takes `mime_type` as well as
`mimeType`, and google-genai really sends both in one request (`inlineData.mime_type`, `parameters_json_schema`,
`thinkingConfig.include_thoughts`). The converters read camelCase; user data (function args and responses, JSON
schemas, property names, labels) keeps its keys as sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["camel_case", "field"]

_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
# values whose keys are the user's own: left as they are
_OPAQUE = frozenset({"args", "response", "parametersJsonSchema", "responseJsonSchema", "labels", "default",
                     "example", "enum", "required", "propertyOrdering"})
# OpenAPI `Schema` values: field names normalised, property names not
_SCHEMAS = frozenset({"parameters", "responseSchema"})


def _name(key: str) -> str:
    if not _SNAKE.fullmatch(key):
        return key
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def camel_case(node: Any) -> Any:
    """A copy of a request (or any part of one) with every field name in camelCase."""
    if isinstance(node, list):
        return [camel_case(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        name = _name(key)
        out[name] = value if name in _OPAQUE else _schema(value) if name in _SCHEMAS else camel_case(value)
    return out


def _schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        name = _name(key)
        if name == "properties" and isinstance(value, dict):
            out[name] = {prop: _schema(sub) for prop, sub in value.items()}
        elif name in ("items", "anyOf"):
            out[name] = _schema(value)
        else:
            out[name] = value
    return out


def field(obj: Any, name: str) -> Any:
    """`obj[name]` under either spelling (for the few fields read from a request not otherwise normalised)."""
    if not isinstance(obj, Mapping):
        return None
    if name in obj:
        return obj[name]
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name))
