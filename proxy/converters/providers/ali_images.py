"""Ali DashScope wanx image synthesis: async task submit, task polling, final task → OpenAI images."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from proxy.converters.base import ConversionError, ConvertContext, Converted, OpenAIError, UpstreamRequest, Usage
from proxy.converters.errors import parse_json

PENDING_STATUSES = frozenset({"PENDING", "RUNNING", "SUSPENDED"})
# One API's model names for DashScope's Stable Diffusion models.
MODEL_ALIASES = {"ali-stable-diffusion-xl": "stable-diffusion-xl", "ali-stable-diffusion-v1.5": "stable-diffusion-v1.5"}
# Non-standard OpenAI fields callers use for DashScope-only parameters.
_EXTRA_PARAMETERS = ("seed", "steps", "scale", "ref_strength", "ref_mode")


def _parameters(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if body.get("size"):
        width, sep, height = str(body["size"]).partition("x")
        if not sep:
            raise ConversionError(f"size must look like 1024x1024, got {body['size']!r}")
        out["size"] = f"{width}*{height}"
    if body.get("n") is not None:
        out["n"] = body["n"]
    style = body.get("style")
    if style:
        if not (style.startswith("<") and style.endswith(">")):
            raise ConversionError("DashScope styles look like '<photography>'; OpenAI's vivid/natural do not exist")
        out["style"] = style
    out.update({k: body[k] for k in _EXTRA_PARAMETERS if body.get(k) is not None})
    return out


def image_request(body: Mapping[str, Any], ctx: ConvertContext, headers: dict[str, str]) -> UpstreamRequest:
    """Submit the task; DashScope only accepts image synthesis asynchronously over HTTP."""
    if body.get("response_format") == "b64_json":
        raise ConversionError("DashScope returns image URLs; response_format b64_json is not supported")
    if not body.get("prompt"):
        raise ConversionError("prompt is required")
    task_input: dict[str, Any] = {"prompt": body["prompt"]}
    if body.get("negative_prompt"):
        task_input["negative_prompt"] = body["negative_prompt"]
    payload = {"model": MODEL_ALIASES.get(ctx.model, ctx.model), "input": task_input,
               "parameters": _parameters(body)}
    url = ctx.base_url + "/api/v1/services/aigc/text2image/image-synthesis"
    return UpstreamRequest("POST", url, {**headers, "X-DashScope-Async": "enable"}, orjson.dumps(payload))


def task_poll_request(status: int, body: bytes, ctx: ConvertContext) -> UpstreamRequest | None:
    """The GET for a task still pending, else None (finished, failed, or an error answer)."""
    obj = parse_json(body)
    if status >= 400 or not isinstance(obj, dict) or obj.get("code"):
        return None
    output = obj.get("output") or {}
    if output.get("task_status") not in PENDING_STATUSES or not output.get("task_id"):
        return None
    return UpstreamRequest("GET", f"{ctx.base_url}/api/v1/tasks/{output['task_id']}",
                           {"Authorization": f"Bearer {ctx.key}"})


def image_response(obj: Mapping[str, Any], ctx: ConvertContext,
                   error: Callable[[Any, str, int], OpenAIError]) -> Converted:
    """A finished task → `{"created", "data": [{"url"}]}`; failed tasks and failed images → error."""
    output = obj.get("output") or {}
    state = output.get("task_status")
    if state in PENDING_STATUSES:
        return Converted(None, Usage(), OpenAIError(504, f"DashScope task still {state}", "timeout_error",
                                                    code="task_not_finished"))
    results = output.get("results") or []
    urls = [{"url": r["url"]} for r in results if r.get("url")]
    if state != "SUCCEEDED" or not urls:
        failed = next((r for r in results if r.get("code")), output)
        code = failed.get("code") or state or "TaskFailed"
        return Converted(None, Usage(), error(code, failed.get("message") or f"DashScope task {state}", 200))
    return Converted({"created": int(ctx.now), "data": urls}, Usage())
