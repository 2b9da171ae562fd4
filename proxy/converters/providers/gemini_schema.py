"""JSON Schema → the OpenAPI subset Gemini accepts in responseSchema and function parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.converters.base import ConversionError

# Fields of Gemini's `Schema` object; everything else (additionalProperties, $schema, strict,
# examples, ...) is rejected by the API, so it is dropped here.
_KEPT = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
})
_MAX_DEPTH = 32


def schema_from_json_schema(schema: Any) -> Any:
    """Sanitised copy: local $refs inlined, type lists → type + nullable, oneOf → anyOf, const → enum."""
    if not isinstance(schema, dict):
        return schema
    defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _clean(schema, defs, 0)


def _clean(node: Any, defs: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(node, dict):
        return node
    if depth > _MAX_DEPTH:
        raise ConversionError("JSON schema is too deep or recursive for Gemini")
    if "$ref" in node:
        node = {**_resolve(node["$ref"], defs), **{k: v for k, v in node.items() if k != "$ref"}}
    out: dict[str, Any] = {}
    for key, value in node.items():
        key = "anyOf" if key == "oneOf" else key
        if key == "const":
            out["enum"] = [value]
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _clean(sub, defs, depth + 1) for name, sub in value.items()}
        elif key == "items":
            out[key] = _clean(value, defs, depth + 1)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [_clean(sub, defs, depth + 1) for sub in value]
        elif key in _KEPT:
            out[key] = value
    if isinstance(out.get("type"), list):
        _split_type_list(out)
    return out


def _split_type_list(out: dict[str, Any]) -> None:
    """["string","null"] → type string + nullable; several real types → anyOf."""
    types = [t for t in out["type"] if t != "null"]
    if len(types) < len(out["type"]):
        out["nullable"] = True
    if len(types) == 1:
        out["type"] = types[0]
    else:
        del out["type"]
        if types:
            out["anyOf"] = [{"type": t} for t in types]


def _resolve(ref: Any, defs: Mapping[str, Any]) -> dict[str, Any]:
    for prefix in ("#/$defs/", "#/definitions/"):
        if isinstance(ref, str) and ref.startswith(prefix) and ref[len(prefix):] in defs:
            found: dict[str, Any] = defs[ref[len(prefix):]]
            return found
    raise ConversionError(f"JSON schema $ref {ref!r} cannot be resolved for Gemini (only local $defs)")
