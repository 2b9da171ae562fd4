"""The raw proxy route /v1/oneapi/proxy/:channelid/*target (§2.7): bytes through to a pinned channel.

Admins only (TokenAuth requires it for any pin); One API lets any token use it.
"""

from __future__ import annotations

from multidict import CIMultiDict

from proxy.core.flow import Flow, UpstreamCall
from proxy.gateway import modes
from proxy.gateway.state import RelayState
from rules import Catalog

# content-encoding: the pipeline inflated a gzip body, so what goes upstream is not encoded any more
_DROP = frozenset({"host", "content-length", "accept-encoding", "connection", "authorization", "content-encoding"})


class RawProxy:
    def __init__(self, catalog: Catalog, relay_timeout: int) -> None:
        self.catalog = catalog
        self.timeout = relay_timeout or None

    def rewrite(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        if state.mode != modes.PROXY or state.channel is None:
            return
        channel = state.channel
        base = channel.base_url or (self.catalog.get(channel.type).base_url if channel.type in self.catalog else "")
        target = "/" + flow.request.match_info.get("target", "").lstrip("/")
        url = base.rstrip("/") + target + (f"?{flow.request.query_string}" if flow.request.query_string else "")
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in flow.request.headers.items():
            if name.lower() not in _DROP and name not in headers:
                headers[name] = value
        headers["Authorization"] = channel.key
        flow.upstream = UpstreamCall(flow.request.method, url, headers, flow.request.body, self.timeout)
        flow.stream = "text/event-stream" in flow.request.headers.get("Accept", "")
