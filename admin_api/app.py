"""The admin_api aiohttp application: the whole route table with its guards, in one place."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from aiohttp_session import session_middleware

from admin_api import openapi, web_assets
from admin_api.auth import Access, session_storage
from admin_api.change_nudge import publish_changes
from admin_api.codes import RedisCodes
from admin_api.jobs.schedule import run_jobs
from admin_api.limits import user_limits
from admin_api.ratelimit import RedisLimiter
from admin_api.request_ids import add_request_id
from admin_api.routes import (
    channel_checks,
    channels,
    choices,
    logs,
    mail_links,
    options,
    pricing,
    redemptions,
    site,
    tokens,
    users_admin,
    users_self,
)
from admin_api.routes.oauth import binding, providers
from admin_api.routes.oauth import common as oauth
from admin_api.routing import Route, api_rate_limit, guarded, refusals
from admin_api.state import ROUTES_KEY, STATE, AdminState
from settings import Settings
from startup.guarded_fetch import GuardedFetch
from startup.url_guard import FetchPolicy
from store import Database
from store.change_counter import open_counter
from store.redis_client import connect_redis

P, U, A, R = Access.PUBLIC, Access.USER, Access.ADMIN, Access.ROOT

# Static paths come before `{id}` paths of the same prefix: aiohttp matches in this order.
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/status", site.get_status, P),
    Route("GET", "/api/openapi.json", openapi.serve, P),
    Route("GET", "/api/docs", openapi.browse, P),
    Route("GET", "/api/notice", site.get_notice, P),
    Route("GET", "/api/pricing", pricing.get_pricing, U, public_if="PublicPricingEnabled"),
    Route("POST", "/api/pricing/import/preview", pricing.preview_import, R),
    Route("POST", "/api/pricing/import", pricing.apply_import, R),
    Route("GET", "/api/about", site.get_about, P),
    Route("GET", "/api/home_page_content", site.get_home_page_content, P),
    Route("GET", "/api/models", choices.get_models, U),
    Route("GET", "/api/verification", mail_links.send_verification, P, critical=True, turnstile=True),
    Route("GET", "/api/reset_password", mail_links.send_reset_link, P, critical=True, turnstile=True),
    Route("POST", "/api/user/reset", mail_links.reset_password, P, critical=True),
    Route("GET", "/api/oauth/state", oauth.new_state, P, critical=True),
    Route("GET", "/api/oauth/github", providers.github, P, critical=True),
    Route("GET", "/api/oauth/lark", providers.lark, P, critical=True),
    Route("GET", "/api/oauth/oidc", providers.oidc, P, critical=True),
    Route("GET", "/api/oauth/wechat", providers.wechat, P, critical=True),
    Route("GET", "/api/oauth/wechat/bind", binding.bind_wechat, U, critical=True),
    Route("GET", "/api/oauth/email/bind", binding.bind_email, U, critical=True),
    Route("POST", "/api/topup", users_admin.admin_top_up, A),
    Route("POST", "/api/user/register", users_self.register, P, critical=True, turnstile=True),
    Route("POST", "/api/user/login", users_self.login, P, critical=True),
    Route("GET", "/api/user/logout", users_self.logout, P),
    Route("POST", "/api/user/logout_all", users_self.logout_everywhere, U),
    Route("GET", "/api/user/self", users_self.get_self, U),
    Route("PUT", "/api/user/self", users_self.update_self, U),
    Route("DELETE", "/api/user/self", users_self.delete_self, U),
    Route("GET", "/api/user/dashboard", users_self.dashboard, U),
    Route("GET", "/api/user/token", users_self.generate_access_token, U),
    Route("GET", "/api/user/aff", users_self.get_aff_code, U),
    Route("POST", "/api/user/topup", users_self.redeem, U),
    Route("GET", "/api/user/available_models", users_self.available_models, U),
    Route("GET", "/api/user/limits", user_limits, U),
    Route("GET", "/api/user/", users_admin.list_users, A),
    Route("GET", "/api/user/search", users_admin.search_users, A),
    Route("POST", "/api/user/", users_admin.create, A),
    Route("POST", "/api/user/manage", users_admin.manage, A),
    Route("PUT", "/api/user/", users_admin.update, A),
    Route("GET", "/api/user/{id}", users_admin.get_user, A),
    Route("DELETE", "/api/user/{id}", users_admin.delete, A),
    Route("GET", "/api/option/", options.list_options, R),
    Route("PUT", "/api/option/", options.update_option, R),
    Route("GET", "/api/channel/", channels.list_channels, A),
    Route("GET", "/api/channel/search", channels.search_channels, A),
    Route("GET", "/api/channel/models", channels.builtin_models, A),
    Route("GET", "/api/channel/types", choices.list_types, A),
    Route("GET", "/api/channel/test", channel_checks.test_every, A),
    Route("GET", "/api/channel/test/{id}", channel_checks.test_one, A),
    Route("GET", "/api/channel/update_balance", channel_checks.update_all_balances, A),
    Route("GET", "/api/channel/update_balance/{id}", channel_checks.update_balance, A),
    Route("POST", "/api/channel/", channels.create, A),
    Route("PUT", "/api/channel/", channels.update, A),
    Route("DELETE", "/api/channel/disabled", channels.delete_disabled, A),
    Route("GET", "/api/channel/{id}", channels.get_channel, A),
    Route("DELETE", "/api/channel/{id}", channels.delete, A),
    Route("GET", "/api/token/", tokens.list_tokens, U),
    Route("GET", "/api/token/search", tokens.search_tokens, U),
    Route("POST", "/api/token/", tokens.create, U),
    Route("PUT", "/api/token/", tokens.update, U),
    Route("GET", "/api/token/{id}", tokens.get_token, U),
    Route("DELETE", "/api/token/{id}", tokens.delete, U),
    Route("GET", "/api/redemption/", redemptions.list_codes, A),
    Route("GET", "/api/redemption/search", redemptions.search_codes, A),
    Route("GET", "/api/redemption/export", redemptions.export_codes, A),
    Route("POST", "/api/redemption/", redemptions.create, A),
    Route("PUT", "/api/redemption/", redemptions.update, A),
    Route("GET", "/api/redemption/{id}", redemptions.get_code, A),
    Route("DELETE", "/api/redemption/{id}", redemptions.delete, A),
    Route("GET", "/api/log/", logs.list_all, A),
    Route("DELETE", "/api/log/", logs.purge, A),
    Route("GET", "/api/log/stat", logs.stat_all, A),
    Route("GET", "/api/log/self/stat", logs.stat_own, U),
    Route("GET", "/api/log/search", logs.search_all, A),
    Route("GET", "/api/log/self", logs.list_own, U),
    Route("GET", "/api/log/self/search", logs.search_own, U),
    Route("GET", "/api/group/", choices.get_groups, A),
)


async def _clients(app: web.Application) -> AsyncIterator[None]:
    """The outgoing HTTP client, and Redis for rate limits and mail codes when it is configured."""
    state = app[STATE]
    # no cookie jar: a cookie one provider answer set (a balance query, an OAuth exchange) must never go out
    # with another channel's key or another user's login
    state.http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                       timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120))
    settings = state.settings
    state.price_fetch = GuardedFetch(FetchPolicy.allowing(settings.image_fetch_allow_hosts),
                                     settings.user_content_request_proxy or settings.relay_proxy or None,
                                     settings.user_content_request_timeout)
    await state.price_fetch.start()
    if state.settings.redis_enabled:
        state.redis = connect_redis(state.settings.redis_conn_string, state.settings.redis_password,
                                    state.settings.redis_master_name)
        state.limiter, state.codes = RedisLimiter(state.redis), RedisCodes(state.redis)
    yield
    await state.http.close()
    await state.price_fetch.close()
    if state.redis is not None:
        await state.redis.aclose()


def create_app(settings: Settings, db: Database) -> web.Application:
    """The admin API on `db`; the proxy sends it every path it does not serve itself."""
    storage = session_storage(settings.session_secret)
    # Gin redirects `/api/token` to `/api/token/`; 308 keeps the method and body.
    slash = web.normalize_path_middleware(append_slash=True, remove_slash=False,
                                          redirect_class=web.HTTPPermanentRedirect)
    app = web.Application(client_max_size=64 * 1024 * 1024,
                          middlewares=[slash, session_middleware(storage), refusals, api_rate_limit,
                                       publish_changes])
    app[STATE] = AdminState(settings=settings, db=db, started=int(time.time()),
                            change_counter=open_counter(settings.change_counter))
    app[ROUTES_KEY] = ROUTES
    app.on_response_prepare.append(add_request_id)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route))
    web_assets.add_web_console(app)   # last: the console answers only paths no /api route took
    app.cleanup_ctx.append(_clients)
    app.cleanup_ctx.append(run_jobs)   # after the clients (jobs use them), so stopped before they close
    return app
