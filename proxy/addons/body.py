"""Reads the request body: mode, model, stream flag, validation and the token's model allow-list."""

from __future__ import annotations

from typing import Any

import orjson

from proxy.addons.auth import auth_error
from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.gateway import modes
from proxy.gateway.form_fields import form_fields, form_files
from proxy.gateway.messages import say
from proxy.gateway.state import RelayState

MAX_TOKENS_LIMIT = 1_073_741_823


def invalid(message: str) -> RelayError:
    return RelayError(400, message, code="invalid_text_request")


def validate_text(mode: str, body: dict[str, Any]) -> None:
    """One API's checks (one-api.md §2.3); an absent prompt/input is not rejected."""
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and not 0 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise invalid("max_tokens is invalid")
    if not body.get("model"):
        raise invalid("model is required")
    if mode == modes.COMPLETIONS and body.get("prompt") == "":
        raise invalid("prompt is required")
    if mode == modes.CHAT and not body.get("messages"):
        raise invalid("messages is required")
    if mode == modes.MODERATIONS and body.get("input") == "":
        raise invalid("input is required")
    if mode == modes.EDITS and not body.get("instruction"):
        raise invalid("instruction is required")


def validate_rerank(body: dict[str, Any]) -> None:
    """The Cohere/Jina rerank shape: model, a query, documents (texts or {"text": ...}), top_n, return_documents."""
    if not body.get("model"):
        raise invalid("model is required")
    query = body.get("query")
    if not isinstance(query, str) or not query:
        raise invalid("query is required: a non-empty string")
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise invalid("documents is required: a non-empty array of strings or {\"text\": ...} objects")
    for i, doc in enumerate(documents):
        if not isinstance(doc, str) and not (isinstance(doc, dict) and isinstance(doc.get("text"), str)):
            raise invalid(f"documents[{i}] must be a string or an object with a string \"text\"")
    top_n = body.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
        raise invalid("top_n must be a positive integer")
    if not isinstance(body.get("return_documents", False), bool):
        raise invalid("return_documents must be a boolean")


def validate_image_edit(content_type: str, raw: bytes, form: dict[str, str]) -> None:
    """OpenAI's images/edits form: at least one image file and a prompt; n and size checked when given."""
    if not content_type.startswith("multipart/form-data"):
        raise invalid("images/edits takes a multipart/form-data body (image files, mask, prompt, model, n, size)")
    files = form_files(content_type, raw)
    if not any(name in ("image", "image[]") for name in files):
        raise invalid("image is required: one or more image files in the form field \"image\" (or \"image[]\")")
    if not form.get("prompt"):
        raise invalid("prompt is required")
    n = form.get("n", "1").strip() or "1"
    if not n.isdigit() or not 1 <= int(n) <= 10:
        raise invalid(f"n must be an integer from 1 to 10, got {n!r}")


class RequestBody:
    """Runs after TokenAuth: fills mode, model, body, stream flags."""

    def request(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        state.mode, state.relay_path = modes.mode_for(flow.request.path)
        content_type = flow.request.headers.get("Content-Type", "")
        if state.mode in modes.FORM_ONLY or state.mode in modes.MULTIPART_MODES \
                or content_type.startswith("multipart/form-data"):
            state.form = form_fields(content_type, flow.request.body) if flow.request.body else {}
            model = state.form.get("model", "")
            if state.mode == modes.IMAGE_EDITS:
                validate_image_edit(content_type, flow.request.body, state.form)
        else:
            model = self._parse_json(flow, state)
        if not model:
            model = flow.request.match_info.get("model", "") if state.mode == modes.EMBEDDINGS else ""
            model = model or modes.DEFAULT_MODEL.get(state.mode, "")
            if state.body is not None and model:
                state.body["model"] = model   # defaults matter for mapping and billing (not forwarded unless rebuilt)
        state.requested_model = state.model = model
        token = state.token
        if token is not None and token.models is not None and model and model not in token.models:
            raise auth_error(403, say("model_forbidden", model=model))
        if state.body is not None:
            streamable = state.mode in (modes.CHAT, modes.COMPLETIONS)
            state.stream = bool(state.body.get("stream")) and streamable
            options = state.body.get("stream_options")
            state.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            if state.mode in modes.TEXT_MODES:
                validate_text(state.mode, state.body)
            elif state.mode == modes.RERANK:
                validate_rerank(state.body)
        flow.stream = state.stream

    @staticmethod
    def _parse_json(flow: Flow[RelayState], state: RelayState) -> str:
        raw = flow.request.body
        if not raw:
            if state.mode in modes.STRICT_BODY:
                raise RelayError(400, say("body_empty"), full=False)
            return ""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            if state.mode in modes.STRICT_BODY:
                raise RelayError(400, say("body_not_json", detail=e), full=False) from None
            return ""
        if not isinstance(body, dict):
            if state.mode in modes.STRICT_BODY:
                raise RelayError(400, say("body_not_object"), full=False)
            return ""
        state.body = body
        model = body.get("model")
        return model if isinstance(model, str) else ""
