"""Anthropic's `count_tokens` and Gemini's `:countTokens` go to the channel that would serve the model when that
channel speaks the client's dialect (an Anthropic channel counts Anthropic's, a Gemini channel Gemini's: the
client's bytes, the channel's key and mapped model, by ModelMapping and DialectUpstream); any other channel's
model is counted here by MessageTokens. Nothing is billed or logged either way."""

from __future__ import annotations

from proxy.addons.auth import auth_error
from proxy.addons.client_dialect import json_object_body
from proxy.addons.route import pick
from proxy.core.flow import Flow
from proxy.gateway.cache import Caches
from proxy.gateway.state import RelayState
from rules import Catalog


class GeminiCountRoute:
    """The count route of both dialects (its name kept from when it counted Gemini's only)."""

    def __init__(self, caches: Caches, catalog: Catalog) -> None:
        self.caches = caches
        self.catalog = catalog

    def request(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        call = state.gemini
        if call is None and state.dialect != "anthropic":
            return
        body = json_object_body(flow.request.body)
        model = call.model if call is not None else body.get("model")
        if not isinstance(model, str) or not model:
            return   # MessageTokens refuses it in the client's shape
        token = state.token
        if token is not None and token.models is not None and model not in token.models:
            raise auth_error(403, f"该令牌无权使用模型：{model}")
        channel = pick(self.caches.index.candidates(state.group, model), [])
        if channel is None or channel.type not in self.catalog or not self.catalog.get(channel.type).speaks(
                state.dialect):
            return   # counted locally
        state.channel, state.requested_model, state.model = channel, model, model
        state.client_body, state.client_raw = body, flow.request.body


__all__ = ["GeminiCountRoute"]
