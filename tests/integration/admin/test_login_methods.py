"""GitHub, Lark, OIDC, WeChat, email (SMTP) and Turnstile, each end to end against a local fake."""

from __future__ import annotations

import asyncio
import re
from email.message import Message
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from aiohttp import web

from .fakes import Recorder, serve

PEOPLE = {"c-octo": {"login": "octo", "name": "Octo Cat", "email": "octo@example.com"},
          "c-other": {"login": "other", "name": "", "email": ""}}


async def _authorize(request: web.Request) -> web.Response:
    """The provider's consent page: straight back to the app with a code and the state."""
    q = request.query
    raise web.HTTPFound(f"{q['redirect_uri']}?code={q['login_hint']}&state={q['state']}")


async def _token(request: web.Request) -> web.Response:
    body = await request.post() if request.content_type.startswith("application/x-www") else await request.json()
    return web.json_response({"access_token": f"at-{body['code']}", "token_type": "bearer"})


def _person(request: web.Request) -> dict:
    return PEOPLE[request.headers["Authorization"].removeprefix("Bearer at-")]


async def _github_user(request: web.Request) -> web.Response:
    return web.json_response(_person(request))


async def _lark_user(request: web.Request) -> web.Response:
    person = _person(request)
    return web.json_response({"open_id": "ou_" + person["login"], "name": person["name"]})


async def _oidc_user(request: web.Request) -> web.Response:
    person = _person(request)
    return web.json_response({"sub": "sub-" + person["login"], "preferred_username": person["login"],
                              "name": person["name"], "email": person["email"]})


