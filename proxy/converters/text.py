"""The text of an OpenAI message `content` (a string, null, or a list of parts), for providers that take text only.

One helper instead of a private copy per converter; each provider passes the words of its own refusal.
"""

from __future__ import annotations

from typing import Any

from proxy.converters.base import ConversionError

__all__ = ["text_of", "text_parts_of"]


def _texts(content: list[Any] | Any, refusal: str | None) -> list[str]:
    """Each part's text. With a `refusal`, a part that is not text (or content that is not a list of parts) is a
    ConversionError with that message; without one, such parts give ""."""
    if refusal is not None and (not isinstance(content, list)
                                or any(not isinstance(p, dict) or p.get("type") != "text" for p in content)):
        raise ConversionError(refusal)
    parts = content if isinstance(content, list) else []
    return [str(p.get("text") or "") if isinstance(p, dict) else "" for p in parts]


def text_of(content: Any, refusal: str | None = None, *, sep: str = "\n") -> str:
    """The parts' texts joined with `sep` (see `_texts` for `refusal`)."""
    if content is None or isinstance(content, str):
        return content or ""
    return sep.join(_texts(content, refusal))


def text_parts_of(content: Any, refusal: str) -> str:
    """The non-empty texts joined with newlines; any other part is refused (Cohere, PaLM, Gemini system and tool
    messages)."""
    if content is None or isinstance(content, str):
        return content or ""
    return "\n".join(t for t in _texts(content, refusal) if t)
