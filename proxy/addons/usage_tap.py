"""Reads usage and completion text out of the bytes sent to the client; never modifies them."""

from __future__ import annotations

from typing import Any

import orjson

from proxy.converters.base import Usage
from proxy.core.flow import Flow
from proxy.core.sse import SSEDecoder
from proxy.gateway.state import RelayState

MAX_BODY = 16 * 1024 * 1024


def usage_from(obj: Any) -> Usage | None:
    """OpenAI chat/completions `usage`, or the Responses API's input/output form."""
    if not isinstance(obj, dict):
        return None
    prompt = obj.get("prompt_tokens", obj.get("input_tokens"))
    completion = obj.get("completion_tokens", obj.get("output_tokens", 0))
    if not isinstance(prompt, int):
        return None
    total = obj.get("total_tokens")
    if isinstance(total, int) and total and not completion and prompt < total:
        completion = total - prompt     # embeddings report prompt + total only
    return Usage(prompt_tokens=prompt, completion_tokens=completion if isinstance(completion, int) else 0)


def text_parts(obj: dict[str, Any]) -> list[str]:
    """Everything billable in a chunk or answer: content, reasoning, tool-call arguments, completions text."""
    parts: list[str] = []
    for choice in obj.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        for holder in (choice.get("delta"), choice.get("message")):
            if not isinstance(holder, dict):
                continue
            for key in ("content", "reasoning_content", "reasoning"):
                value = holder.get(key)
                if isinstance(value, str) and value:
                    parts.append(value)
            for call in holder.get("tool_calls") or ():
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict):
                    parts.extend(v for v in (fn.get("name"), fn.get("arguments")) if isinstance(v, str) and v)
        text = choice.get("text")
        if isinstance(text, str) and text:
            parts.append(text)
    return parts


class UsageTap:
    """Per flow: an SSE decoder for streams, a bounded buffer for whole answers."""

    def chunk(self, flow: Flow[RelayState], data: bytes) -> None:
        if not flow.state.billed:
            return
        meta = flow.metadata
        if not flow.stream:
            buf = meta.setdefault("tap_body", bytearray())
            if len(buf) + len(data) <= MAX_BODY:
                buf.extend(data)
            return
        decoder = meta.get("tap_sse")
        if decoder is None:
            decoder = meta["tap_sse"] = SSEDecoder()
        for event in decoder.feed(data):
            self._event(flow.state, event.data)

    async def done(self, flow: Flow[RelayState]) -> None:
        """Finish reading: the whole answer of a non-stream call."""
        body = flow.metadata.pop("tap_body", None)
        if body and flow.error is None and flow.state.usage is None:
            try:
                obj = orjson.loads(bytes(body))
            except orjson.JSONDecodeError:
                return
            if isinstance(obj, dict):
                flow.state.usage = usage_from(obj.get("usage"))
                flow.state.usage_source = "upstream" if flow.state.usage else ""
                flow.state.completion_parts.extend(text_parts(obj))
                if isinstance(obj.get("text"), str):        # audio transcription json
                    flow.state.completion_parts.append(obj["text"])
            return
        if body and flow.error is None:
            flow.state.completion_parts.append(bytes(body).decode("utf-8", "replace"))

    @staticmethod
    def _event(state: RelayState, data: str) -> None:
        if not data or data == "[DONE]":
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        usage = usage_from(obj.get("usage")) or usage_from((obj.get("response") or {}).get("usage")
                                                           if isinstance(obj.get("response"), dict) else None)
        if usage is not None:
            state.usage, state.usage_source = usage, "upstream"
        state.completion_parts.extend(text_parts(obj))
        delta = obj.get("delta")
        if obj.get("type") == "response.output_text.delta" and isinstance(delta, str):
            state.completion_parts.append(delta)   # Responses API stream
