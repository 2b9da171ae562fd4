"""The OpenAPI 3.1 document of every admin route, built from the route table plus the parameters below."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from admin_api import openapi_page
from admin_api.envelope import json_body
from admin_api.state import ROUTES_KEY
from rules import load_catalog
from settings import VERSION

_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_NULLABLE_STR, _NULLABLE_INT = {"type": ["string", "null"]}, {"type": ["integer", "null"]}
_LOG_FILTERS = [("p", _INT), ("type", _INT), ("start_timestamp", _INT), ("end_timestamp", _INT),
                ("token_name", _STR), ("model_name", _STR)]
_ADMIN_LOG_FILTERS = [*_LOG_FILTERS, ("username", _STR), ("channel", _INT)]
# rate limits and budgets on tokens and users (#17)
_BUDGETS: dict[str, Any] = {"type": ["array", "null"], "items": {"type": "object", "properties": {
    "period": {"type": "string", "enum": ["5h", "day", "week", "month"]}, "quota": _INT}}}
_LIMITS: dict[str, dict[str, Any]] = {
    "rpm_limit": {**_NULLABLE_INT, "description": "Requests per minute (sliding 60 s window); 0 or null: unlimited"},
    "tpm_limit": {**_NULLABLE_INT, "description": "Input plus output tokens per minute; 0 or null: unlimited"},
    "max_parallel_requests": {**_NULLABLE_INT, "description": "Requests at once, streams included; 0 or null: "
                                                              "unlimited"},
    "budgets": {**_BUDGETS, "description": "Quota per period, refilled when the period ends (5h rolling from first "
                                           "use; day, week, month in TZ); read back with used and resets_at"}}

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
    "PUT /api/redemption/": "Redemption", "POST /api/pricing/import/preview": "PriceFile",
    "POST /api/pricing/import": "PriceFile",
}


def _object(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def _d(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    """`schema` with a description (and enum, example...): what the docs page shows of a field."""
    return {**schema, "description": description, **extra}


def _named_enum(names: dict[int, str], what: str) -> dict[str, Any]:
    """An integer enum whose values are named: in the description (read by people) and in x-enumNames."""
    values = sorted(names)
    listed = ", ".join(f"{v} {names[v]}" for v in values)
    return {"type": "integer", "enum": values, "x-enumNames": [names[v] for v in values],
            "description": f"{what}: {listed}"}


def channel_type_names() -> dict[int, str]:
    """Channel type id → name, from rules/channel_types.toml (the placeholder type 0 left out)."""
    return {t.id: t.name for t in load_catalog() if not t.placeholder}


QUOTA_NOTE = "in quota units (500 000 = 1 USD, option QuotaPerUnit)"
TOKEN_STATUS = {1: "enabled", 2: "disabled", 3: "expired", 4: "exhausted"}
CHANNEL_STATUS = {1: "enabled", 2: "manually disabled", 3: "automatically disabled"}
REDEMPTION_STATUS = {1: "unused", 2: "disabled", 3: "used"}
USER_STATUS = {1: "enabled", 2: "disabled"}
ROLES = {1: "common user", 10: "admin", 100: "root"}


def schemas() -> dict[str, dict[str, Any]]:
    """The component schemas; the channel types come from the catalogue each time (data, not code)."""
    username = _d(_STR, "Login name, at most 12 characters", example="alice")
    password = _d(_STR, "8 to 20 characters", example="a-long-password")
    return {
        "Envelope": {"type": "object", "required": ["success", "message"],
                     "description": "Every answer: failures are HTTP 200 with success false and One API's message",
                     "properties": {"success": _d(_BOOL, "Whether the call did what it was asked"),
                                    "message": _d(_STR, "Why it failed (empty on success)"),
                                    "data": {"description": "The result: an object, a list or a value"}}},
        "ResetPassword": _object(email=_d(_STR, "The address the reset link was sent to"),
                                 token=_d(_STR, "The token of the reset link")),
        "AdminTopUp": _object(user_id=_d(_INT, "The user to credit"),
                              quota=_d(_INT, f"Quota to add (negative takes away), {QUOTA_NOTE}"),
                              remark=_d(_STR, "Written into the top-up log row")),
        "Register": _object(username=username, password=password,
                            display_name=_d(_STR, "Shown in the console; the username when empty"),
                            email=_d(_STR, "Required when EmailVerificationEnabled"),
                            verification_code=_d(_STR, "The code mailed by GET /api/verification"),
                            aff_code=_d(_STR, "An inviter's affiliate code (both get the invite quota)")),
        "Login": _object(username=_d(_STR, "Login name", example="root"),
                         password=_d(_STR, "The password", example="123456")),
        "SelfUpdate": _object(username=username, password=_d(_STR, "A new password (8 to 20 characters); empty "
                                                                   "keeps the current one"),
                              display_name=_d(_STR, "Shown in the console")),
        "Redeem": _object(key=_d(_STR, "A redemption code (32 characters)")),
        "UserCreate": _object(username=username, password=password, display_name=_d(_STR, "Shown in the console"),
                              role=_named_enum(ROLES, "Role (an admin creates common users only)")),
        "Manage": _object(username=username, action=_d({"type": "string", "enum": ["disable", "enable", "delete",
                                                                                    "promote", "demote"]},
                                                       "What to do to the user (promote/demote: root only)")),
        "UserUpdate": _object(id=_d(_INT, "The user's id"), username=username,
                              password=_d(_STR, "A new password; empty keeps the current one"),
                              display_name=_d(_STR, "Shown in the console"),
                              group=_d(_STR, "The user's group: picks channels and the group ratio", example="default"),
                              email=_d(_STR, "The user's email address"),
                              quota=_d(_INT, f"The user's balance, {QUOTA_NOTE}"),
                              role=_named_enum(ROLES, "Role"), status=_named_enum(USER_STATUS, "Status"), **_LIMITS),
        "Option": {**_object(key=_d(_STR, "An option name (GET /api/option/ lists them)", example="RetryTimes"),
                             value=_d(_STR, "Its value, always a string (\"true\"/\"false\" for *Enabled)",
                                      example="2")),
                   "required": ["key", "value"]},
        "Channel": _object(
            id=_d(_INT, "The channel's id (PUT only)"),
            type=_named_enum(channel_type_names(), "Channel type (GET /api/channel/types describes each)"),
            key=_d(_STR, "The upstream key. On POST, several lines create one channel each"),
            status=_named_enum(CHANNEL_STATUS, "Status"),
            name=_d(_STR, "Display name"),
            weight=_d(_NULLABLE_INT, "Share of traffic among channels of the same priority"),
            base_url=_d(_NULLABLE_STR, "The upstream's base URL; empty: the type's default"),
            other=_d(_NULLABLE_STR, "Type specific: Azure's API version, Ali's plugin, Gemini's API version..."),
            models=_d(_STR, "Comma-separated models the channel serves", example="gpt-4o-mini,gpt-4o"),
            group=_d(_STR, "Comma-separated user groups that may use the channel", example="default"),
            model_mapping=_d(_NULLABLE_STR, "JSON object: requested model → model sent upstream",
                             example='{"gpt-4o-mini": "gpt-4o-mini-2024-07-18"}'),
            priority=_d(_NULLABLE_INT, "Higher priorities are tried first"),
            config=_d(_STR, "JSON object of type specific settings (region, ak/sk, user id...)"),
            system_prompt=_d(_NULLABLE_STR, "A system prompt put in front of every chat request")),
        "Token": _object(
            id=_d(_INT, "The token's id (PUT only)"),
            name=_d(_STR, "Display name, at most 30 bytes", example="my-app"),
            status=_named_enum(TOKEN_STATUS, "Status (PUT ?status_only=1 changes only this; enabling is refused "
                                             "while the token is past its expiry or out of quota)"),
            expired_time=_d(_INT, "Unix time (seconds) the token stops working; -1 never", example=-1),
            remain_quota=_d(_INT, f"Quota the token may still spend, {QUOTA_NOTE}", example=500000),
            unlimited_quota=_d(_BOOL, "No token limit (the user's balance still applies)"),
            models=_d(_NULLABLE_STR, "Comma-separated models the token may use; empty or null: all"),
            subnet=_d(_NULLABLE_STR, "Comma-separated CIDRs the token may be used from; empty: anywhere",
                      example="10.0.0.0/8"), **_LIMITS),
        "RedemptionCreate": _object(name=_d(_STR, "Name of the batch", example="promo"),
                                    quota=_d(_INT, f"Quota each code credits, {QUOTA_NOTE}", example=500000),
                                    count=_d(_INT, "How many codes (1 to 100)", example=10)),
        "PriceFile": {**_object(
            models=_d({"type": "object", "additionalProperties": {"type": "object"}},
                      "Model name → {input, output, cache_read, cache_write_5m, cache_write_1h, audio_input, "
                      "audio_output, tiers}, in USD per 1M tokens (docs/admin-api.md); or send {\"url\": ...}"),
            source=_d(_STR, "Where the prices come from (free text)")), "required": ["models"]},
        "Redemption": _object(id=_d(_INT, "The code's id"), name=_d(_STR, "Name"),
                              quota=_d(_INT, f"Quota the code credits, {QUOTA_NOTE}"),
                              status=_named_enum(REDEMPTION_STATUS, "Status")),
    }


# Example bodies of the common calls ("METHOD path" → example), shown on /api/docs and by OpenAPI tools.
EXAMPLES: dict[str, Any] = {
    "POST /api/user/login": {"username": "root", "password": "123456"},
    "POST /api/user/register": {"username": "alice", "password": "a-long-password"},
    "POST /api/token/": {"name": "my-app", "remain_quota": 500000, "expired_time": -1, "unlimited_quota": False,
                         "models": "", "subnet": ""},
    "PUT /api/token/": {"id": 1, "status": 2},
    "POST /api/channel/": {"type": 1, "name": "openai", "key": "sk-...", "base_url": "", "models": "gpt-4o-mini,gpt-4o",
                           "group": "default", "model_mapping": "", "priority": 0, "weight": 0},
    "PUT /api/channel/": {"id": 1, "type": 1, "name": "openai", "key": "", "models": "gpt-4o-mini",
                          "group": "default", "status": 1},
    "POST /api/redemption/": {"name": "promo", "quota": 500000, "count": 10},
    "POST /api/user/topup": {"key": "<a 32-character redemption code>"},
    "POST /api/topup": {"user_id": 2, "quota": 500000, "remark": "invoice 42"},
    "PUT /api/option/": {"key": "RetryTimes", "value": "2"},
    "POST /api/user/": {"username": "bob", "password": "a-long-password", "display_name": "Bob"},
    "POST /api/user/manage": {"username": "bob", "action": "disable"},
    "POST /api/pricing/import/preview": {"source": "https://www.anthropic.com/pricing", "models": {
        "claude-sonnet-4-6": {"input": 3, "output": 15, "cache_read": 0.3, "cache_write_5m": 3.75, "cache_write_1h": 6,
                              "tiers": [{"above": 200000, "input": 6, "output": 22.5}]}}},
}
# Answers that are not the envelope.
NOT_ENVELOPED: dict[str, dict[str, Any]] = {
    "GET /api/openapi.json": {"description": "This OpenAPI document",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
    "GET /api/docs": {"description": "This document as a browsable page", "content": {"text/html": {}}},
    "GET /api/redemption/export": {"description": "The codes, one a line", "content": {"text/plain": {}}},
}
# Descriptions of query parameters whose name does not say it all.
QUERY_NOTES: dict[str, str] = {
    "p": "Zero-based page index (10 rows a page)",
    "keyword": "Searched text (a prefix for names)",
    "status_only": "Any non-empty value: only `status` of the body is applied",
    "scope": "Which channels: all, or only the disabled ones",
    "model": "The model to test with (default gpt-3.5-turbo; the channel's first model if it does not serve it)",
    "type": "Log type: 1 top-up, 2 consume, 3 manage, 4 system, 5 test",
    "start_timestamp": "From this Unix time (seconds)", "end_timestamp": "Up to this Unix time (seconds)",
    "target_timestamp": "Delete log rows older than this Unix time (seconds)",
    "order": "Sort by this column (default: id, newest first)",
}


def _operation(route: Any) -> dict[str, Any]:
    key = f"{route.method} {route.path}"
    summary = (route.handler.__doc__ or route.handler.__name__).strip().splitlines()[0]
    params = [{"name": name, "in": "path", "required": True, "schema": _INT}
              for name in re.findall(r"{(\w+)}", route.path)]
    params += [{"name": name, "in": "query", "required": False, "schema": schema,
                **({"description": QUERY_NOTES[name]} if name in QUERY_NOTES else {})}
               for name, schema in QUERY.get(key, [])]
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
    responses: dict[str, Any] = {"200": NOT_ENVELOPED.get(key) or {
        "description": "One API's envelope (failures too are HTTP 200)", "content": envelope}}
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
        media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{BODY[key]}"}}
        if key in EXAMPLES:
            media["example"] = EXAMPLES[key]
        op["requestBody"] = {"required": True, "content": {"application/json": media}}
    return op


def document(routes: Iterable[Any]) -> dict[str, Any]:
    """OpenAPI 3.1 for the given routes; `x-access` names each route's guard."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "One API compatible admin API", "version": VERSION,
                 "description": "Routes, parameters and envelopes of One API's /api; see docs/admin-api.md. Log in "
                                "with POST /api/user/login (a session cookie) or send a user's access token "
                                "(GET /api/user/token) as the Authorization header. Browsable at /api/docs."},
        "paths": paths,
        "components": {"schemas": schemas(), "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "accessToken": {"type": "apiKey", "in": "header", "name": "Authorization"}}},
    }


async def serve(request: web.Request) -> web.Response:
    """GET /api/openapi.json: this document."""
    routes: tuple[Any, ...] = request.app[ROUTES_KEY]
    return json_body(document(routes))


async def browse(request: web.Request) -> web.Response:
    """GET /api/docs: this document as a browsable page (self-contained HTML, the document embedded)."""
    routes: tuple[Any, ...] = request.app[ROUTES_KEY]
    return openapi_page.answer(document(routes))
