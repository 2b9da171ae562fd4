"""Rate limits and budgets on /api/token/, /api/user/, the GroupRateLimits option and GET /api/user/limits
(#17), on every backend."""

from __future__ import annotations

import time

from rules.rate_limits import resets_at, window_start
from store.models import BudgetWindow

BUDGETS = [{"period": "5h", "quota": 1000}, {"period": "week", "quota": 5000}]


async def test_token_limits_and_budgets_are_set_kept_and_read_back_with_their_use(api):
    _, body = await api.call("POST", "/api/token/", who="alice", json={
        "name": "plan", "remain_quota": 100, "rpm_limit": 10, "tpm_limit": 20000, "max_parallel_requests": 3,
        "budgets": BUDGETS})
    token = body["data"]
    assert (token["rpm_limit"], token["tpm_limit"], token["max_parallel_requests"]) == (10, 20000, 3)
    assert [(b["period"], b["quota"], b["used"]) for b in token["budgets"]] == [("5h", 1000, 0), ("week", 5000, 0)]
    assert token["budgets"][1]["resets_at"] > time.time()
    # what the proxy spent in the week's current window
    now = int(time.time())
    start = window_start("week", now, 0)
    async with api.db.session() as s, s.begin():
        s.add(BudgetWindow(scope=f"t:{token['id']}:week", start=start, used=1234))
    # a One API client that knows nothing of limits updates the token: they stay
    _, body = await api.call("PUT", "/api/token/", who="alice",
                             json={"id": token["id"], "name": "plan2", "remain_quota": 100})
    shown = body["data"]
    assert shown["rpm_limit"] == 10 and [b["quota"] for b in shown["budgets"]] == [1000, 5000]
    _, body = await api.call("GET", f"/api/token/{token['id']}", who="alice")
    week = body["data"]["budgets"][1]
    assert week == {"period": "week", "quota": 5000, "used": 1234, "resets_at": resets_at("week", start)}
    _, body = await api.call("PUT", "/api/token/", who="alice", json={
        "id": token["id"], "name": "plan2", "remain_quota": 100, "rpm_limit": 0, "budgets": []})
    assert body["data"]["rpm_limit"] == 0 and body["data"]["budgets"] == [] and body["data"]["tpm_limit"] == 20000
    for bad, message in (({"budgets": [{"period": "year", "quota": 1}]}, "budget period must be one of"),
                         ({"budgets": [{"period": "day", "quota": 1}, {"period": "day", "quota": 2}]}, "twice"),
                         ({"budgets": {"period": "day"}}, "budgets must be a list"),
                         ({"budgets": [{"period": "day", "quota": -1}]}, "non-negative"),
                         ({"rpm_limit": -1}, "无效的参数"), ({"max_parallel_requests": "3"}, "无效的参数")):
        _, body = await api.call("POST", "/api/token/", who="alice", json={"name": "x", **bad})
        assert not body["success"] and message in body["message"], (bad, body)


async def test_user_limits_by_an_admin_the_group_option_and_the_limits_report(api):
    alice = api.people["alice"]
    _, body = await api.call("PUT", "/api/user/", who="admin", json={
        "id": alice.id, "rpm_limit": 60, "budgets": [{"period": "month", "quota": 9000}]})
    assert body["success"], body
    _, body = await api.call("GET", f"/api/user/{alice.id}", who="admin")
    assert body["data"]["rpm_limit"] == 60 and body["data"]["budgets"][0]["period"] == "month"
    _, body = await api.call("GET", "/api/user/self", who="alice")
    assert body["data"]["rpm_limit"] == 60 and body["data"]["budgets"][0]["used"] == 0
    _, body = await api.call("PUT", "/api/option/", who="root", json={"key": "GroupRateLimits", "value": "{\"x\": 1}"})
    assert not body["success"] and "GroupRateLimits" in body["message"]
    group = '{"default": {"max_parallel_requests": 4, "models": {"gpt-5": {"rpm_limit": 20}}}}'
    _, body = await api.call("PUT", "/api/option/", who="root", json={"key": "GroupRateLimits", "value": group})
    assert body["success"], body
    await api.call("POST", "/api/token/", who="alice", json={"name": "t", "tpm_limit": 500})
    _, body = await api.call("GET", "/api/user/limits", who="alice")
    report = body["data"]
    assert report["user"]["rpm_limit"] == 60 and report["user"]["budgets"][0]["quota"] == 9000
    assert report["group"] == {"name": "default", "max_parallel_requests": 4, "models": {"gpt-5": {"rpm_limit": 20}}}
    assert {t["name"]: t["tpm_limit"] for t in report["tokens"]}["t"] == 500
    _, body = await api.call("PUT", "/api/user/self", who="alice", json={"rpm_limit": 0})
    _, body = await api.call("GET", "/api/user/self", who="alice")
    assert body["data"]["rpm_limit"] == 60                      # a user cannot lift the operator's limits
