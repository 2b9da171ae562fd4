"""Reads usage and completion text out of the bytes sent to the client; never modifies them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from proxy.converters.base import Usage
from proxy.converters.dialects.gemini_array import as_sse
from proxy.converters.usage import usage_from_openai
from proxy.core.flow import Flow
from proxy.core.sse import SSEDecoder, SSEEvent
from proxy.gateway import modes
from proxy.gateway.state import RelayState

WINDOW = 1 << 20            # bytes of a stream held unparsed; past them it is parsed as it goes
MAX_BODY = 16 * 1024 * 1024  # bytes of a non-stream answer held whole; past them only its last WINDOW bytes
TEXT_KEEP = 1 << 20         # characters of a stream's text held; past them counted in pieces and let go
MAX_COUNTING = 2            # piece counts running off the loop at once per stream; more are counted in place
CUT_SEARCH = 1 << 16        # characters searched back for a word boundary to cut the text at

Count = Callable[[str, str], int]   # (text, model) -> tokens


def usage_from(obj: Any) -> Usage | None:
    """OpenAI chat/completions `usage`, or the Responses API's input/output form, with every part."""
    return usage_from_openai(obj)


def rerank_usage(obj: dict[str, Any]) -> Usage | None:
    """A rerank answer's tokens: Jina's `usage.total_tokens`, or the `meta.billed_units` / `meta.tokens` input and
    output tokens of Cohere-shaped answers (SiliconFlow, Cohere). None when it reports only search units."""
    usage = obj.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int) and usage["total_tokens"] > 0:
        return Usage(prompt_tokens=usage["total_tokens"], completion_tokens=0)
    meta = obj.get("meta")
    for key in ("billed_units", "tokens"):
        units = meta.get(key) if isinstance(meta, dict) else None
        if isinstance(units, dict) and isinstance(units.get("input_tokens"), int | float) and units["input_tokens"] > 0:
            output = units.get("output_tokens")
            return Usage(prompt_tokens=int(units["input_tokens"]),
                         completion_tokens=int(output) if isinstance(output, int | float) else 0)
    return None


_TEXT_FIELDS = ("content", "reasoning_content", "reasoning", "refusal")


def _call_parts(call: Any) -> list[str]:
    """A tool call's or a legacy function call's name and arguments (what the client receives of it)."""
    fn = call.get("function", call) if isinstance(call, dict) else None
    if not isinstance(fn, dict):
        return []
    return [v for v in (fn.get("name"), fn.get("arguments")) if isinstance(v, str) and v]


def _holder_parts(holder: dict[str, Any]) -> list[str]:
    parts = []
    for key in _TEXT_FIELDS:        # a loop, not a comprehension: this runs for every event of a long stream
        v = holder.get(key)
        if v and isinstance(v, str):
            parts.append(v)
    if "tool_calls" in holder:
        for call in holder["tool_calls"] or ():
            parts.extend(_call_parts(call))
    if "function_call" in holder:
        parts.extend(_call_parts(holder["function_call"]))
    audio = holder.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get("transcript"), str) and audio["transcript"]:
        parts.append(audio["transcript"])
    return parts


def _only_content(choices: Any) -> str | None:
    """The content of a chunk whose one choice's delta holds `content` and at most a role; None for any other
    shape (text_parts reads those)."""
    if type(choices) is not list or len(choices) != 1 or type(choices[0]) is not dict:
        return None
    choice = choices[0]
    delta = choice.get("delta")
    if type(delta) is not dict or "content" not in delta or "message" in choice or "text" in choice \
            or len(delta) > (2 if "role" in delta else 1):
        return None
    content = delta["content"]
    return "" if content is None else content if type(content) is str else None


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


def gemini_parts(obj: dict[str, Any]) -> list[str]:
    """The text of a Gemini generateContent answer or stream event (what Gemini clients receive): text and
    thought parts, function names and their arguments."""
    parts: list[str] = []
    for candidate in obj.get("candidates") or () if isinstance(obj.get("candidates"), list) else ():
        content = candidate.get("content") if isinstance(candidate, dict) else None
        for part in content.get("parts") or () if isinstance(content, dict) else ():
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str) and part["text"]:
                parts.append(part["text"])
            call = part.get("functionCall")
            if isinstance(call, dict):
                parts.append(str(call.get("name") or "") + orjson.dumps(call.get("args") or {}).decode())
    return parts


