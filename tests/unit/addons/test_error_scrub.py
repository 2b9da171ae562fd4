"""ErrorScrub alone, with a fake flow: the channel's key and upstream host leave the client's error, the
gateway's own errors (no channel yet) are untouched."""

from __future__ import annotations

from proxy.addons.error_scrub import ErrorScrub
from proxy.core.errors import RelayError, UpstreamError
from proxy.gateway.scrub import REDACTED
from rules import load_catalog
from tests.unit.addons.fakes import channel, make_flow

KEY = "sk-live-0123456789abcdef0123456789abcdef"


def test_the_key_and_the_host_are_redacted_for_the_client() -> None:
    flow = make_flow(channel=channel(key=KEY, base_url="http://10.1.2.3:8080"))
    flow.error = UpstreamError(401, f"Incorrect API key provided: {KEY} at 10.1.2.3:8080", code=KEY)
    ErrorScrub(load_catalog()).error(flow)
    assert flow.error is not None
    assert KEY not in flow.error.message and "10.1.2.3" not in flow.error.message and REDACTED in flow.error.message
    assert flow.error.code == REDACTED and flow.error.status == 401


def test_before_a_channel_is_chosen_the_message_is_the_gateways_own() -> None:
    flow = make_flow()
    flow.error = RelayError(403, "该令牌只允许从 10.0.0.0/8 访问，当前 IP 10.9.9.9")
    ErrorScrub(load_catalog()).error(flow)
    assert flow.error.message == "该令牌只允许从 10.0.0.0/8 访问，当前 IP 10.9.9.9"
