"""Metrics, AccessLog and the /metrics access rule alone, with a fake flow (no server, no database)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from proxy.addons.metrics import FLUSH_DELAY, AccessLog, Metrics, client_status, scrape_allowed
from proxy.converters.base import Usage
from proxy.core.errors import RelayError, UpstreamError
from proxy.core.flow import BodyTransform, LocalResponse
from tests.unit.addons.fakes import channel, make_flow


def sample(m: Metrics, name: str, **labels: str) -> float | None:
    m.flush()          # what the timer or a scrape does
    return m.registry.get_sample_value(name, labels)


def chat_flow(stream: bool = False, **state: object):
    flow = make_flow(body={"model": "gpt-4o-mini"}, mode="chat", model="gpt-4o-mini", requested_model="gpt-4o-mini",
                     stream=stream, **state)
    flow.stream = stream
    return flow


async def answer(m: Metrics, flow, status: int = 200) -> None:
    """An attempt that got an HTTP answer: route, then the upstream's headers arrive (fresh object, as the pipeline)."""
    flow.attempts += 1
    m.route(flow)
    flow.upstream_status, flow.upstream_headers = status, CIMultiDict()


async def test_a_billed_answer_counts_request_tokens_quota_and_upstream_status() -> None:
    m = Metrics()
    flow = chat_flow(channel=channel(id=7))
    m.request(flow)
    assert sample(m, "oneapi_relay_requests_in_flight") == 1
    await answer(m, flow)
    m.response(flow)
    m.chunk(flow, b'{"id":1}')
    flow.state.billed, flow.state.usage, flow.state.quota = True, Usage(11, 7), 3
    flow.timings.end = flow.timings.start + 0.3
    m.done(flow)

    assert sample(m, "oneapi_relay_requests_total", mode="chat", model="gpt-4o-mini", channel="7", code="200") == 1
    assert sample(m, "oneapi_relay_tokens_total", model="gpt-4o-mini", channel="7", kind="prompt") == 11
    assert sample(m, "oneapi_relay_tokens_total", model="gpt-4o-mini", channel="7", kind="completion") == 7
    assert sample(m, "oneapi_relay_quota_total", model="gpt-4o-mini", channel="7") == 3
    assert sample(m, "oneapi_upstream_responses_total", channel="7", code="200") == 1
    assert sample(m, "oneapi_relay_request_duration_seconds_count", mode="chat", stream="false") == 1
    assert sample(m, "oneapi_relay_request_duration_seconds_bucket", mode="chat", stream="false", le="0.25") == 0
    assert sample(m, "oneapi_relay_request_duration_seconds_bucket", mode="chat", stream="false", le="0.5") == 1
    assert sample(m, "oneapi_relay_time_to_first_byte_seconds_count", mode="chat") is None   # not a stream
    assert sample(m, "oneapi_relay_requests_in_flight") == 0
    assert sample(m, "oneapi_relay_errors_total", type="upstream_error", code="") is None


async def test_a_stream_holds_the_stream_gauge_and_records_the_first_byte_once() -> None:
    m = Metrics()
    flow = chat_flow(stream=True, channel=channel(id=2))
    m.request(flow)
    await answer(m, flow)
    m.response(flow)
    assert sample(m, "oneapi_relay_streams_in_flight") == 1
    m.chunk(flow, b"data: {}\n\n")
    first = flow.timings.first_byte_to_client
    assert first is not None
    time.sleep(0.01)
    m.chunk(flow, b"data: [DONE]\n\n")
    assert flow.timings.first_byte_to_client == first          # set once, never moved
    flow.timings.end = time.monotonic()
    m.done(flow)
    assert sample(m, "oneapi_relay_streams_in_flight") == 0
    assert sample(m, "oneapi_relay_time_to_first_byte_seconds_count", mode="chat") == 1
    assert sample(m, "oneapi_relay_request_duration_seconds_count", mode="chat", stream="true") == 1