def sse_payloads(raw: bytes) -> list[str]:
    """Every event's data of a complete (or cut) SSE byte stream."""
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(raw) + decoder.flush()]


def word_cut(text: str) -> int:
    """Where to cut `text` so that its two sides counted apart make the count of the whole: before a single
    space that starts a word (tiktoken's encodings begin a piece there, so no piece spans the cut). The end of
    the text when none is near it (text without spaces: a piece may then be split, a token or two apart)."""
    i = len(text) - 1
    floor = max(0, len(text) - CUT_SEARCH)
    while True:
        i = text.rfind(" ", floor + 1, i)
        if i <= floor:
            return len(text)
        if not text[i - 1].isspace() and not text[i + 1].isspace():
            return i


def usage_in_tail(tail: bytes) -> Usage | None:
    """The last `"usage": {...}` object of a JSON answer's tail (OpenAI writes usage last), read without the
    rest of the document."""
    at = tail.rfind(b'"usage"')
    start = tail.find(b"{", at) if at >= 0 else -1
    if start < 0 or tail[at + 7:start].strip() != b":":
        return None
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(tail)):
        c = tail[i]
        if in_string:
            escaped, in_string = (False, True) if escaped else (c == 0x5C, c != 0x22)
        elif c == 0x22:
            in_string = True
        elif c == 0x7B:
            depth += 1
        elif c == 0x7D:
            depth -= 1
            if depth == 0:
                try:
                    return usage_from(orjson.loads(tail[start:i + 1]))
                except orjson.JSONDecodeError:
                    return None
    return None


class _Reading:
    """One answer's reading (the tap's private scratch): what it holds is bounded whatever the answer's length."""

    __slots__ = ("held", "decoder", "tail", "chars")

    def __init__(self) -> None:
        self.held: bytes | bytearray | None = None   # bytes not parsed yet: a stream's first WINDOW, an answer's
        self.decoder: SSEDecoder | None = None       # a stream past WINDOW: parsed piece by piece from there
        self.tail: bytes | None = None               # a non-stream answer past MAX_BODY: its last WINDOW bytes
        self.chars = 0                               # characters in state.completion_parts


