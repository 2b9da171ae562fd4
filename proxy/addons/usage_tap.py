"""Reads usage and completion text out of the bytes sent to the client; never modifies them."""

from __future__ import annotations

from typing import Any

import orjson

from proxy.converters.base import Usage
from proxy.core.flow import Flow
from proxy.core.sse import SSEDecoder, SSEEvent
from proxy.gateway import modes
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


_TEXT_FIELDS = ("content", "reasoning_content", "reasoning", "refusal")


def _call_parts(call: Any) -> list[str]:
    """A tool call's or a legacy function call's name and arguments (what the client receives of it)."""
    fn = call.get("function", call) if isinstance(call, dict) else None
    if not isinstance(fn, dict):
        return []
    return [v for v in (fn.get("name"), fn.get("arguments")) if isinstance(v, str) and v]


def _holder_parts(holder: dict[str, Any]) -> list[str]:
    parts = [v for v in (holder.get(key) for key in _TEXT_FIELDS) if isinstance(v, str) and v]
    for call in holder.get("tool_calls") or ():
        parts.extend(_call_parts(call))
    parts.extend(_call_parts(holder.get("function_call")))
    audio = holder.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get("transcript"), str) and audio["transcript"]:
        parts.append(audio["transcript"])
    return parts


def text_parts(obj: dict[str, Any]) -> list[str]:
    """Everything billable a client receives in a chunk or answer: content, reasoning, refusals, tool and
    function calls, audio transcripts, completions text (#14: none of it may go unbilled)."""
    parts: list[str] = []
    for choice in obj.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        for holder in (choice.get("delta"), choice.get("message")):
            if isinstance(holder, dict):
                parts.extend(_holder_parts(holder))
        text = choice.get("text")
        if isinstance(text, str) and text:
            parts.append(text)
    return parts


def responses_output_parts(obj: dict[str, Any]) -> list[str]:
    """The text of a whole Responses API answer: output text and refusals, function calls, reasoning summaries."""
    parts: list[str] = []
    for item in obj.get("output") or ():
        if not isinstance(item, dict):
            continue
        parts.extend(_call_parts(item) if item.get("type") == "function_call" else ())
        for piece in (item.get("content") or ()) if isinstance(item.get("content"), list) else ():
            if isinstance(piece, dict):
                parts.extend(v for v in (piece.get("text"), piece.get("refusal")) if isinstance(v, str) and v)
        for piece in item.get("summary") or () if isinstance(item.get("summary"), list) else ():
            if isinstance(piece, dict) and isinstance(piece.get("text"), str) and piece["text"]:
                parts.append(piece["text"])
    return parts


def responses_event_parts(obj: dict[str, Any]) -> list[str]:
    """The text a Responses API stream event carries: every `*.delta` string (output text, refusals,
    function-call arguments, reasoning and its summary)."""
    delta = obj.get("delta")
    kind = obj.get("type")
    if isinstance(delta, str) and delta and isinstance(kind, str) and kind.startswith("response."):
        return [delta]
    return []


def anthropic_parts(obj: dict[str, Any]) -> list[str]:
    """The text of an Anthropic Messages answer or stream event (what /v1/messages clients receive): text,
    thinking, tool names and their input."""
    kind = obj.get("type")
    if kind == "content_block_delta":
        delta = obj.get("delta")
        if not isinstance(delta, dict):
            return []
        return [v for v in (delta.get(k) for k in ("text", "partial_json", "thinking")) if isinstance(v, str) and v]
    blocks = [obj.get("content_block")] if kind == "content_block_start" else obj.get("content") if kind == "message" \
        else None
    parts: list[str] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        texts = (block.get("text"), block.get("thinking"), block.get("name"))
        parts.extend(v for v in texts if isinstance(v, str) and v)
        if block.get("type") == "tool_use" and block.get("input"):
            parts.append(orjson.dumps(block["input"]).decode())
    return parts


def sse_payloads(raw: bytes) -> list[str]:
    """Every event's data of a complete (or cut) SSE byte stream."""
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(raw) + decoder.flush()]


