"""The OpenAPI 3.1 document of every admin route, built from the route table plus the parameters below."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from admin_api.envelope import json_body
from admin_api.state import ROUTES_KEY
from settings import VERSION

_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_NULLABLE_STR, _NULLABLE_INT = {"type": ["string", "null"]}, {"type": ["integer", "null"]}
_LOG_FILTERS = [("p", _INT), ("type", _INT), ("start_timestamp", _INT), ("end_timestamp", _INT),
                ("token_name", _STR), ("model_name", _STR)]
_ADMIN_LOG_FILTERS = [*_LOG_FILTERS, ("username", _STR), ("channel", _INT)]
# rate limits and budgets on tokens and users (#17)
_BUDGETS: dict[str, Any] = {"type": ["array", "null"], "items": {"type": "object", "properties": {
    "period": {"type": "string", "enum": ["5h", "day", "week", "month"]}, "quota": _INT}}}
_LIMITS: dict[str, dict[str, Any]] = {"rpm_limit": _NULLABLE_INT, "tpm_limit": _NULLABLE_INT,
                                      "max_parallel_requests": _NULLABLE_INT, "budgets": _BUDGETS}

# Query parameters of each route ("METHOD path" → [(name, schema)]).
QUERY: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "GET /api/verification": [("email", _STR), ("turnstile", _STR)],
    "GET /api/reset_password": [("email", _STR), ("turnstile", _STR)],
    "POST /api/user/register": [("turnstile", _STR)],
    "GET /api/oauth/github": [("code", _STR), ("state", _STR)],
    "GET /api/oauth/lark": [("code", _STR), ("state", _STR)],
    "GET /api/oauth/oidc": [("code", _STR), ("state", _STR)],
    "GET /api/oauth/wechat": [("code", _STR)],
    "GET /api/oauth/wechat/bind": [("code", _STR)],
    "GET /api/oauth/email/bind": [("email", _STR), ("code", _STR)],
    "GET /api/user/": [("p", _INT), ("order", {"type": "string", "enum": ["", "quota", "used_quota",
                                                                          "request_count"]})],
    "GET /api/user/search": [("keyword", _STR)],
    "GET /api/channel/": [("p", _INT)],
    "GET /api/channel/search": [("keyword", _STR)],
    "GET /api/channel/test": [("scope", {"type": "string", "enum": ["all", "disabled"]})],
    "GET /api/channel/test/{id}": [("model", _STR)],
    "GET /api/token/": [("p", _INT), ("order", {"type": "string", "enum": ["", "remain_quota", "used_quota"]})],
    "GET /api/token/search": [("keyword", _STR)],
    "PUT /api/token/": [("status_only", _STR)],
    "GET /api/redemption/": [("p", _INT)],
    "GET /api/redemption/search": [("keyword", _STR)],
    "GET /api/redemption/export": [("keyword", _STR), ("status", _INT)],
    "PUT /api/redemption/": [("status_only", _STR)],
    "GET /api/log/": _ADMIN_LOG_FILTERS,
    "DELETE /api/log/": [("target_timestamp", _INT)],
    "GET /api/log/stat": _ADMIN_LOG_FILTERS,
    "GET /api/log/self": _LOG_FILTERS,
    "GET /api/log/self/stat": _LOG_FILTERS,
    "GET /api/log/search": [("keyword", _STR)],
    "GET /api/log/self/search": [("keyword", _INT)],
}

# Request bodies ("METHOD path" → component schema name).
BODY: dict[str, str] = {
    "POST /api/user/reset": "ResetPassword", "POST /api/topup": "AdminTopUp", "POST /api/user/register": "Register",
    "POST /api/user/login": "Login", "PUT /api/user/self": "SelfUpdate", "POST /api/user/topup": "Redeem",
    "POST /api/user/": "UserCreate", "POST /api/user/manage": "Manage", "PUT /api/user/": "UserUpdate",
    "PUT /api/option/": "Option", "POST /api/channel/": "Channel", "PUT /api/channel/": "Channel",
    "POST /api/token/": "Token", "PUT /api/token/": "Token", "POST /api/redemption/": "RedemptionCreate",
    "PUT /api/redemption/": "Redemption",
}


def _object(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Envelope": {"type": "object", "required": ["success", "message"],
                 "properties": {"success": _BOOL, "message": _STR, "data": {}}},
    "ResetPassword": _object(email=_STR, token=_STR),
    "AdminTopUp": _object(user_id=_INT, quota=_INT, remark=_STR),
    "Register": _object(username=_STR, password=_STR, display_name=_STR, email=_STR, verification_code=_STR,
                        aff_code=_STR),
    "Login": _object(username=_STR, password=_STR),
    "SelfUpdate": _object(username=_STR, password=_STR, display_name=_STR),
    "Redeem": _object(key=_STR),
    "UserCreate": _object(username=_STR, password=_STR, display_name=_STR, role=_INT),
    "Manage": _object(username=_STR, action={"type": "string",
                                             "enum": ["disable", "enable", "delete", "promote", "demote"]}),
    "UserUpdate": _object(id=_INT, username=_STR, password=_STR, display_name=_STR, group=_STR, email=_STR,
                          quota=_INT, role=_INT, status=_INT, **_LIMITS),
    "Option": {**_object(key=_STR, value=_STR), "required": ["key", "value"]},
    "Channel": _object(id=_INT, type=_INT, key=_STR, status=_INT, name=_STR, weight=_NULLABLE_INT,
                       base_url=_NULLABLE_STR, other=_NULLABLE_STR, models=_STR, group=_STR,
                       model_mapping=_NULLABLE_STR, priority=_NULLABLE_INT, config=_STR, system_prompt=_NULLABLE_STR),
    "Token": _object(id=_INT, name=_STR, status=_INT, expired_time=_INT, remain_quota=_INT,
                     unlimited_quota=_BOOL, models=_NULLABLE_STR, subnet=_NULLABLE_STR, **_LIMITS),
    "RedemptionCreate": _object(name=_STR, quota=_INT, count=_INT),
    "Redemption": _object(id=_INT, name=_STR, quota=_INT, status=_INT),
}


def _operation(route: Any) -> dict[str, Any]:
    key = f"{route.method} {route.path}"
    summary = (route.handler.__doc__ or route.handler.__name__).strip().splitlines()[0]
    params = [{"name": name, "in": "path", "required": True, "schema": _INT}
              for name in re.findall(r"{(\w+)}", route.path)]
    params += [{"name": name, "in": "query", "required": False, "schema": schema}
               for name, schema in QUERY.get(key, [])]
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
    responses: dict[str, Any] = {"200": {"description": "One API's envelope (failures too are HTTP 200)",
                                         "content": envelope}}
    if route.access.name != "PUBLIC":
        responses["401"] = {"description": "not logged in and no access token"}
    if route.critical:
        responses["429"] = {"description": "critical rate limit"}
    op: dict[str, Any] = {"operationId": f"{route.method.lower()}_{route.handler.__module__.rsplit('.', 1)[-1]}_"
                                         f"{route.handler.__name__}",
                          "summary": summary, "parameters": params, "responses": responses,
                          "x-access": route.access.name.lower()}
    if route.access.name != "PUBLIC":
        op["security"] = [{"session": []}, {"accessToken": []}]
    if key in BODY:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{BODY[key]}"}}}}
    return op


def document(routes: Iterable[Any]) -> dict[str, Any]:
    """OpenAPI 3.1 for the given routes; `x-access` names each route's guard."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "One API compatible admin API", "version": VERSION,
                 "description": "Routes, parameters and envelopes of One API's /api; see docs/admin-api.md."},
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "accessToken": {"type": "apiKey", "in": "header", "name": "Authorization"}}},
    }


async def serve(request: web.Request) -> web.Response:
    """GET /api/openapi.json: this document."""
    routes: tuple[Any, ...] = request.app[ROUTES_KEY]
    return json_body(document(routes))