async def test_retried_attempts_count_each_upstream_answer_and_network_errors_as_none() -> None:
    m = Metrics()
    flow = chat_flow(channel=channel(id=1))
    m.request(flow)
    await answer(m, flow, 500)                                  # channel 1 answers 500
    flow.error = UpstreamError(500, "bad response status code 500", code="bad_response_status_code")
    m.upstream_error(flow)
    flow.state.channel = channel(id=2)
    flow.attempts += 1
    m.route(flow)                                         # channel 2: no answer at all (headers unchanged)
    flow.error = UpstreamError(500, "do request failed", type="one_api_error", code="do_request_failed")
    m.upstream_error(flow)
    flow.error.retryable = False
    flow.state.billed = False                                   # refunded: no tokens, no quota
    flow.state.usage = Usage(5, 0)
    m.done(flow)

    assert sample(m, "oneapi_upstream_responses_total", channel="1", code="500") == 1
    assert sample(m, "oneapi_upstream_responses_total", channel="2", code="none") == 1
    assert sample(m, "oneapi_relay_requests_total", mode="chat", model="gpt-4o-mini", channel="2", code="500") == 1
    assert sample(m, "oneapi_relay_errors_total", type="one_api_error", code="do_request_failed") == 1
    assert sample(m, "oneapi_relay_tokens_total", model="gpt-4o-mini", channel="2", kind="prompt") is None
    assert sample(m, "oneapi_relay_requests_in_flight") == 0


async def test_a_refused_request_never_reached_our_request_hook_and_has_no_model_label() -> None:
    """Auth failed in an earlier addon: only `done` runs; the gauge must not go negative, the model (client text) stays out."""
    m = Metrics()
    flow = make_flow(path="/v1/embeddings", requested_model="whatever-the-client-said")
    flow.error = RelayError(401, "no key", type="one_api_error", full=False)
    m.done(flow)
    assert sample(m, "oneapi_relay_requests_total", mode="embeddings", model="", channel="", code="401") == 1
    assert sample(m, "oneapi_relay_errors_total", type="one_api_error", code="") == 1
    assert sample(m, "oneapi_relay_requests_in_flight") == 0


async def test_rate_limit_refusals_count_by_source() -> None:
    m = Metrics()
    for source in ("redis", "redis", "database"):
        flow = chat_flow(limit_refused_by=source)
        flow.error = RelayError(429, "Rate limit reached", type="requests", code="rate_limit_exceeded")
        m.done(flow)
    m.done(chat_flow())                                                   # not refused: not counted
    assert sample(m, "oneapi_rate_limit_refusals_total", source="redis") == 2
    assert sample(m, "oneapi_rate_limit_refusals_total", source="database") == 1
    assert sample(m, "oneapi_rate_limit_refusals_total", source="memory") is None


async def test_counts_reach_prometheus_client_on_the_timer_without_a_scrape() -> None:
    m = Metrics()
    flow = chat_flow(channel=channel(id=1))
    m.request(flow)
    m.done(flow)
    labels = {"mode": "chat", "model": "gpt-4o-mini", "channel": "1", "code": "200"}
    assert m.registry.get_sample_value("oneapi_relay_requests_total", labels) is None    # pending, not yet handed over
    await asyncio.sleep(FLUSH_DELAY + 0.05)
    assert m.registry.get_sample_value("oneapi_relay_requests_total", labels) == 1
    assert m.registry.get_sample_value("oneapi_relay_requests_in_flight", {}) == 0
    assert not m._pending and not m._armed


async def test_label_children_are_bound_once_per_label_set() -> None:
    m = Metrics()
    for _ in range(3):
        flow = chat_flow(channel=channel(id=1))
        m.request(flow)
        m.done(flow)
    assert sample(m, "oneapi_relay_requests_total", mode="chat", model="gpt-4o-mini", channel="1", code="200") == 3
    sizes = len(m._children)
    flow = chat_flow(channel=channel(id=1))
    m.done(flow)
    m.flush()
    assert len(m._children) == sizes and sizes > 0