class UsageTap:
    """Keeps what the client received and reads it once the answer is complete.

    Nothing is parsed while bytes flow, so the tap adds no latency to a stream;
    at the end the usage chunk is looked up from the back, and the text is only
    parsed (to count it) when the upstream gave no usage. A stream longer than
    MAX_BODY is read in MAX_BODY pieces as it goes (its events parsed, only an
    unfinished one kept), so a long answer is billed whole, usage chunk included.
    """

    def chunk(self, flow: Flow[RelayState], data: bytes) -> None:
        if not flow.state.billed:
            return
        # "tap_body" and "tap_decoder" are this addon's private scratch (no other module reads them)
        metadata = flow.metadata
        buf = metadata.get("tap_body")
        if buf is None and type(data) is bytes and len(data) <= MAX_BODY:
            metadata["tap_body"] = data        # the first piece as it is (a whole answer is just that): no copy
            return
        if not isinstance(buf, bytearray):
            buf = metadata["tap_body"] = bytearray(buf or b"")
        if len(buf) + len(data) <= MAX_BODY:
            buf.extend(data)
        elif flow.stream:                      # a long stream: read what we hold, keep reading the rest
            buf.extend(data)
            decoder = metadata.setdefault("tap_decoder", SSEDecoder())
            self._events(flow.state, decoder.feed(bytes(buf)))
            buf.clear()

    def done(self, flow: Flow[RelayState]) -> None:
        body = flow.metadata.pop("tap_body", None)
        decoder = flow.metadata.pop("tap_decoder", None)
        state = flow.state
        if isinstance(decoder, SSEDecoder):    # a long stream read piece by piece: its last piece
            self._events(state, decoder.feed(bytes(body or b"")) + decoder.flush())
            return
        if not body or state.usage is not None or self._converter_counted(state):
            return
        if flow.stream:
            self._stream(state, bytes(body))
        elif flow.error is None:
            self._whole(state, body)

    @staticmethod
    def _converter_counted(state: RelayState) -> bool:
        """A stream converter (a converted stream, a dialect's pass-through reader) read the usage as the bytes
        went by and Billing takes it: reading them all again (every event's JSON) cost an Anthropic
        pass-through stream about a tenth of a worker's CPU. With an error it still reads: the text decides
        whether the stream failed at once."""
        converter = state.stream_converter
        return converter is not None and converter.error is None and bool(converter.usage.total_tokens)

    def _stream(self, state: RelayState, raw: bytes) -> None:
        usage_at = raw.rfind(b'"usage"')
        if usage_at >= 0:      # the usage chunk is at the end when there is one: parse only that event
            start = raw.rfind(b"data:", 0, usage_at)
            end = raw.find(b"\n\n", usage_at)
            event = raw[start:end if end >= 0 else len(raw)]
            for data in sse_payloads(event + b"\n\n"):
                self._event(state, data, text=False)
        if state.usage is None or not state.usage.total_tokens:   # none, or all zero (a converter's without any)
            for data in sse_payloads(raw):
                self._event(state, data, text=True)

    def _events(self, state: RelayState, events: list[SSEEvent]) -> None:
        for event in events:
            self._event(state, event.data, text=True)

    @staticmethod
    def _whole(state: RelayState, raw: bytes | bytearray) -> None:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            state.completion_parts.append(raw.decode("utf-8", "replace"))   # text/srt/vtt transcripts
            return
        if not isinstance(obj, dict):
            return
        state.usage = usage_from(obj.get("usage"))
        state.usage_source = "upstream" if state.usage else ""
        if state.usage is not None and state.usage.total_tokens and state.mode not in modes.MULTIPART_MODES:
            return                                  # the text is only needed to count it (transcripts: always)
        state.completion_parts.extend(text_parts(obj))
        state.completion_parts.extend(responses_output_parts(obj))
        state.completion_parts.extend(anthropic_parts(obj))
        if isinstance(obj.get("text"), str):        # audio transcription json
            state.completion_parts.append(obj["text"])

    @staticmethod
    def _event(state: RelayState, data: str, text: bool) -> None:
        if not data or data == "[DONE]":
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        response = obj.get("response")
        nested = response.get("usage") if isinstance(response, dict) else None   # Responses API events
        usage = usage_from(obj.get("usage")) or usage_from(nested)
        if usage is not None:
            state.usage, state.usage_source = usage, "upstream"
        if not text:
            return
        state.completion_parts.extend(text_parts(obj))
        state.completion_parts.extend(responses_event_parts(obj))   # Responses API stream
        state.completion_parts.extend(anthropic_parts(obj))         # Anthropic Messages (/v1/messages)
