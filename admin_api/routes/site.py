"""What the site shows before and around login (one-api.md §8.2): status, notice, about, home page content."""

from __future__ import annotations

from aiohttp import web

from admin_api.envelope import ok
from admin_api.option_rules import Options, current
from admin_api.state import state_of
from settings import VERSION


async def get_status(request: web.Request) -> web.Response:
    """GET /api/status: the public fields of one-api.md §8.2."""
    state = state_of(request)
    o = await current(state.db)
    data = {
        "version": VERSION, "start_time": state.started,
        "email_verification": o.flag("EmailVerificationEnabled"), "github_oauth": o.flag("GitHubOAuthEnabled"),
        "github_client_id": o.text("GitHubClientId"), "lark_client_id": o.text("LarkClientId"),
        "system_name": o.text("SystemName") or "One API", "logo": o.text("Logo"), "footer_html": o.text("Footer"),
        "wechat_qrcode": o.text("WeChatAccountQRCodeImageURL"), "wechat_login": o.flag("WeChatAuthEnabled"),
        "server_address": server_address(request, o), "turnstile_check": o.flag("TurnstileCheckEnabled"),
        "turnstile_site_key": o.text("TurnstileSiteKey"), "top_up_link": o.text("TopUpLink"),
        "chat_link": o.text("ChatLink"), "quota_per_unit": _go_number(o.number("QuotaPerUnit", 500000.0)),
        "display_in_currency": o.flag("DisplayInCurrencyEnabled"), "oidc": o.flag("OidcEnabled"),
        "oidc_client_id": o.text("OidcClientId"), "oidc_well_known": o.text("OidcWellKnown"),
        "oidc_authorization_endpoint": o.text("OidcAuthorizationEndpoint"),
        "oidc_token_endpoint": o.text("OidcTokenEndpoint"), "oidc_userinfo_endpoint": o.text("OidcUserinfoEndpoint"),
        "public_pricing": o.flag("PublicPricingEnabled"),
    }
    return ok(data)


def _go_number(value: float) -> float | int:
    """A float64 as Go's JSON writes it: 500000, not 500000.0."""
    return int(value) if value.is_integer() else value


def server_address(request: web.Request, options: Options) -> str:
    """Option ServerAddress, else One API's configured default http://localhost:<port>."""
    return options.text("ServerAddress") or f"http://localhost:{state_of(request).settings.port}"


async def _option_text(request: web.Request, key: str) -> web.Response:
    return ok((await current(state_of(request).db)).text(key))


async def get_notice(request: web.Request) -> web.Response:
    """GET /api/notice: option Notice."""
    return await _option_text(request, "Notice")


async def get_about(request: web.Request) -> web.Response:
    """GET /api/about: option About."""
    return await _option_text(request, "About")


async def get_home_page_content(request: web.Request) -> web.Response:
    """GET /api/home_page_content: option HomePageContent."""
    return await _option_text(request, "HomePageContent")