async def _wechat_user(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != "wx-token" or request.query["code"] == "bad":
        return web.json_response({"success": False, "message": "验证码错误或已过期"})
    return web.json_response({"success": True, "message": "", "data": "wx-" + request.query["code"]})


async def _siteverify(request: web.Request) -> web.Response:
    form = await request.post()
    return web.json_response({"success": form["response"] == "good" and form["secret"] == "ts-secret"})


@pytest.fixture
async def provider():
    recorder = Recorder()
    routes = {("GET", "/authorize"): _authorize, ("POST", "/token"): _token, ("GET", "/github/user"): _github_user,
              ("GET", "/lark/user"): _lark_user, ("GET", "/oidc/user"): _oidc_user,
              ("GET", "/api/wechat/user"): _wechat_user, ("POST", "/siteverify"): _siteverify}
    server = await serve(routes, recorder)
    server.recorder = recorder
    yield server
    await server.close()


async def _set(api, **options):
    for key, value in options.items():
        _, body = await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": value})
        assert body["success"], (key, body)


async def _oauth_login(api, provider, route: str, hint: str, client=None):
    """authorize → callback → token → user info, with the browser's cookie jar."""
    client = client or await api.client()
    _, body = await api.call("GET", "/api/oauth/state", client=client)
    state = body["data"]
    async with client.session.get(provider.make_url("/authorize"), allow_redirects=False, params={
            "login_hint": hint, "state": state, "redirect_uri": "http://app/oauth/x"}) as resp:
        back = parse_qs(urlsplit(resp.headers["Location"]).query)
    _, body = await api.call("GET", f"/api/oauth/{route}?code={back['code'][0]}&state={back['state'][0]}",
                             client=client)
    return client, body


async def test_github_login_register_bind_and_state(api, provider):
    base = str(provider.make_url("")).rstrip("/")
    _, body = await _oauth_login(api, provider, "github", "c-octo")
    assert body["message"] == "管理员未开启通过 GitHub 登录以及注册"
    await _set(api, GitHubClientId="gh-id", GitHubClientSecret="gh-secret", GitHubOAuthEnabled="true",
               GitHubTokenEndpoint=f"{base}/token", GitHubUserEndpoint=f"{base}/github/user")
    client, body = await _oauth_login(api, provider, "github", "c-octo")
    assert body["success"] and re.fullmatch(r"github_\d+", body["data"]["username"])
    _, me = await api.call("GET", "/api/user/self", client=client)
    assert me["data"]["github_id"] == "octo" and me["data"]["email"] == "octo@example.com"
    _, again = await _oauth_login(api, provider, "github", "c-octo")
    assert again["data"]["id"] == me["data"]["id"]
    token_call = next(s for s in provider.recorder.seen if s[1] == "/token")
    assert orjson.loads(token_call[3]) == {"client_id": "gh-id", "code": "c-octo", "client_secret": "gh-secret"}
    alice = await api.login("alice")
    _, body = await _oauth_login(api, provider, "github", "c-octo", client=alice)
    assert body == {"success": False, "message": "该 GitHub 账户已被绑定"}
    _, body = await _oauth_login(api, provider, "github", "c-other", client=alice)
    assert body == {"success": True, "message": "bind"}
    status, body = await api.call("GET", "/api/oauth/github?code=x&state=forged", client=alice)
    assert status == 403 and body == {"success": False, "message": "state is empty or not same"}


async def test_lark_and_oidc(api, provider):
    base = str(provider.make_url("")).rstrip("/")
    await _set(api, LarkClientId="lk", LarkClientSecret="lks", LarkTokenEndpoint=f"{base}/token",
               LarkUserinfoEndpoint=f"{base}/lark/user", OidcClientId="oi", OidcClientSecret="ois",
               OidcTokenEndpoint=f"{base}/token", OidcUserinfoEndpoint=f"{base}/oidc/user", OidcEnabled="true",
               ServerAddress="https://gw.example.com")
    client, body = await _oauth_login(api, provider, "lark", "c-octo")
    assert body["success"] and body["data"]["username"].startswith("lark_")
    assert body["data"]["display_name"] == "Octo Cat"
    _, body = await _oauth_login(api, provider, "oidc", "c-other")
    assert body["success"] and body["data"]["username"] == "other" and body["data"]["display_name"] == "OIDC User"
    form = next(s for s in reversed(provider.recorder.seen) if s[1] == "/token")
    assert form[2]["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(form[3])["redirect_uri"] == ["https://gw.example.com/oauth/oidc"]
    _, body = await _oauth_login(api, provider, "oidc", "c-other", client=client)   # the Lark user binds it
    assert body == {"success": False, "message": "该 OIDC 账户已被绑定"}


async def test_wechat_login_and_bind(api, provider):
    base = str(provider.make_url("")).rstrip("/")
    _, body = await api.call("GET", "/api/oauth/wechat?code=123")
    assert body["message"] == "管理员未开启通过微信登录以及注册"
    await _set(api, WeChatServerAddress=base, WeChatServerToken="wx-token", WeChatAuthEnabled="true")
    _, body = await api.call("GET", "/api/oauth/wechat?code=bad")
    assert body == {"success": False, "message": "验证码错误或已过期"}
    _, body = await api.call("GET", "/api/oauth/wechat?code=123")
    assert body["success"] and body["data"]["username"].startswith("wechat_")
    _, body = await api.call("GET", "/api/oauth/wechat/bind?code=123", who="alice")
    assert body == {"success": False, "message": "该微信账号已被绑定"}
    _, body = await api.call("GET", "/api/oauth/wechat/bind?code=456", who="alice")
    assert body == {"success": True, "message": ""}
    _, me = await api.call("GET", "/api/user/self", who="alice")
    assert me["data"]["wechat_id"] == "wx-456"


def _html(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode("utf-8")


async def test_email_verification_registration_reset_and_bind(api, smtp):
    await _set(api, SMTPServer="127.0.0.1", SMTPPort=str(smtp.port), SMTPFrom="noreply@example.com",
               EmailVerificationEnabled="true", ServerAddress="https://gw.example.com")
    _, body = await api.call("GET", "/api/verification?email=new@example.com")
    assert body == {"success": True, "message": ""}
    mail = smtp.messages[-1]
    assert mail["To"] == "new@example.com" and "noreply@example.com" in mail["From"]
    code = re.search(r"<strong>(\w{6})</strong>", _html(mail)).group(1)
    form = {"username": "newbie", "password": "password123", "email": "new@example.com"}
    _, body = await api.call("POST", "/api/user/register", json={**form, "verification_code": "zzzzzz"})
    assert body["message"] == "验证码错误或已过期"
    _, body = await api.call("POST", "/api/user/register", json={**form, "verification_code": code})
    assert body["success"]
    _, body = await api.call("GET", "/api/verification?email=new@example.com")
    assert body["message"] == "邮箱地址已被占用"
    _, body = await api.call("GET", "/api/reset_password?email=nobody@example.com")
    assert body["message"] == "该邮箱地址未注册"
    _, body = await api.call("GET", "/api/reset_password?email=new@example.com")
    link = re.search(r"https://gw\.example\.com/user/reset\?email=[^&]+&token=(\w{32})", _html(smtp.messages[-1]))
    reset = {"email": "new@example.com", "token": link.group(1)}
    _, body = await api.call("POST", "/api/user/reset", json=reset)
    new_password = body["data"]
    assert body["success"] and len(new_password) == 12
    _, body = await api.call("POST", "/api/user/reset", json=reset)
    assert body["message"] == "重置链接非法或已过期"
    _, body = await api.call("POST", "/api/user/login", json={"username": "new@example.com", "password": new_password})
    assert body["success"]
    await api.call("GET", "/api/verification?email=alice@example.com")
    code = re.search(r"<strong>(\w{6})</strong>", _html(smtp.messages[-1])).group(1)
    _, body = await api.call("GET", f"/api/oauth/email/bind?email=alice@example.com&code={code}", who="alice")
    assert body["success"]
    _, me = await api.call("GET", "/api/user/self", who="alice")
    assert me["data"]["email"] == "alice@example.com"


async def test_email_domain_whitelist_and_missing_smtp(api):
    _, body = await api.call("GET", "/api/verification?email=a@example.com")
    assert body["message"] == "SMTP 服务器未配置"
    await _set(api, EmailDomainRestrictionEnabled="true")
    _, body = await api.call("GET", "/api/verification?email=a@example.com")
    assert body["message"] == "管理员启用了邮箱域名白名单，您的邮箱地址的域名不在白名单中"


async def test_turnstile(api, provider):
    base = str(provider.make_url("")).rstrip("/")
    await _set(api, TurnstileSiteKey="site", TurnstileSecretKey="ts-secret",
               TurnstileVerifyEndpoint=f"{base}/siteverify", TurnstileCheckEnabled="true")
    client = await api.client()
    form = {"username": "tt", "password": "password123"}
    _, body = await api.call("POST", "/api/user/register", client=client, json=form)
    assert body == {"success": False, "message": "Turnstile token 为空"}
    _, body = await api.call("POST", "/api/user/register?turnstile=bad", client=client, json=form)
    assert body == {"success": False, "message": "Turnstile 校验失败，请刷新重试！"}
    _, body = await api.call("POST", "/api/user/register?turnstile=good", client=client, json=form)
    assert body["success"]
    _, body = await api.call("POST", "/api/user/register", client=client, json={**form, "username": "tt2"})
    assert body["success"]   # passed once in this session
    assert parse_qs(provider.recorder.seen[-1][3])["remoteip"] == ["127.0.0.1"]
    await asyncio.sleep(0)
