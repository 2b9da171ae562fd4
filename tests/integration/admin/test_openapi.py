"""The OpenAPI document describes every registered route, and schema-driven bad input never makes a 500 or a hang."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from typing import Any

import jsonschema
import orjson
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from admin_api import ROUTES
from rules import load_catalog

# Left out of the fuzz run: they would replace the caller's credentials mid-run, or could send requests to
# whatever host a generated option or base URL names (outbound traffic leaves this machine).
NOT_FUZZED = {"GET /api/user/token", "GET /api/user/logout", "PUT /api/option/",
              "GET /api/channel/update_balance", "GET /api/channel/update_balance/{id}"}
EXAMPLES = 3


def _registered(app) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info()
        if route.method != "HEAD":
            out.add((route.method.lower(), info.get("path") or info.get("formatter")))
    return out


async def test_every_registered_route_is_described(api):
    status, doc = await api.call("GET", "/api/openapi.json")
    assert status == 200 and doc["openapi"] == "3.1.0"
    described = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert described == _registered(api.server.app)
    for path, item in doc["paths"].items():
        for op in item.values():
            assert op["summary"] and "200" in op["responses"] and op["x-access"] in ("public", "user", "admin", "root")
            assert {p["name"] for p in op["parameters"] if p["in"] == "path"} == set(re.findall(r"{(\w+)}", path))
    assert len({op["operationId"] for item in doc["paths"].values() for op in item.values()}) == len(ROUTES)


@functools.lru_cache(maxsize=1)
def _cases(doc_json: bytes) -> tuple[Any, ...]:
    """Positive and negative examples of every fuzzed operation, drawn once and replayed on each backend."""
    schema = schemathesis.openapi.from_dict(orjson.loads(doc_json))
    drawn: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if f"{operation.method.upper()} {operation.path}" in NOT_FUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def draw(case: Any) -> None:
                drawn.append(case)
            with contextlib.suppress(Unsatisfiable):   # nothing to make invalid (no parameters, no body)
                draw()
    return tuple(drawn)


def _fuzz(doc: dict, base_url: str, token: str) -> list[str]:
    """Send every drawn case as root; returns the answers that were server errors."""
    failures: list[str] = []
    http = requests.Session()
    for case in _cases(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)):
        response = case.call(base_url=base_url, session=http, headers={"Authorization": token}, timeout=15)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r}: "
                            f"{response.status_code} {response.text[:200]}")
    return failures


async def test_schema_driven_bad_input_never_breaks_the_server(api):
    _, doc = await api.call("GET", "/api/openapi.json")
    base_url = str(api.server.make_url("")).rstrip("/")
    failures = await asyncio.wait_for(
        asyncio.to_thread(_fuzz, doc, base_url, api.people["root"].access_token), timeout=240)
    assert not failures, "\n".join(failures)


async def test_fields_are_described_with_enums_and_the_common_calls_have_examples(api):
    _, doc = await api.call("GET", "/api/openapi.json")
    schemas = doc["components"]["schemas"]
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field} has no description"
    channel_type = schemas["Channel"]["properties"]["type"]
    real = sorted(t.id for t in load_catalog() if not t.placeholder)
    assert channel_type["enum"] == real and len(real) > 40
    names = dict(zip(channel_type["enum"], channel_type["x-enumNames"], strict=True))
    assert names[1] == "OpenAI" and "1 OpenAI" in channel_type["description"]
    assert schemas["Token"]["properties"]["status"]["enum"] == [1, 2, 3, 4]
    examples = 0
    for item in doc["paths"].values():
        for op in item.values():
            media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if "example" in media:
                examples += 1
                target = schemas[media["schema"]["$ref"].rsplit("/", 1)[-1]]
                jsonschema.validate(media["example"], {**target, "components": doc["components"]})
    for call in ("post /api/user/login", "post /api/token/", "post /api/channel/", "put /api/option/"):
        method, path = call.split()
        assert "example" in doc["paths"][path][method]["requestBody"]["content"]["application/json"], call
    assert examples >= 8


async def test_api_docs_is_a_self_contained_page_of_the_same_document(api):
    _, doc = await api.call("GET", "/api/openapi.json")
    client = await api.client()
    async with client.get("/api/docs") as r:
        assert r.status == 200 and r.content_type == "text/html"
        html = await r.text()
    embedded = re.search(r'<script type="application/json" id="openapi">(.*?)</script>', html, re.S)
    assert embedded is not None and orjson.loads(embedded.group(1)) == doc
    # nothing loaded from elsewhere: no script, style or image from a URL (the page works offline)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "<script src" not in html and "@import" not in html
