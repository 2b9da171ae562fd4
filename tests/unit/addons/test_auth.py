"""TokenAuth alone, with a fake flow: key forms, subnets, refusals, pinning."""

from __future__ import annotations

import time

import pytest

from proxy.addons.auth import TokenAuth, in_subnets, parse_key
from proxy.core.errors import RelayError
from tests.unit.addons.fakes import FakeCaches, make_flow, token, user

KEY = "k" * 48


def test_parse_key_forms() -> None:
    assert parse_key("Bearer sk-abc") == ("abc", None)
    assert parse_key("sk-abc-12") == ("abc", "12")
    assert parse_key("Bearer sk-abc-12-extra") == ("abc", "12")
    assert parse_key("bearer sk-abc") == ("bearer sk", "abc")   # case-sensitive, as One API
    assert parse_key("") == ("", None)


def test_subnets() -> None:
    assert in_subnets("10.1.2.3", "192.168.0.0/16, 10.0.0.0/8")
    assert not in_subnets("11.0.0.1", "10.0.0.0/8")
    assert in_subnets("::1", "::1/128")


@pytest.mark.parametrize("tok, message, status", [
    (token(status=4), "令牌 t（#1）额度已用尽", 401),
    (token(status=3), "该令牌已过期", 401),
    (token(status=2), "该令牌状态不可用", 401),
    (token(expired_time=int(time.time()) - 5), "该令牌已过期", 401),
    (token(remain_quota=0), "该令牌额度已用尽", 401),
    (token(subnet="10.0.0.0/8"), "该令牌只能在指定网段使用：10.0.0.0/8，当前 ip：127.0.0.1", 403),
])
async def test_token_refusals(tok, message: str, status: int) -> None:
    auth = TokenAuth(FakeCaches([tok], [user()]))
    with pytest.raises(RelayError) as info:
        await auth.requestheaders(make_flow(headers={"Authorization": f"Bearer sk-{KEY}"}))
    assert (info.value.status, info.value.message) == (status, message)
    assert info.value.full is False


async def test_unlimited_token_with_zero_remain_passes_and_banned_user_does_not() -> None:
    flow = make_flow(headers={"Authorization": f"sk-{KEY}"})
    await TokenAuth(FakeCaches([token(remain_quota=0, unlimited_quota=True)], [user()])).requestheaders(flow)
    assert flow.state.user.username == "alice" and flow.state.group == "default"
    with pytest.raises(RelayError) as info:
        await TokenAuth(FakeCaches([token()], [user(status=2)])).requestheaders(make_flow(headers={"Authorization": f"sk-{KEY}"}))
    assert (info.value.status, info.value.message) == (403, "用户已被封禁")


async def test_pinning_needs_an_admin_and_a_number() -> None:
    caches = FakeCaches([token()], [user(role=10)])
    flow = make_flow(headers={"Authorization": f"sk-{KEY}-7"})
    await TokenAuth(caches).requestheaders(flow)
    assert flow.state.pinned_channel_id == 7
    with pytest.raises(RelayError) as info:
        await TokenAuth(caches).requestheaders(make_flow(headers={"Authorization": f"sk-{KEY}-x"}))
    assert (info.value.status, info.value.message) == (400, "无效的渠道 Id")
    with pytest.raises(RelayError) as info:
        await TokenAuth(FakeCaches([token()], [user()])).requestheaders(
            make_flow("/v1/oneapi/proxy/3/x", headers={"Authorization": f"sk-{KEY}"}, match_info={"channelid": "3"}))
    assert (info.value.status, info.value.message) == (403, "普通用户不支持指定渠道")
