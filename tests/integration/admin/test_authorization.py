"""The authorization matrix: every route of the router × every kind of caller, allowed or denied.

The routes come from the application's router, not from a list kept here, so a route added
without a guard entry fails this test.
"""

from __future__ import annotations

import re
from typing import Any

from admin_api import ROUTES
from admin_api.auth import BAD_ACCESS_TOKEN, BANNED, NO_PERMISSION, NOT_LOGGED_IN, Access
from store import tokens, users

CALLERS = ("anonymous", "mallory", "ghost", "alice", "bob", "admin", "root")
ALLOWED = {
    Access.PUBLIC: set(CALLERS),
    Access.USER: {"alice", "bob", "admin", "root"},
    Access.ADMIN: {"admin", "root"},
    Access.ROOT: {"root"},
}
DENIAL = {"anonymous": (401, NOT_LOGGED_IN), "mallory": (200, BANNED), "ghost": (200, BAD_ACCESS_TOKEN)}
GUARD_MESSAGES = {NOT_LOGGED_IN, BANNED, BAD_ACCESS_TOKEN, NO_PERMISSION}
NOBODY = 99999

# Bodies that pass the guard but change nothing that later rows of the matrix depend on.
BODIES: dict[str, Any] = {
    "POST /api/user/reset": {"email": "x@example.com", "token": "nope"},
    "POST /api/topup": {"user_id": NOBODY, "quota": 1},
    "POST /api/user/register": {"username": "", "password": ""},
    "POST /api/user/login": {"username": "nobody", "password": "wrongpassword"},
    "PUT /api/user/self": {},
    "POST /api/user/topup": {"key": "not-a-code"},
    "POST /api/user/": {"username": "newbie", "password": "password123"},
    "POST /api/user/manage": {"username": "nobody", "action": "disable"},
    "PUT /api/user/": {"id": NOBODY, "display_name": "x"},
    "PUT /api/option/": {"key": "Notice", "value": "hello"},
    "POST /api/channel/": {"name": "c", "type": 1, "key": "k", "models": "gpt-4", "group": "default"},
    "PUT /api/channel/": {"id": NOBODY, "name": "x"},
    "POST /api/token/": {"name": "t"},
    "PUT /api/redemption/": {"id": NOBODY, "name": "x", "quota": 1},
    "POST /api/redemption/": {"name": "codes", "quota": 1, "count": 1},
}
QUERIES = {"DELETE /api/log/": "?target_timestamp=1", "GET /api/channel/test": "?scope=disabled"}
LAST = ("GET /api/user/token", "DELETE /api/user/self")   # they change the caller's own credentials


def _router_routes(app: Any) -> list[tuple[str, str]]:
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD" and path:
            found.append((route.method, path))
    return found


async def _ids(api: Any) -> dict[str, int]:
    """Ids the `{id}` paths use: alice's token for token routes, alice for user routes, nothing else."""
    async with api.db.session() as s:
        alice_token = (await tokens.list_page(s, api.people["alice"].id, 0))[0]
    return {"token": alice_token.id, "user": api.people["alice"].id}


def _path(method: str, path: str, ids: dict[str, int]) -> str:
    resource = path.split("/")[2]
    target = NOBODY if (method, resource) == ("DELETE", "user") else ids.get(resource, NOBODY)
    return re.sub(r"{id}", str(target), path)


async def _refresh_tokens(api: Any) -> None:
    async with api.db.session() as s:
        for person in api.people.values():
            user = await users.get(s, person.id)
            person.access_token = user.access_token if user else person.access_token


def _denied(status: int, body: Any) -> str | None:
    if status == 401:
        return NOT_LOGGED_IN
    if isinstance(body, dict) and body.get("success") is False and body.get("message") in GUARD_MESSAGES:
        return body["message"]
    return None


async def test_every_route_has_a_guard_entry(api):
    registered = set(_router_routes(api.server.app))
    table = {(r.method, r.path) for r in ROUTES}
    assert registered == table
    assert len(table) == len(ROUTES)


async def test_authorization_matrix(api):
    guards = {(r.method, r.path): r.access for r in ROUTES}
    routes = sorted(_router_routes(api.server.app), key=lambda r: LAST.index(f"{r[0]} {r[1]}") + 1
                    if f"{r[0]} {r[1]}" in LAST else 0)
    ids = await _ids(api)
    failures = []
    for method, path in routes:
        key = f"{method} {path}"
        for caller in CALLERS:
            who = None if caller == "anonymous" else caller
            status, body = await api.call(method, _path(method, path, ids) + QUERIES.get(key, ""), who=who,
                                          json=BODIES.get(key) if method in ("POST", "PUT") else None)
            denial = _denied(status, body)
            if caller in ALLOWED[guards[(method, path)]]:
                if denial is not None or status >= 500:
                    failures.append(f"{key} as {caller}: refused ({status} {body})")
            else:
                expected = DENIAL.get(caller, (200, NO_PERMISSION))
                if (status, denial) != expected:
                    failures.append(f"{key} as {caller}: expected {expected}, got {status} {body}")
            if key == "GET /api/user/token":
                await _refresh_tokens(api)
    assert not failures, "\n".join(failures)


async def test_another_users_token_is_invisible(api):
    ids = await _ids(api)
    for method, body in (("GET", None), ("DELETE", None)):
        status, answer = await api.call(method, f"/api/token/{ids['token']}", who="bob", json=body)
        assert answer == {"success": False, "message": "令牌不存在"}
    status, answer = await api.call("PUT", "/api/token/?status_only=1", who="bob",
                                    json={"id": ids["token"], "status": 2})
    assert answer["success"] is False
    status, answer = await api.call("GET", f"/api/token/{ids['token']}", who="alice")
    assert answer["success"] and answer["data"]["status"] == 1
