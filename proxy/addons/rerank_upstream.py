"""POST /v1/rerank (Cohere/Jina shape) passed through to the channel types that declare a rerank path.

Which types serve rerank is data (`rerank` in rules/channel_types.toml), never a list here; any other
channel refuses with a clear 400 before an upstream call. The body goes byte-exact unless the model was
mapped; the answer comes back as the upstream wrote it, and proxy.addons.usage_tap reads its usage.
"""

from __future__ import annotations

from typing import Any

import orjson
from multidict import CIMultiDict

from proxy.addons.openai_upstream import auth_headers
from proxy.core.errors import RelayError
from proxy.core.flow import Flow, UpstreamCall
from proxy.gateway import modes
from proxy.gateway.state import RelayState
from rules import Catalog


class RerankUpstream:
    def __init__(self, catalog: Catalog, relay_timeout: int) -> None:
        self.catalog = catalog
        self.timeout = relay_timeout or None

    def rewrite(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        channel = state.channel
        if state.mode != modes.RERANK or channel is None:
            return
        ctype = self.catalog.get(channel.type) if channel.type in self.catalog else self.catalog.get(0)
        if not ctype.rerank:
            served = ", ".join(t.name for t in self.catalog if t.rerank)
            raise RelayError(400, f"channel type {ctype.name} does not support /v1/rerank (channel types with "
                                  f"rerank: {served})", code="convert_request_failed")
        base = (channel.base_url or ctype.base_url).rstrip("/")
        if not base:
            raise RelayError(400, f"this {ctype.name} channel has no base URL set", code="convert_request_failed")
        headers: CIMultiDict[str] = CIMultiDict({"Content-Type": "application/json", "Accept": "application/json",
                                                 "Accept-Encoding": "identity"})
        headers.update(auth_headers(ctype, channel.key))
        headers.update(ctype.headers)
        flow.upstream = UpstreamCall("POST", base + ctype.rerank, headers, self._body(flow), self.timeout)

    @staticmethod
    def _body(flow: Flow[RelayState]) -> bytes:
        """The client's bytes, re-encoded only when a field changed (a mapped model)."""
        state = flow.state
        changes: dict[str, Any] = dict(state.body_changes)
        if state.model != state.requested_model:
            changes["model"] = state.model
        if not changes or state.body is None:
            return flow.request.body
        return orjson.dumps({**state.body, **changes})


__all__ = ["RerankUpstream"]