def test_client_status() -> None:
    flow = chat_flow()
    assert client_status(flow) == 200
    flow.upstream_status = 201
    assert client_status(flow) == 201
    flow.transform = BodyTransform(lambda b: [b], lambda: [])
    assert client_status(flow) == 200                           # converted answers are always 200
    flow.error = UpstreamError(429, "busy")
    assert client_status(flow) == 429
    flow.bytes_to_client = 10                                   # the error came after the status was sent
    assert client_status(flow) == 200
    flow.response = LocalResponse(404, b"{}")
    assert client_status(flow) == 404


def test_exposition_parses_as_prometheus_text() -> None:
    m = Metrics(CollectorRegistry())
    m._add((m.requests, "chat", "m", "1", "200"))
    m.flush()
    families = {f.name: f for f in text_string_to_metric_families(m.exposition().decode())}
    assert {"oneapi_relay_requests", "oneapi_relay_requests_in_flight", "oneapi_upstream_responses"} <= set(families)
    [s] = [s for s in families["oneapi_relay_requests"].samples if s.name == "oneapi_relay_requests_total"]
    assert s.labels == {"mode": "chat", "model": "m", "channel": "1", "code": "200"} and s.value == 1


async def test_access_log_line_has_the_request_id_and_never_the_key(caplog: pytest.LogCaptureFixture) -> None:
    flow = make_flow(body={}, headers={"Authorization": "Bearer sk-secret-key"}, mode="chat",
                     requested_model="gpt\n2023-01-01 INFO forged line", channel=channel(id=4))
    flow.error = UpstreamError(502, "gone")
    flow.timings.end = flow.timings.start + 0.0125
    with caplog.at_level(logging.INFO, logger="one-api.access"):
        AccessLog().done(flow)
    [record] = caplog.records
    assert record.request_id == "req-1"
    assert record.fields == {"method": "POST", "path": "/v1/chat/completions", "status": 502,
                             "model": repr("gpt\n2023-01-01 INFO forged line"), "channel_id": 4, "elapsed_ms": 12,
                             "request_id": "req-1"}
    line = record.getMessage()
    assert line.startswith("POST /v1/chat/completions 502 model='gpt\\n") and "channel=4 12ms" in line
    assert "\n" not in line and "sk-secret-key" not in line


def headers(**h: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in h.items()}))


def test_scrape_allowed_only_from_loopback_trusted_or_with_the_token() -> None:
    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    assert scrape_allowed("127.0.0.1", headers(), (), "")
    assert scrape_allowed("::1", headers(), (), "")
    assert scrape_allowed("::ffff:127.0.0.1", headers(), (), "")
    assert scrape_allowed("10.1.2.3", headers(), trusted, "")
    assert not scrape_allowed("192.0.2.7", headers(), trusted, "")
    assert not scrape_allowed("", headers(), (), "")
    # forwarded by a local or trusted proxy on behalf of an outsider: refused
    assert not scrape_allowed("127.0.0.1", headers(X_Forwarded_For="192.0.2.7"), (), "")
    assert not scrape_allowed("10.1.2.3", headers(X_Forwarded_For="192.0.2.7, 10.0.0.9"), trusted, "")
    assert scrape_allowed("10.1.2.3", headers(X_Forwarded_For="10.0.0.9"), trusted, "")
    # the token opens it to anyone; a wrong or missing one does not
    assert scrape_allowed("192.0.2.7", headers(Authorization="Bearer s3cret"), (), "s3cret")
    assert not scrape_allowed("192.0.2.7", headers(Authorization="Bearer nope"), (), "s3cret")
    assert not scrape_allowed("192.0.2.7", headers(Authorization="s3cret"), (), "s3cret")
    assert not scrape_allowed("192.0.2.7", headers(Authorization="Bearer "), (), "")
