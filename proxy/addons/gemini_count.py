"""Gemini's `:countTokens` goes to the channel that would serve the model when it is a Gemini channel (its own
count: the client's bytes, the channel's key and mapped model, by ModelMapping and DialectUpstream); any other
channel's model is counted here by MessageTokens. Nothing is billed or logged either way."""

from __future__ import annotations

import orjson

from proxy.addons.auth import auth_error
from proxy.addons.client_dialect import invalid_request
from proxy.addons.route import pick
from proxy.core.flow import Flow
from proxy.gateway.cache import Caches
from proxy.gateway.state import RelayState
from rules import Catalog


class GeminiCountRoute:
    def __init__(self, caches: Caches, catalog: Catalog) -> None:
        self.caches = caches
        self.catalog = catalog

    def request(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        call = state.gemini
        if call is None:
            return
        token = state.token
        if token is not None and token.models is not None and call.model not in token.models:
            raise auth_error(403, f"该令牌无权使用模型：{call.model}")
        try:
            body = orjson.loads(flow.request.body) if flow.request.body else None
        except orjson.JSONDecodeError as e:
            raise invalid_request(f"the request body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise invalid_request("the request body must be a JSON object")
        channel = pick(self.caches.index.candidates(state.group, call.model), [])
        if channel is None or channel.type not in self.catalog or self.catalog.get(channel.type).api_style != "gemini":
            return   # counted locally
        state.channel, state.requested_model, state.model = channel, call.model, call.model
        state.client_body, state.client_raw = body, flow.request.body


__all__ = ["GeminiCountRoute"]
