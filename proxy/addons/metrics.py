"""Observability of the relay: Prometheus metrics, the access log line, and who may scrape `/metrics`.

With several workers every process writes its samples to files under
PROMETHEUS_MULTIPROC_DIR (set by the launcher before the workers start, which
makes prometheus-client pick its multiprocess value class at import), and a
scrape of any worker aggregates them all; one worker without the variable
keeps its samples in memory.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiohttp import web
from multidict import CIMultiDictProxy
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from proxy.core.flow import Flow
from proxy.gateway.modes import mode_for
from proxy.gateway.state import RelayState
from settings.network import LOOPBACK, parse_address

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
FIRST_BYTE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
MAX_LABEL = 64          # error codes may come from an upstream's body: keep them short
FLUSH_DELAY = 0.2       # seconds a count may wait before prometheus-client (and other workers' scrapes) see it

# flow.metadata keys this addon owns: private scratch, read by no other module (shared data is a typed field)
_IN_FLIGHT, _STREAMING, _HEADERS_BEFORE = "metrics_in_flight", "metrics_streaming", "metrics_headers_before"


def client_status(flow: Flow[Any]) -> int:
    """The HTTP status the client got: a local answer, the error (if nothing was sent yet), or the upstream's."""
    if flow.response is not None:
        return flow.response.status
    if flow.error is not None and not flow.committed:
        return int(flow.error.status)
    return 200 if flow.transform is not None else (flow.upstream_status or 200)


def _channel(state: RelayState) -> str:
    return str(state.channel.id) if state.channel is not None else ""


