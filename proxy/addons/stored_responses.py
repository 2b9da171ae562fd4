"""The Responses API's calls about stored responses and token counts — `GET`/`DELETE /v1/responses/{id}`,
`POST /v1/responses/{id}/cancel`, `GET /v1/responses/{id}/input_items`, `POST /v1/responses/input_tokens` —
passed through, bytes unchanged, to a channel whose type speaks Responses natively (`dialects` in
rules/channel_types.toml: OpenAI). Never billed: nothing is generated.

Which channel: `input_tokens` names a model, so it goes to the native channels serving that model in the
token's group (priority, then weight, as chat). A response id names no model and only the account that made
it knows it, so by-id calls go to every native channel of the token's group in turn, highest priority first,
until one does not answer 404 (a 404 from the last is the client's answer). A pinned channel (`sk-…-<id>`)
is the only one tried.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson
from multidict import CIMultiDict

from proxy.addons.auth import auth_error
from proxy.addons.client_dialect import invalid_request, json_body
from proxy.addons.openai_upstream import auth_headers, openai_style_error
from proxy.addons.route import pick
from proxy.core.errors import RelayError
from proxy.core.flow import Flow, UpstreamCall
from proxy.gateway import modes
from proxy.gateway.cache import Caches
from proxy.gateway.messages import say
from proxy.gateway.records import ChannelRecord
from proxy.gateway.state import RelayState
from rules import Catalog, ChannelType
from store.models import CHANNEL_ENABLED, ROLE_ROOT

DIALECT = "responses"
COUNT_PATH = "/v1/responses/input_tokens"
_PASSED_HEADERS = ("Content-Type", "Accept", "OpenAI-Beta")


class StoredResponses:
    def __init__(self, catalog: Catalog, caches: Caches, relay_timeout: int,
                 rand: Callable[[], float] = random.random) -> None:
        self.catalog = catalog
        self.caches = caches
        self.timeout = relay_timeout or None
        self.rand = rand

    def request(self, flow: Flow[RelayState]) -> None:
        """input_tokens: the model from the body, checked against the token's allow-list."""
        state = flow.state
        state.mode, state.relay_path = modes.RESPONSES, flow.request.path
        if flow.request.path != COUNT_PATH:
            return
        body = json_body(flow.request.body)
        model = body.get("model") if isinstance(body, dict) else None
        if not isinstance(model, str) or not model:
            raise invalid_request("model is required")
        state.body, state.requested_model = body, model
        token = state.token
        if token is not None and token.models is not None and model not in token.models:
            raise auth_error(403, say("model_forbidden", model=model))

    async def route(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        if state.pinned_channel_id is not None:
            state.channel = await self._pinned(flow, state.pinned_channel_id)
        else:
            channel = self._next(state)
            if channel is None:
                if state.last_error is not None:
                    raise state.last_error
                what = f"model {state.requested_model}" if state.requested_model else "stored responses"
                raise RelayError(404 if not state.requested_model else 503,
                                 f"no channel of group {state.group} serves the Responses API natively for {what}",
                                 type="invalid_request_error", code="no_native_channel")
            state.channel = channel
        state.model = state.channel.model_mapping.get(state.requested_model, state.requested_model)
        state.tried_channels.append(state.channel.id)

    def rewrite(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        channel = state.channel
        assert channel is not None
        ctype = self._type(channel)
        base = channel.base_url or ctype.base_url
        url = ctype.upstream_url(base, flow.request.path, flow.request.query_string)
        if url is None or not base:
            raise invalid_request(f"channel type {ctype.name} does not support {flow.request.path}")
        headers: CIMultiDict[str] = CIMultiDict()
        for name in _PASSED_HEADERS:
            if name in flow.request.headers:
                headers[name] = flow.request.headers[name]
        headers["Accept-Encoding"] = "identity"
        headers.update(auth_headers(ctype, channel.key))
        headers.update(ctype.headers)
        body = flow.request.body
        if state.body is not None and state.model != state.requested_model:
            body = orjson.dumps({**state.body, "model": state.model})   # the channel's model mapping
        flow.upstream = UpstreamCall(flow.request.method, url, headers, body, self.timeout)

    def upstream_error(self, flow: Flow[RelayState]) -> None:
        """OpenAI's own error kept; a by-id 404 tries the next native channel (the response may be its account's)."""
        state, error = flow.state, flow.error
        if error is None:
            return
        if flow.upstream_error_body is not None:
            refined = openai_style_error(error.status, flow.upstream_error_body)
            refined.retryable = error.retryable
            flow.error = error = refined
        by_id = not state.requested_model
        retry = error.status == 404 if by_id else (error.retryable and error.status != 400)
        error.retryable = retry and state.pinned_channel_id is None and self._next(state) is not None
        state.last_error = error

    def _next(self, state: RelayState) -> ChannelRecord | None:
        """The next untried native channel: by model (input_tokens) or any of the group's in order (by id)."""
        index = self.caches.index
        pool = index.candidates(state.group, state.requested_model) if state.requested_model \
            else index.channels(state.group)
        native = [c for c in pool if self._type(c).speaks(DIALECT)]
        if state.requested_model:
            return pick(native, state.tried_channels, self.rand)
        return next((c for c in native if c.id not in state.tried_channels), None)

    async def _pinned(self, flow: Flow[RelayState], channel_id: int) -> ChannelRecord:
        state = flow.state
        channel = await self.caches.channel(channel_id)
        if channel is None or (channel.status != CHANNEL_ENABLED and not (state.user and state.user.role >= ROLE_ROOT)):
            raise auth_error(400 if channel is None else 403,
                             say("invalid_channel_id") if channel is None else say("channel_disabled"))
        if not self._type(channel).speaks(DIALECT):
            raise invalid_request(
                f"channel #{channel.id} does not serve the Responses API natively ({flow.request.path})")
        return channel

    def _type(self, channel: ChannelRecord) -> ChannelType:
        return self.catalog.get(channel.type) if channel.type in self.catalog else self.catalog.get(0)


__all__ = ["COUNT_PATH", "StoredResponses"]
