"""RawProxy alone, with a fake flow: the pinned channel's base URL plus the target, the client's headers but
hop and auth ones, the channel's key, and nothing for other modes."""

from __future__ import annotations

from proxy.addons.raw_proxy import RawProxy
from rules import load_catalog
from tests.unit.addons.fakes import channel, make_flow


def test_the_target_goes_to_the_channel_with_its_key() -> None:
    flow = make_flow("/v1/oneapi/proxy/1/v1/files", raw=b"abc", mode="proxy", channel=channel(key="sk-up"),
                     match_info={"channelid": "1", "target": "v1/files"},
                     headers={"Authorization": "Bearer sk-client", "Accept": "text/event-stream", "X-Keep": "1",
                              "Content-Encoding": "gzip", "Connection": "close"})
    flow.request.query_string = "limit=2"
    RawProxy(load_catalog(), 0).rewrite(flow)
    call = flow.upstream
    assert call is not None
    assert (call.method, call.url, call.body, call.timeout) == ("POST", "http://up.test/v1/files?limit=2", b"abc", None)
    assert dict(call.headers) == {"Content-Type": "application/json", "Accept": "text/event-stream", "X-Keep": "1",
                                  "Authorization": "sk-up"}
    assert flow.stream


def test_other_modes_are_left_alone() -> None:
    flow = make_flow(mode="chat", channel=channel())
    RawProxy(load_catalog(), 0).rewrite(flow)
    assert flow.upstream is None
