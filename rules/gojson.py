"""JSON text of a name -> number table as Go's encoding/json writes it (option default values)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_float(value: float) -> str:
    """Format a float64 like Go's encoding/json: shortest digits, plain notation from 1e-6 to 1e21."""
    if not math.isfinite(value):
        raise ValueError(f"JSON cannot encode {value!r}")
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = repr(float(value))
        mantissa, _, exponent = text.partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits}"
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _go_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    for raw, escaped in _HTML_ESCAPES.items():
        encoded = encoded.replace(raw, escaped)
    return encoded


def go_json_object(table: Mapping[str, float]) -> str:
    """Compact JSON object with keys sorted, as json.Marshal of a Go map[string]float64."""
    items = (f"{_go_string(key)}:{go_float(table[key])}" for key in sorted(table))
    return "{" + ",".join(items) + "}"