class UsageTap:
    """Reads usage and text from what the client received, holding a bounded part of it.

    Nothing is parsed while the first WINDOW bytes flow, so a usual answer costs no latency: at its end the
    usage chunk is looked up from the back, and the text parsed (to count it) only when no usage came. A
    longer stream is parsed as it goes, holding one unfinished event; its text past TEXT_KEEP characters is
    counted in pieces (off the event loop) and let go, so a stream of any length is billed whole from its
    final usage event, or counted, with memory bounded. A non-stream answer is held whole up to MAX_BODY; past
    it only its tail is held, and its usage read from there.
    """

    def __init__(self, count: Count | None = None) -> None:
        self.count = count      # the tokenizer's count_text; None: a long stream's text is held, not counted

    def chunk(self, flow: Flow[RelayState], data: bytes) -> None:
        if not flow.state.billed:
            return
        call = flow.state.gemini
        if call is not None and call.array and flow.stream:   # Gemini's JSON-array stream, read as its SSE form
            data = as_sse(data)
            if not data:
                return
        reading = flow.metadata.get("tap")     # "tap": this addon's private scratch (no other module reads it)
        if reading is None:
            reading = flow.metadata["tap"] = _Reading()
        if reading.decoder is not None:
            self._events(flow, reading, reading.decoder.feed(data))
            return
        if reading.tail is not None:
            reading.tail = (reading.tail + data)[-WINDOW:]
            return
        held = reading.held
        limit = WINDOW if flow.stream else MAX_BODY
        size = len(held) if held is not None else 0
        if size + len(data) <= limit:
            if held is None:
                reading.held = data if type(data) is bytes else bytes(data)   # a whole answer as it is: no copy
            else:
                if not isinstance(held, bytearray):
                    held = reading.held = bytearray(held)
                held.extend(data)
            return
        reading.held = None
        if flow.stream:                        # a long stream: parsed from here on
            reading.decoder = SSEDecoder()
            self._events(flow, reading, reading.decoder.feed(bytes(held or b"")) + reading.decoder.feed(data))
        else:
            reading.tail = (bytes(held or b"") + data)[-WINDOW:]

    def done(self, flow: Flow[RelayState]) -> None:
        reading = flow.metadata.pop("tap", None)
        if not isinstance(reading, _Reading):
            return
        state = flow.state
        if reading.decoder is not None:        # a long stream read piece by piece: its unfinished end
            self._events(flow, reading, reading.decoder.flush())
            return
        if reading.tail is not None:
            if state.usage is None and flow.error is None:
                state.usage = usage_in_tail(reading.tail)
                state.usage_source = "upstream" if state.usage else ""
            return
        body = reading.held
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

    def _events(self, flow: Flow[RelayState], reading: _Reading, events: list[SSEEvent]) -> None:
        state = flow.state
        parts = state.completion_parts
        before = len(parts)
        for event in events:
            self._event(state, event.data, text=True)
        reading.chars += sum(len(part) for part in parts[before:])
        if reading.chars > TEXT_KEEP and self.count is not None:
            self._let_go(state, reading, self.count)

    @staticmethod
    def _let_go(state: RelayState, reading: _Reading, count: Count) -> None:
        """Count the text held so far (up to a word boundary) and keep only its count."""
        text = "".join(state.completion_parts)
        cut = word_cut(text)
        state.completion_parts[:] = [text[cut:]] if cut < len(text) else []
        reading.chars = len(text) - cut
        piece, model = text[:cut], state.model
        running = [f for f in state.completion_counting if not f.done()]
        if len(running) >= MAX_COUNTING:       # the tokenizer is behind the stream: this piece waits for it
            state.completion_counted += count(piece, model)
            return
        state.completion_counting.append(asyncio.get_running_loop().run_in_executor(None, count, piece, model))

    @staticmethod
    def _whole(state: RelayState, raw: bytes | bytearray) -> None:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            state.completion_parts.append(raw.decode("utf-8", "replace"))   # text/srt/vtt transcripts
            return
        if not isinstance(obj, dict):
            return
        state.usage = usage_from(obj.get("usage")) or (rerank_usage(obj) if state.mode == modes.RERANK else None)
        state.usage_source = "upstream" if state.usage else ""
        if state.usage is not None and state.usage.total_tokens and state.mode not in modes.MULTIPART_MODES:
            return                                  # the text is only needed to count it (transcripts: always)
        state.completion_parts.extend(text_parts(obj))
        state.completion_parts.extend(responses_output_parts(obj))
        state.completion_parts.extend(anthropic_parts(obj))
        state.completion_parts.extend(gemini_parts(obj))
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
        if "usage" in obj or "response" in obj:   # tested first: most events of a long stream carry neither
            response = obj.get("response")
            nested = response.get("usage") if isinstance(response, dict) else None   # Responses API events
            usage = usage_from(obj.get("usage")) or usage_from(nested)
            if usage is not None:
                state.usage, state.usage_source = usage, "upstream"
        if not text:
            return
        if "choices" in obj:
            content = _only_content(obj["choices"])
            if content is not None:       # nearly every chunk of a long chat stream
                if content:
                    state.completion_parts.append(content)
            else:
                state.completion_parts.extend(text_parts(obj))
        if "type" in obj:
            state.completion_parts.extend(responses_event_parts(obj))   # Responses API stream
            state.completion_parts.extend(anthropic_parts(obj))         # Anthropic Messages (/v1/messages)
        if "candidates" in obj:
            state.completion_parts.extend(gemini_parts(obj))            # Gemini (/v1beta/models/…)
