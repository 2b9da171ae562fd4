"""Which client dialects reach which channels in the cloud's envelope rather than through the hub: the client's
own body, with only the envelope changed (proxy.converters.dialects.anthropic_envelope builds each). The
channel's converter still gives the context (credentials, base URL, OAuth token) and reads its errors."""

from __future__ import annotations

__all__ = ["BEDROCK", "ENVELOPE_STYLES", "VERTEX_CLAUDE", "VERTEX_GEMINI", "envelope_of"]

BEDROCK, VERTEX_CLAUDE, VERTEX_GEMINI = "bedrock", "vertex-claude", "vertex-gemini"
# client dialect → the api_styles that carry it in an envelope (for some models: envelope_of decides)
ENVELOPE_STYLES: dict[str, frozenset[str]] = {"anthropic": frozenset({"aws", "vertexai"}),
                                              "gemini": frozenset({"vertexai"})}
_GEMINI_METHODS = frozenset({"generateContent", "streamGenerateContent"})   # Vertex embeds by :predict (the hub)


def envelope_of(dialect: str, api_style: str, model: str, gemini_method: str = "") -> str:
    """The envelope for a client of `dialect` on a channel of `api_style` serving `model` (mapped); "" when the
    request goes through the hub."""
    if dialect == "anthropic":
        if api_style == "aws" and (model.startswith("claude") or "anthropic." in model):
            return BEDROCK
        if api_style == "vertexai" and model.startswith("claude"):
            return VERTEX_CLAUDE
    if dialect == "gemini" and api_style == "vertexai" and model.startswith("gemini") \
            and gemini_method in _GEMINI_METHODS:
        return VERTEX_GEMINI
    return ""
