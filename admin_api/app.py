"""The admin_api aiohttp application: route table and shared state."""

from __future__ import annotations

import time

from aiohttp import web

from settings import VERSION, Settings
from store import DEFAULT_OPTIONS, Database, as_bool, as_int, load_options

SETTINGS_KEY = web.AppKey("settings", Settings)
DB_KEY = web.AppKey("db", Database)
START_TIME_KEY = web.AppKey("start_time", int)


async def _options(request: web.Request) -> dict[str, str]:
    async with request.app[DB_KEY].session() as session:
        return await load_options(session, DEFAULT_OPTIONS)


async def get_status(request: web.Request) -> web.Response:
    """GET /api/status: the public fields of one-api.md §8.2."""
    o = await _options(request)
    data = {
        "version": VERSION,
        "start_time": request.app[START_TIME_KEY],
        "email_verification": as_bool(o.get("EmailVerificationEnabled")),
        "github_oauth": as_bool(o.get("GitHubOAuthEnabled")),
        "github_client_id": o.get("GitHubClientId", ""),
        "lark_client_id": o.get("LarkClientId", ""),
        "system_name": o.get("SystemName", "One API"),
        "logo": o.get("Logo", ""),
        "footer_html": o.get("Footer", ""),
        "wechat_qrcode": o.get("WeChatAccountQRCodeImageURL", ""),
        "wechat_login": as_bool(o.get("WeChatAuthEnabled")),
        "server_address": o.get("ServerAddress", "") or f"http://localhost:{request.app[SETTINGS_KEY].port}",
        "turnstile_check": as_bool(o.get("TurnstileCheckEnabled")),
        "turnstile_site_key": o.get("TurnstileSiteKey", ""),
        "top_up_link": o.get("TopUpLink", ""),
        "chat_link": o.get("ChatLink", ""),
        "quota_per_unit": as_int(o.get("QuotaPerUnit"), 500000),
        "display_in_currency": as_bool(o.get("DisplayInCurrencyEnabled")),
        "oidc": as_bool(o.get("OidcEnabled")),
        "oidc_client_id": o.get("OidcClientId", ""),
        "oidc_well_known": o.get("OidcWellKnown", ""),
        "oidc_authorization_endpoint": o.get("OidcAuthorizationEndpoint", ""),
        "oidc_token_endpoint": o.get("OidcTokenEndpoint", ""),
        "oidc_userinfo_endpoint": o.get("OidcUserinfoEndpoint", ""),
    }
    return web.json_response({"success": True, "message": "", "data": data})


def create_app(settings: Settings, db: Database) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[SETTINGS_KEY] = settings
    app[DB_KEY] = db
    app[START_TIME_KEY] = int(time.time())
    app.router.add_get("/api/status", get_status)
    return app
