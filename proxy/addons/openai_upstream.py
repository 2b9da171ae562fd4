"""Builds the upstream call for OpenAI-style channels: byte-exact unless a field really changes."""

from __future__ import annotations

from typing import Any

import orjson
from multidict import CIMultiDict

from proxy.core.errors import RelayError, UpstreamError
from proxy.core.flow import Flow, UpstreamCall
from proxy.gateway import modes
from proxy.gateway.form_fields import with_field
from proxy.gateway.records import ChannelRecord
from proxy.gateway.state import RelayState
from rules import Catalog, ChannelType

PASS_THROUGH_STYLES = frozenset({"openai", "azure"})
# error object fields where non-OpenAI upstreams put their message (One API's order)
_MESSAGE_KEYS = (("message",), ("msg",), ("err",), ("error_msg",), ("header", "message"),
                 ("response", "error", "message"))


def openai_style_error(status: int, body: bytes) -> UpstreamError:
    """One API's RelayErrorHandler: keep an OpenAI error object, else find a message."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        obj = None
    error = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return UpstreamError(status, str(error["message"]), type=error.get("type") or "upstream_error",
                             code=error.get("code"), param=error.get("param"))
    message = ""
    for path in _MESSAGE_KEYS:
        cur: Any = obj
        for key in path:
            cur = cur.get(key) if isinstance(cur, dict) else None
        if isinstance(cur, str) and cur:
            message = cur
            break
    return UpstreamError(status, message or f"bad response status code {status}", type="upstream_error",
                         code="bad_response_status_code", param=str(status))


def azure_path(model: str, relay_path: str) -> str:
    """Azure's deployment path of a relay path; the deployment is the model without dots (One API)."""
    return f"/openai/deployments/{model.replace('.', '')}/{relay_path.removeprefix('/v1/')}"


def azure_query(query: str, api_version: str) -> str:
    """api-version first, then the client's query unless it names its own version."""
    extra = f"&{query}" if query and "api-version" not in query else ""
    return f"api-version={api_version}{extra}"


def azure_url(base: str, model: str, relay_path: str, query: str, api_version: str) -> str:
    """The deployment URL on an Azure host (a gateway in front changes the path: see the type's base_path_strips)."""
    return f"{base}{azure_path(model, relay_path)}?{azure_query(query, api_version)}"


def auth_headers(ctype: ChannelType, key: str) -> dict[str, str]:
    if ctype.auth == "api-key":
        return {"api-key": key}
    if ctype.auth == "raw":
        return {"Authorization": key}
    return {"Authorization": f"Bearer {key}"}


class OpenAIUpstream:
    def __init__(self, catalog: Catalog, relay_timeout: int, enforce_include_usage: bool) -> None:
        self.catalog = catalog
        self.timeout = relay_timeout or None
        self.enforce_include_usage = enforce_include_usage

    def rewrite(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        channel = state.channel
        assert channel is not None
        if state.mode in (modes.PROXY, modes.RERANK):   # rerank: proxy.addons.rerank_upstream
            return
        ctype = self.catalog.get(channel.type) if channel.type in self.catalog else self.catalog.get(0)
        if ctype.api_style not in PASS_THROUGH_STYLES or ctype.speaks(state.dialect):   # DialectUpstream's
            return
        flow.upstream = UpstreamCall(flow.request.method, self._url(flow, ctype, channel),
                                     self._headers(flow, ctype, channel), self._body(flow, ctype), self.timeout)

    def upstream_error(self, flow: Flow[RelayState]) -> None:
        body = flow.upstream_error_body
        if body is None or flow.error is None or flow.state.converter is not None:
            return
        refined = openai_style_error(flow.error.status, body)
        refined.retryable = flow.error.retryable
        flow.error = refined

    def _url(self, flow: Flow[RelayState], ctype: ChannelType, channel: ChannelRecord) -> str:
        state = flow.state
        base = channel.base_url or ctype.base_url
        if ctype.api_style == "azure":
            if not base:
                raise RelayError(400, "this Azure channel has no endpoint (base URL) set",
                                 code="convert_request_failed")
            version = channel.config.get("api_version") or channel.other or ctype.other_fallback
            # behind a Cloudflare AI Gateway the /openai/deployments prefix goes: the type's base_path_strips
            deployment = ctype.upstream_url(base, azure_path(state.model, state.relay_path)) or ""
            return f"{deployment}?{azure_query(flow.request.query_string, version)}"
        # a dialect client's request was converted to chat: chat's path, not the client's path or query
        path = state.relay_path if ctype.paths or state.dialect else flow.request.path
        query = "" if state.dialect else flow.request.query_string
        # URL quirks such as OpenAI behind a Cloudflare AI Gateway are the type's base_path_strips
        url = ctype.upstream_url(base, path, query)
        if url is None or not base:
            raise RelayError(400, f"channel type {ctype.name} does not support {flow.request.path}",
                             code="convert_request_failed")
        return url

    @staticmethod
    def _headers(flow: Flow[RelayState], ctype: ChannelType, channel: ChannelRecord) -> CIMultiDict[str]:
        incoming = flow.request.headers
        headers: CIMultiDict[str] = CIMultiDict()
        if "Content-Type" in incoming:
            headers["Content-Type"] = incoming["Content-Type"]
        accept = incoming.get("Accept")
        if accept:
            headers["Accept"] = accept
        elif flow.state.stream:
            headers["Accept"] = "text/event-stream"
        headers["Accept-Encoding"] = "identity"   # bytes pass through as sent, and taps can read them
        headers.update(auth_headers(ctype, channel.key))
        headers.update(ctype.headers)
        return headers

    def _body(self, flow: Flow[RelayState], ctype: ChannelType) -> bytes:
        state = flow.state
        changes: dict[str, Any] = dict(state.body_changes)
        if state.body is None:
            if state.mode == modes.IMAGE_EDITS and "model" in changes:   # a mapped model: that field only
                return with_field(flow.request.headers.get("Content-Type", ""), flow.request.body, "model",
                                  str(changes["model"]))
            return flow.request.body      # multipart and bodiless requests pass through as they are
        if self.enforce_include_usage and state.stream and state.mode in (modes.CHAT, modes.COMPLETIONS) \
                and not state.include_usage:
            options = state.body.get("stream_options")
            changes["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        if not changes and not ctype.always_convert:
            return flow.request.body      # byte-exact: not a single byte re-encoded
        # Only the changed fields differ; unknown fields and zero values survive (One API drops them).
        return orjson.dumps({**state.body, **changes})
