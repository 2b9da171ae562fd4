"""Relay modes derived from the path (one-api.md §2.1) and each mode's default model."""

from __future__ import annotations

from proxy.gateway.gemini_calls import parse_call

CHAT, COMPLETIONS, EMBEDDINGS, MODERATIONS = "chat", "completions", "embeddings", "moderations"
IMAGES, EDITS, RESPONSES, PROXY = "images", "edits", "responses", "proxy"
SPEECH, TRANSCRIPTION, TRANSLATION = "audio_speech", "audio_transcription", "audio_translation"
IMAGE_EDITS, RERANK = "image_edits", "rerank"

# path prefix → (mode, normalised relay path); first match wins, longest prefixes first
_BY_PREFIX: tuple[tuple[str, str, str], ...] = (
    ("/v1/chat/completions", CHAT, "/v1/chat/completions"),
    ("/v1/completions", COMPLETIONS, "/v1/completions"),
    ("/v1/moderations", MODERATIONS, "/v1/moderations"),
    ("/v1/images/generations", IMAGES, "/v1/images/generations"),
    ("/v1/images/edits", IMAGE_EDITS, "/v1/images/edits"),
    ("/v1/rerank", RERANK, "/v1/rerank"),
    ("/v1/edits", EDITS, "/v1/edits"),
    ("/v1/audio/speech", SPEECH, "/v1/audio/speech"),
    ("/v1/audio/transcriptions", TRANSCRIPTION, "/v1/audio/transcriptions"),
    ("/v1/audio/translations", TRANSLATION, "/v1/audio/translations"),
    ("/v1/responses", CHAT, "/v1/chat/completions"),  # Responses clients, converted (proxy.addons.client_dialect)
    ("/v1/messages", CHAT, "/v1/chat/completions"),   # Anthropic clients, converted (proxy.addons.client_dialect)
    ("/v1/oneapi/proxy", PROXY, ""),
)

DEFAULT_MODEL = {
    MODERATIONS: "text-moderation-stable",
    IMAGES: "dall-e-2",
    IMAGE_EDITS: "dall-e-2",
    TRANSCRIPTION: "whisper-1",
    TRANSLATION: "whisper-1",
}

# Paths whose unparsable body is fatal (One API: completions, chat, images, audio)
STRICT_BODY = frozenset({CHAT, COMPLETIONS, IMAGES, SPEECH, TRANSCRIPTION, TRANSLATION, RERANK})
TEXT_MODES = frozenset({CHAT, COMPLETIONS, EMBEDDINGS, MODERATIONS, EDITS})
MULTIPART_MODES = frozenset({TRANSCRIPTION, TRANSLATION})
FORM_ONLY = frozenset({IMAGE_EDITS})    # multipart/form-data only: anything else is refused


def mode_for(path: str) -> tuple[str, str]:
    """(mode, normalised relay path); "" mode for unknown paths."""
    gemini = parse_call(path)   # Gemini clients, converted to chat or embeddings (proxy.addons.client_dialect)
    if gemini is not None:
        return (EMBEDDINGS, "/v1/embeddings") if gemini.embeds else (CHAT, "/v1/chat/completions")
    for prefix, mode, relay_path in _BY_PREFIX:
        if path.startswith(prefix):
            return mode, relay_path or path
    if path.endswith("embeddings"):
        return EMBEDDINGS, "/v1/embeddings"
    return "", path