class Metrics:
    """Counts every relay request in `done`; `request`/`response` keep the in-flight gauges; taps stay O(1).

    On the hot path counters and gauges are plain numbers: a request adds to a dict,
    and `flush` (a one-shot timer, FLUSH_DELAY after the first change, and every scrape)
    hands the sums to prometheus-client, whose every increment takes a lock and, with
    several workers, writes a file. Histograms observe at once (a value each).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter("oneapi_relay_requests", "Relay requests by mode, model, channel and client status",
                                ("mode", "model", "channel", "code"), registry=r)
        self.errors = Counter("oneapi_relay_errors", "Relay requests that ended in an error, by error type and code",
                              ("type", "code"), registry=r)
        self.duration = Histogram("oneapi_relay_request_duration_seconds", "Relay request time, start to last byte",
                                  ("mode", "stream"), buckets=LATENCY_BUCKETS, registry=r)
        self.first_byte = Histogram("oneapi_relay_time_to_first_byte_seconds",
                                    "Streamed relay requests: time until the first byte reached the client",
                                    ("mode",), buckets=FIRST_BYTE_BUCKETS, registry=r)
        self.tokens = Counter("oneapi_relay_tokens", "Billed tokens by model, channel and kind (prompt, completion)",
                              ("model", "channel", "kind"), registry=r)
        self.quota = Counter("oneapi_relay_quota", "Quota charged (500000 = 1 USD) by model and channel",
                             ("model", "channel"), registry=r)
        self.in_flight = Gauge("oneapi_relay_requests_in_flight", "Relay requests past the request checks, not done",
                               registry=r, multiprocess_mode="livesum")
        self.streams = Gauge("oneapi_relay_streams_in_flight", "Streamed answers being relayed to clients",
                             registry=r, multiprocess_mode="livesum")
        self.upstream = Counter("oneapi_upstream_responses", "Upstream answers per attempt by channel and HTTP status "
                                "(code \"none\": no answer, e.g. a network error or timeout)",
                                ("channel", "code"), registry=r)
        self.limit_refusals = Counter("oneapi_rate_limit_refusals", "Requests refused by a rate limit (RPM, TPM, "
                                      "concurrency) by what decided: memory, database, or redis (a refusal "
                                      "remembered there, the database not asked)", ("source",), registry=r)
        # label children bound once per label set: .labels() validates and locks on every call
        self._children: dict[tuple[Any, ...], Any] = {}
        self._pending: dict[tuple[Any, ...], float] = {}    # (counter, *labels) -> increment not yet handed over
        self._active = self._streaming = 0
        self._armed = False

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _add(self, key: tuple[Any, ...], amount: float = 1) -> None:
        pending = self._pending
        pending[key] = pending.get(key, 0) + amount
        if not self._armed:
            self._arm()

    def _arm(self) -> None:
        try:
            asyncio.get_running_loop().call_later(FLUSH_DELAY, self.flush)
            self._armed = True
        except RuntimeError:      # no event loop (a hook called from plain code): hand over at once
            self.flush()

    def flush(self) -> None:
        """Hand the pending sums and the gauges' current values to prometheus-client."""
        self._armed = False
        pending, self._pending = self._pending, {}
        for (metric, *labels), amount in pending.items():
            self._child(metric, *labels).inc(amount)
        self.in_flight.set(self._active)
        self.streams.set(self._streaming)

    def request(self, flow: Flow[RelayState]) -> None:
        flow.metadata[_IN_FLIGHT] = True
        self._active += 1
        if not self._armed:
            self._arm()

    def route(self, flow: Flow[RelayState]) -> None:
        # the pipeline sets fresh upstream headers when an answer arrives: remember this attempt's starting point
        flow.metadata[_HEADERS_BEFORE] = flow.upstream_headers

    def response(self, flow: Flow[RelayState]) -> None:
        self._add((self.upstream, _channel(flow.state), str(flow.upstream_status)))
        if flow.stream and not flow.metadata.get(_STREAMING):
            flow.metadata[_STREAMING] = True
            self._streaming += 1

    def upstream_error(self, flow: Flow[RelayState]) -> None:
        answered = flow.upstream_headers is not flow.metadata.get(_HEADERS_BEFORE)
        self._add((self.upstream, _channel(flow.state), str(flow.upstream_status) if answered else "none"))

    def chunk(self, flow: Flow[RelayState], data: bytes) -> None:
        timings = flow.timings
        if timings.first_byte_to_client is None:
            timings.first_byte_to_client = time.monotonic()

    def done(self, flow: Flow[RelayState]) -> None:
        metadata, state, timings = flow.metadata, flow.state, flow.timings
        if metadata.pop(_IN_FLIGHT, False):
            self._active -= 1
        if metadata.pop(_STREAMING, False):
            self._streaming -= 1
        mode = state.mode or mode_for(flow.request.path)[0] or "unknown"
        channel = _channel(state)
        model = state.model if state.channel is not None else ""   # only configured names: bounded label values
        self._add((self.requests, mode, model, channel, str(client_status(flow))))
        end = timings.end or time.monotonic()
        self._child(self.duration, mode, "true" if flow.stream else "false").observe(end - timings.start)
        if flow.stream and timings.first_byte_to_client is not None:
            self._child(self.first_byte, mode).observe(timings.first_byte_to_client - timings.start)
        if state.limit_refused_by:
            self._add((self.limit_refusals, state.limit_refused_by))
        error = flow.error
        if error is not None:
            self._add((self.errors, str(error.type)[:MAX_LABEL], str(error.code or "")[:MAX_LABEL]))
        elif flow.client_disconnected:
            self._add((self.errors, "client_disconnected", ""))
        if state.billed:   # as the consume log: refunded requests count no tokens and no quota
            usage = state.usage
            if usage is not None:
                self._add((self.tokens, model, channel, "prompt"), usage.prompt_tokens)
                self._add((self.tokens, model, channel, "completion"), usage.completion_tokens)
            if state.quota:
                self._add((self.quota, model, channel), state.quota)

    def exposition(self) -> bytes:
        """The text format: this process's registry, or every worker's files in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)   # type: ignore[no-untyped-call]  # prometheus-client ships no hints here
            return generate_latest(registry)
        return generate_latest(self.registry)


class LineWriter(Protocol):
    """Where access lines go without the logging machinery (startup.logs.LineSink)."""

    def enabled(self) -> bool: ...
    def __call__(self, message: str, request_id: str, fields: dict[str, Any]) -> None: ...


class AccessLog:
    """One INFO line per relay request: method, path, status, model, channel, elapsed ms, request id — never the key.

    `sink(message, request_id, fields)` writes the line without the logging machinery (startup.logs.LineSink,
    the proxy workers' hot path); without one the line goes through the `one-api.access` logger.
    """

    def __init__(self, logger: logging.Logger | None = None, sink: LineWriter | None = None) -> None:
        self.log = logger or logging.getLogger("one-api.access")
        self.sink = sink

    def done(self, flow: Flow[RelayState]) -> None:
        sink = self.sink
        if not (sink.enabled() if sink is not None else self.log.isEnabledFor(logging.INFO)):
            return
        state = flow.state
        fields = {"method": flow.request.method, "path": _printable(flow.request.path), "status": client_status(flow),
                  "model": _printable(state.model or state.requested_model),
                  "channel_id": state.channel.id if state.channel is not None else 0,
                  "elapsed_ms": flow.timings.elapsed_ms(), "request_id": flow.request_id}
        if sink is not None:
            sink(f"{fields['method']} {fields['path']} {fields['status']} model={fields['model']} "
                 f"channel={fields['channel_id']} {fields['elapsed_ms']}ms", flow.request_id, fields)
            return
        # the request id is in the record (the log format prints it; JSON lines carry `fields` as keys)
        self.log.info("%(method)s %(path)s %(status)d model=%(model)s channel=%(channel_id)d %(elapsed_ms)dms",
                      fields, extra={"request_id": flow.request_id, "fields": fields})


def _printable(text: str) -> str:
    """Client-chosen text in a log line: no line breaks or control characters (no forged lines)."""
    return text if text.isprintable() else repr(text)


def scrape_allowed(peer: str, headers: CIMultiDictProxy[str], trusted: Sequence[Any], token: str) -> bool:
    """Loopback or TRUSTED_PROXIES peers, and every forwarded hop too; anyone else needs `Bearer METRICS_TOKEN`."""
    if token:
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip().encode(), token.encode()):
            return True
    hops = [peer, *(h for h in headers.get("X-Forwarded-For", "").split(",") if h.strip())]
    return all(_is_local_or_trusted(hop, trusted) for hop in hops)


def _is_local_or_trusted(address: str, trusted: Sequence[Any]) -> bool:
    ip = parse_address(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in (*LOOPBACK, *trusted))


def scrape_handler(metrics: Metrics, trusted: Sequence[Any],
                   token: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /metrics on the proxy port (never passed to admin_api)."""
    async def scrape(request: web.Request) -> web.Response:
        if not scrape_allowed(request.remote or "", request.headers, trusted, token):
            return web.Response(status=403, text="/metrics: loopback and TRUSTED_PROXIES only, "
                                                 "or Authorization: Bearer METRICS_TOKEN\n")
        metrics.flush()      # this worker's pending counts (the others flush within FLUSH_DELAY)
        # multiprocess mode reads every worker's files: off the event loop
        body = await asyncio.get_running_loop().run_in_executor(None, metrics.exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
    return scrape


__all__ = ["AccessLog", "Metrics", "client_status", "scrape_allowed", "scrape_handler"]
