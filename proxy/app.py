"""The proxy application: the relay pipeline readable in one place, its routes, and the pass-through to admin_api."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from proxy.addons.auth import TokenAuth
from proxy.addons.billing import Billing
from proxy.addons.body import RequestBody
from proxy.addons.client_dialect import ClientDialect
from proxy.addons.consume_log import ConsumeLog
from proxy.addons.converter_upstream import ConverterUpstream
from proxy.addons.dialect_upstream import DialectUpstream
from proxy.addons.error_scrub import ErrorScrub
from proxy.addons.gemini_count import GeminiCountRoute
from proxy.addons.health import ChannelHealth
from proxy.addons.info import InfoAnswers
from proxy.addons.limits import RateRelease, rate_limits
from proxy.addons.mapping import ModelMapping
from proxy.addons.metrics import AccessLog, LineWriter, Metrics, scrape_handler
from proxy.addons.openai_upstream import OpenAIUpstream
from proxy.addons.raw_proxy import RawProxy
from proxy.addons.rerank_upstream import RerankUpstream
from proxy.addons.reservation import Reservation
from proxy.addons.retry import RetryPolicy
from proxy.addons.route import Route
from proxy.addons.stored_responses import COUNT_PATH, StoredResponses
from proxy.addons.token_count import MessageTokens
from proxy.addons.usage_tap import UsageTap
from proxy.admin_passthrough import AdminPassthrough, admin_session
from proxy.client_ip import TRUSTED_KEY, client_ip
from proxy.converters.base import OpenAIError
from proxy.converters.dialects.gemini_client_answer import error_from_openai as gemini_error
from proxy.core.addon_manager import AddonManager
from proxy.core.forward import UpstreamOpener
from proxy.core.opener import Opener
from proxy.core.pipeline import Pipeline
from proxy.core.request_body import MAX_BODY
from proxy.cors import add_cors_headers, with_preflight
from proxy.gateway import messages
from proxy.gateway.gemini_calls import COUNT, parse_call
from proxy.gateway.image_probe import ImageProbe
from proxy.gateway.state import RelayState
from proxy.request_ids import add_request_id
from proxy.runtime import Runtime
from rules import load_max_output
from settings import Settings
from store.keys import request_id
from store.outage import is_outage

RUNTIME_KEY = web.AppKey("runtime", Runtime)
ADMIN_SESSION_KEY = web.AppKey("admin_session", aiohttp.ClientSession)

RELAY_POST = ("/v1/completions", "/v1/chat/completions", "/v1/edits", "/v1/images/generations", "/v1/embeddings",
              "/v1/engines/{model}/embeddings", "/v1/audio/transcriptions", "/v1/audio/translations",
              "/v1/audio/speech", "/v1/moderations", "/v1/responses", "/v1/messages", "/v1/images/edits", "/v1/rerank")
NOT_IMPLEMENTED = (
    ("POST", "/v1/images/variations"), ("*", "/v1/files{tail:.*}"),
    ("*", "/v1/fine_tuning{tail:.*}"), ("DELETE", "/v1/models/{model}"), ("*", "/v1/assistants{tail:.*}"),
    ("*", "/v1/threads{tail:.*}"),
)


def relay_addons(rt: Runtime, metrics: Metrics | None = None, access: AccessLog | None = None) -> AddonManager:
    """The gateway: read top to bottom, it is the order every hook runs in."""
    s = rt.settings
    health = ChannelHealth(rt.db, rt.caches, rt.options, s.enable_metric, s.metric_queue_size,
                           s.metric_success_rate_threshold, rt.announce_change)
    options = {"GEMINI_SAFETY_SETTING": s.gemini_safety_setting}
    if s.gemini_version:
        options["GEMINI_VERSION"] = s.gemini_version
    return AddonManager([
        ClientDialect(),                                                  # a client's dialect ↔ the hub (chat)
        TokenAuth(rt.caches),                                             # who: key, token, user, pin
        RequestBody(),                                                    # what: mode, model, stream, checks
        Route(rt.caches, catalog=rt.catalog),                             # where: by group/model/priority/weight
        ModelMapping(),                                                   # rewrite: model mapping, system prompt
        Reservation(rt.ledger, rt.current_prices, rt.options, rt.tokenizer,  # hold what the answer can cost
                    load_max_output(), ImageProbe(rt.user_content).sizes if s.image_fetch_enabled else None),
        RerankUpstream(rt.catalog, s.relay_timeout),                      # rewrite: rerank to types that have it
        rate_limits(rt.limits, rt.options),                               # RPM/TPM/concurrency: admit, or 429
        OpenAIUpstream(rt.catalog, s.relay_timeout, s.enforce_include_usage),  # rewrite: pass-through upstreams
        ConverterUpstream(rt.catalog, rt.http, options, s.relay_timeout, s.relay_proxy,   # rewrite: converted upstreams
                          read_timeout=max(s.relay_first_byte_timeout, s.relay_idle_timeout)),
        DialectUpstream(rt.catalog, s.relay_timeout),                     # rewrite: a client's own dialect
        RawProxy(rt.catalog, s.relay_timeout),                            # rewrite: the raw proxy route
        UsageTap(rt.tokenizer.count_text),                                # taps: usage and text from the bytes
        Billing(rt.ledger, rt.current_prices, rt.options, rt.tokenizer),  # settle / refund
        RateRelease(rt.limits),                                           # rate windows: real tokens, slot freed
        health,                                                           # auto-disable, success rate
        RetryPolicy(rt.caches, rt.options),                               # another channel, or stop
        ErrorScrub(rt.catalog),                                           # no key or address in the client's error
        ConsumeLog(rt.logs, rt.current_prices, rt.options),               # the log row
        access or AccessLog(),                                            # one access-log line
        metrics or Metrics(),                                             # Prometheus counters (last: sees it all)
    ])


def count_addons(rt: Runtime) -> AddonManager:
    """Anthropic's count_tokens and Gemini's countTokens: the key checked, the prompt counted here (a Gemini
    channel counts Gemini's itself), errors in the client's shape; nothing billed."""
    return AddonManager([ClientDialect(convert=False), TokenAuth(rt.caches),
                         GeminiCountRoute(rt.caches, rt.catalog), MessageTokens(rt.tokenizer),
                         ModelMapping(), DialectUpstream(rt.catalog, rt.settings.relay_timeout)])


def stored_response_addons(rt: Runtime) -> AddonManager:
    """The Responses API's stored responses and input_tokens: passed to a channel that speaks it, never billed."""
    return AddonManager([TokenAuth(rt.caches), StoredResponses(rt.catalog, rt.caches, rt.settings.relay_timeout),
                         ErrorScrub(rt.catalog)])


def info_addons(rt: Runtime) -> AddonManager:
    return AddonManager([ClientDialect(convert=False),   # Gemini's model list: its errors in Gemini's shape
                         TokenAuth(rt.caches),
                         InfoAnswers(rt.catalog, rt.caches, rt.ledger, rt.options, rt.budgets)])


def invalid_url(request: web.Request) -> web.Response:
    """One API's answer for unknown /v1 and /api paths."""
    return web.json_response({"error": {"message": f"Invalid URL ({request.method} {request.path})",
                                        "type": "invalid_request_error", "param": "", "code": ""}}, status=404)


def gemini_not_found(request: web.Request) -> web.Response:
    """Gemini's answer for a path it does not serve."""
    status, body = gemini_error(OpenAIError(404, f"Invalid URL ({request.method} {request.path})", "not_found"))
    return web.Response(body=body, status=status, content_type="application/json")


def create_app(settings: Settings, runtime: Runtime | None = None, access_sink: LineWriter | None = None, *,
               addons: AddonManager | None = None, opener: Opener | None = None) -> web.Application:
    """`addons`: the relay's addon list (default: relay_addons); `opener`: what sends upstream calls (default:
    the worker's HTTP clients). Tests pass smaller ones; /metrics reports the list's Metrics addon."""
    app = web.Application(client_max_size=MAX_BODY)
    rt = runtime or Runtime.from_settings(settings)
    app[RUNTIME_KEY] = rt
    app[TRUSTED_KEY] = settings.trusted_proxies
    app.cleanup_ctx.append(_lifecycle)
    app.on_response_prepare.append(add_cors_headers)
    app.on_response_prepare.append(add_request_id)
    messages.use(settings.language)
    opener = opener or UpstreamOpener(rt.http, rt.upstream_client, settings.relay_proxy or None,
                                      settings.relay_first_byte_timeout, settings.relay_idle_timeout)
    if addons is None:
        metrics = Metrics()
        addons = relay_addons(rt, metrics, AccessLog(sink=access_sink))
    else:
        metrics = next((a for a in addons.addons if isinstance(a, Metrics)), Metrics())
    relay = Pipeline(addons, opener, RelayState, request_id, client_ip, unavailable=is_outage)
    info = Pipeline(info_addons(rt), opener, RelayState, request_id, client_ip, unavailable=is_outage)
    count = Pipeline(count_addons(rt), opener, RelayState, request_id, client_ip, unavailable=is_outage)
    stored = Pipeline(stored_response_addons(rt), opener, RelayState, request_id, client_ip, unavailable=is_outage)

    async def drain(_: web.Application) -> None:
        """On stop (after the port closed): relays get SHUTDOWN_GRACE, then cut streams get an error event."""
        grace = settings.shutdown_grace
        await asyncio.gather(relay.inflight.drain(grace), info.inflight.drain(grace), count.inflight.drain(grace),
                             stored.inflight.drain(grace))
    app.on_shutdown.append(drain)

    for path in RELAY_POST:
        app.router.add_post(path, relay.handle)
    app.router.add_post("/v1/messages/count_tokens", count.handle)
    app.router.add_post(COUNT_PATH, stored.handle)
    for method, path in (("GET", "/v1/responses/{id}"), ("DELETE", "/v1/responses/{id}"),
                         ("POST", "/v1/responses/{id}/cancel"), ("GET", "/v1/responses/{id}/input_items")):
        app.router.add_route(method, path, stored.handle)

    async def gemini_call(request: web.Request) -> web.StreamResponse:
        """`POST /{v1beta|v1}/models/{model}:{method}`: counted here, or relayed as chat or embeddings."""
        call = parse_call(request.path)
        if call is None:
            return invalid_url(request) if request.path.startswith("/v1/") else gemini_not_found(request)
        return await (count.handle if call.method == COUNT else relay.handle)(request)

    for prefix in ("/v1beta/models/", "/v1/models/"):
        app.router.add_post(prefix + "{call:.+}", gemini_call)
    for path in ("/v1beta/models", "/v1beta/models/{model:.+}"):
        app.router.add_get(path, info.handle)
    # OPTIONS reaches only "*" routes: those answer CORS preflights (proxy.cors)
    app.router.add_route("*", "/v1/oneapi/proxy/{channelid}/{target:.*}", with_preflight(relay.handle))
    for path in ("/v1/models", "/v1/models/{model}", "/dashboard/billing/subscription", "/dashboard/billing/usage",
                 "/v1/dashboard/billing/subscription", "/v1/dashboard/billing/usage"):
        app.router.add_get(path, info.handle)
    for method, path in NOT_IMPLEMENTED:
        app.router.add_route(method, path, with_preflight(info.handle) if method == "*" else info.handle)

    frontend = settings.frontend_base_url.rstrip("/") if settings.frontend_base_url and not settings.is_master else ""

    async def v1_unknown(request: web.Request) -> web.Response:
        if frontend:   # a slave with FRONTEND_BASE_URL redirects every unmatched path, as One API
            raise web.HTTPMovedPermanently(frontend + request.path_qs)
        return invalid_url(request)

    # counted with the relays: a stop lets an admin call passed through finish within SHUTDOWN_GRACE too
    to_admin = relay.inflight.counted(AdminPassthrough(settings.admin_socket, lambda: app[ADMIN_SESSION_KEY]).handle)

    app.router.add_get("/metrics", scrape_handler(metrics, settings.trusted_proxies, settings.metrics_token))
    app.router.add_route("*", "/v1/{tail:.*}", with_preflight(v1_unknown))
    async def v1beta_unknown(request: web.Request) -> web.Response:
        return gemini_not_found(request)

    app.router.add_route("*", "/v1beta/{tail:.*}", with_preflight(v1beta_unknown))
    app.router.add_route("*", "/{tail:.*}", with_preflight(to_admin))
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    rt = app[RUNTIME_KEY]
    await rt.start()
    admin = admin_session(rt.settings.admin_socket)
    app[ADMIN_SESSION_KEY] = admin
    yield
    await admin.close()
    await rt.close()
