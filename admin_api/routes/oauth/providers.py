"""The four external logins: GitHub, Feishu/Lark, OIDC and WeChat (via a WeChat server), each a code exchange.

Every provider URL comes from an option (ours for those One API hard-codes), so tests use local fakes.
"""

from __future__ import annotations

from aiohttp import web

from admin_api.envelope import INVALID_PARAMETER, Refusal, query_text
from admin_api.option_rules import Options, current
from admin_api.routes.oauth.common import EMPTY_IDENTITY, Identity, check_state, fetch_json, finish
from admin_api.routes.site import server_address
from admin_api.state import state_of


def _code(request: web.Request) -> str:
    code = query_text(request, "code")
    if not code:
        raise Refusal(INVALID_PARAMETER)
    return code


def _access_token(answer: object, unreachable: str) -> str:
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise Refusal(unreachable)
    return token


def _field(info: object, name: str) -> str:
    value = info.get(name) if isinstance(info, dict) else None
    return value if isinstance(value, str) else ""


async def github(request: web.Request) -> web.Response:
    """GET /api/oauth/github?code=&state=: GitHub login, registration or binding."""
    await check_state(request)
    options = await current(state_of(request).db)
    if not options.flag("GitHubOAuthEnabled"):
        raise Refusal("管理员未开启通过 GitHub 登录以及注册")
    unreachable = "无法连接至 GitHub 服务器，请稍后重试！"
    answer = await fetch_json(request, "POST", options.text("GitHubTokenEndpoint"), unreachable,
                              json={"client_id": options.text("GitHubClientId"), "code": _code(request),
                                    "client_secret": options.text("GitHubClientSecret")},
                              headers={"Accept": "application/json"})
    info = await fetch_json(request, "GET", options.text("GitHubUserEndpoint"), unreachable,
                            headers={"Authorization": f"Bearer {_access_token(answer, unreachable)}"})
    identity = Identity("github_id", _field(info, "login"), "github", _field(info, "name") or "GitHub User",
                        _field(info, "email"))
    return await finish(request, identity, "该 GitHub 账户已被绑定")


async def lark(request: web.Request) -> web.Response:
    """GET /api/oauth/lark?code=&state=: Feishu/Lark login, registration or binding."""
    await check_state(request)
    options = await current(state_of(request).db)
    if not options.text("LarkClientId"):
        raise Refusal("管理员未开启通过飞书登录以及注册")
    unreachable = "无法连接至飞书服务器，请稍后重试！"
    answer = await fetch_json(request, "POST", options.text("LarkTokenEndpoint"), unreachable,
                              json={"grant_type": "authorization_code", "client_id": options.text("LarkClientId"),
                                    "client_secret": options.text("LarkClientSecret"), "code": _code(request),
                                    "redirect_uri": f"{server_address(request, options)}/oauth/lark"})
    info = await fetch_json(request, "GET", options.text("LarkUserinfoEndpoint"), unreachable,
                            headers={"Authorization": f"Bearer {_access_token(answer, unreachable)}"})
    identity = Identity("lark_id", _field(info, "open_id"), "lark", _field(info, "name") or "Lark User")
    return await finish(request, identity, "该飞书账户已被绑定")


async def oidc(request: web.Request) -> web.Response:
    """GET /api/oauth/oidc?code=&state=: OpenID Connect (token request form-encoded, as RFC 6749 says)."""
    await check_state(request)
    options = await current(state_of(request).db)
    if not options.flag("OidcEnabled"):
        raise Refusal("管理员未开启通过 OIDC 登录以及注册")
    unreachable = "无法连接至 OIDC 服务器，请稍后重试！"
    answer = await fetch_json(request, "POST", options.text("OidcTokenEndpoint"), unreachable,
                              data={"client_id": options.text("OidcClientId"), "code": _code(request),
                                    "client_secret": options.text("OidcClientSecret"),
                                    "grant_type": "authorization_code",
                                    "redirect_uri": f"{server_address(request, options)}/oauth/oidc"},
                              headers={"Accept": "application/json"})
    info = await fetch_json(request, "GET", options.text("OidcUserinfoEndpoint"), unreachable,
                            headers={"Authorization": f"Bearer {_access_token(answer, unreachable)}"})
    identity = Identity("oidc_id", _field(info, "sub"), "oidc", _field(info, "name") or "OIDC User",
                        _field(info, "email"), _field(info, "preferred_username"))
    return await finish(request, identity, "该 OIDC 账户已被绑定")


async def wechat_id(request: web.Request, options: Options) -> str:
    """The WeChat id the WeChat server gives for a login code."""
    if not options.flag("WeChatAuthEnabled"):
        raise Refusal("管理员未开启通过微信登录以及注册")
    url = options.text("WeChatServerAddress").rstrip("/") + "/api/wechat/user"
    answer = await fetch_json(request, "GET", url, "无法连接至微信服务器，请稍后重试！",
                              params={"code": _code(request)},
                              headers={"Authorization": options.text("WeChatServerToken")})
    if not isinstance(answer, dict) or answer.get("success") is not True:
        raise Refusal(_field(answer, "message") or "验证码错误或已过期")
    value = _field(answer, "data")
    if not value:
        raise Refusal(EMPTY_IDENTITY)
    return value


async def wechat(request: web.Request) -> web.Response:
    """GET /api/oauth/wechat?code=: WeChat login or registration (no state: the code is typed in)."""
    options = await current(state_of(request).db)
    identity = Identity("wechat_id", await wechat_id(request, options), "wechat", "WeChat User")
    return await finish(request, identity, "该微信账号已被绑定")
