"""The hub's chat stream (OpenAI chat SSE, bytes in any split) → the Responses API event stream Codex reads.

Grammar (client-dialects.md §3.6, §5.6): `response.created`, `response.in_progress`; per output item
`output_item.added` … `output_item.done` (reasoning: summary part and text events; message: content part and
`output_text`/`refusal` events; function call: `function_call_arguments` events); then one terminal event,
`response.completed` (or `response.incomplete` for `length`/`content_filter`) with the full output and usage.
Every event has `event:` and a `sequence_number` counted from 0. Reasoning and message items close as soon as
another kind of output starts; function calls stay open until the finish, so a hub interleaving the arguments of
parallel calls never sends a fragment for a closed item (Codex runs a call on its `output_item.done`). An
error event from the hub becomes `response.failed` with `error {code, message}`; items still open are not
closed then (a half-written call must not run). A stream that ends with neither a finish reason nor `[DONE]`
was cut: `response.failed` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.base import OpenAIError
from proxy.converters.dialects.hub_stream import HubStream
from proxy.converters.dialects.responses_output import (
    Names,
    as_mapping,
    call_item,
    custom_input,
    failure,
    message_item,
    output_text,
    reasoning_item,
    response_base,
    response_object,
    status_of,
    usage_of,
    usage_totals,
)
from proxy.converters.errors import parse_json, type_for_status

__all__ = ["ResponsesStream"]

CALLS = ("function_call", "custom_tool_call")


class _Item:
    """One output item of the answer, from its `output_item.added` on."""

    def __init__(self, kind: str, item_id: str, index: int) -> None:
        self.kind = kind                    # reasoning | message | function_call | custom_tool_call
        self.id = item_id
        self.index = index                  # output_index
        self.texts: list[str] = []          # the open part's (or the summary's, the arguments') fragments
        self.parts: list[dict[str, Any]] = []   # a message's closed content parts
        self.part_kind = ""                 # a message's open part: output_text | refusal | ""
        self.call_id = ""
        self.name = ""
        self.final: dict[str, Any] | None = None   # the item as sent in output_item.done


class ResponsesStream(HubStream):
    """StreamConverter from hub chat chunks to Responses events; `usage`/`error` are the hub's."""

    def __init__(self, request: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._request = request
        self._names = Names(request)
        self._seq = 0
        self._started = False
        self._ended = False
        self._base = ""
        self._created = 0
        self._model = ""
        self._items: list[_Item] = []
        self._calls: dict[Any, _Item] = {}
        self._finish: str | None = None
        self._usage_raw: Mapping[str, Any] | None = None

    def _final(self) -> list[bytes]:
        if self._ended:
            return []
        if self._finish is None:
            return self._fail(OpenAIError(502, "the upstream stream ended before its answer was finished",
                                          "server_error", code="server_error"))
        return self._end()

    # ------------------------------------------------------------ hub events

    def _event(self, data: str) -> list[bytes]:
        if self._ended:
            return []
        if data.strip() == "[DONE]":
            return self._end()
        chunk = parse_json(data)
        if not isinstance(chunk, dict):
            return []
        if chunk.get("error"):
            return self._fail(_hub_error(chunk["error"]))
        out = [] if self._started else self._start(chunk)
        if isinstance(chunk.get("usage"), Mapping):
            self._usage_raw = chunk["usage"]
            self._usage = usage_totals(self._usage_raw)
        choices = chunk.get("choices")
        choice = as_mapping(choices[0] if isinstance(choices, list) and choices else None)
        delta = as_mapping(choice.get("delta"))
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out += self._reasoning(reasoning)
        for kind in ("content", "refusal"):
            if isinstance(delta.get(kind), str) and delta[kind]:
                out += self._text("output_text" if kind == "content" else "refusal", delta[kind])
        for call in delta.get("tool_calls") or []:
            if isinstance(call, Mapping):
                out += self._tool(call.get("index", 0), call.get("id"), call.get("function"))
        if isinstance(delta.get("function_call"), Mapping):
            out += self._tool("function_call", None, delta["function_call"])
        if choice.get("finish_reason"):
            self._finish = str(choice["finish_reason"])
            out += self._close_all()
        return out

    def _start(self, chunk: Mapping[str, Any]) -> list[bytes]:
        self._started = True
        self._base = response_base(chunk.get("id"))
        self._created = chunk["created"] if isinstance(chunk.get("created"), int) else 0
        self._model = chunk["model"] if isinstance(chunk.get("model"), str) else ""
        response = self._response("in_progress", [])
        return [self._emit("response.created", response=response),
                self._emit("response.in_progress", response=response)]

    def _reasoning(self, text: str) -> list[bytes]:
        item = self._open("reasoning")
        out: list[bytes] = []
        if item is None:
            out += self._close_open()
            item, added = self._add("reasoning", f"rs_{self._base}_{len(self._items)}", reasoning_item("", ""))
            out += [added, self._emit("response.reasoning_summary_part.added", **self._at(item), summary_index=0,
                                      part={"type": "summary_text", "text": ""})]
        item.texts.append(text)
        return out + [self._emit("response.reasoning_summary_text.delta", **self._at(item), summary_index=0,
                                 delta=text)]

    def _text(self, kind: str, text: str) -> list[bytes]:
        item = self._open("message")
        out: list[bytes] = []
        if item is None:
            out += self._close_open()
            item_id = f"msg_{self._base}_{len(self._items)}"
            item, added = self._add("message", item_id, message_item("", [], "in_progress"))
            out.append(added)
        if item.part_kind != kind:
            out += self._close_part(item)
            item.part_kind = kind
            empty = output_text("") if kind == "output_text" else {"type": "refusal", "refusal": ""}
            out.append(self._emit("response.content_part.added", **self._at(item), content_index=len(item.parts),
                                  part=empty))
        item.texts.append(text)
        if kind == "output_text":
            return out + [self._emit("response.output_text.delta", **self._at(item), content_index=len(item.parts),
                                     delta=text, logprobs=[])]
        return out + [self._emit("response.refusal.delta", **self._at(item), content_index=len(item.parts),
                                 delta=text)]

    def _tool(self, key: Any, call_id: Any, function: Any) -> list[bytes]:
        function = function if isinstance(function, Mapping) else {}
        out: list[bytes] = []
        item = self._calls.get(key)
        if item is None:
            out += self._close_open()
            call_id = call_id if isinstance(call_id, str) and call_id else f"call_{self._base}_{len(self._calls)}"
            name = function.get("name") if isinstance(function.get("name"), str) else ""
            first = call_item(call_id, name, "", "in_progress", self._names)
            item, added = self._add(first["type"], "", first)
            self._calls[key] = item
            item.call_id, item.name = call_id, name
            out.append(added)
        fragment = function.get("arguments")
        if isinstance(fragment, str) and fragment and item.final is None:
            item.texts.append(fragment)
            if item.kind == "function_call":   # a custom tool's input is known once its JSON is whole
                out.append(self._emit("response.function_call_arguments.delta", **self._at(item), delta=fragment))
        return out

    # ------------------------------------------------------------ items

    def _open(self, kind: str) -> _Item | None:
        for item in self._items:
            if item.kind == kind and item.final is None:
                return item
        return None

    def _add(self, kind: str, item_id: str, item: dict[str, Any]) -> tuple[_Item, bytes]:
        item_id = item_id or str(item["id"])
        state = _Item(kind, item_id, len(self._items))
        self._items.append(state)
        return state, self._emit("response.output_item.added", output_index=state.index, item={**item, "id": item_id})

    @staticmethod
    def _at(item: _Item) -> dict[str, Any]:
        return {"item_id": item.id, "output_index": item.index}

    def _close_open(self) -> list[bytes]:
        """Close the open reasoning or message item (function calls stay open until the finish)."""
        out: list[bytes] = []
        for item in self._items:
            if item.final is None and item.kind not in CALLS:
                out += self._close(item)
        return out

    def _close_all(self) -> list[bytes]:
        out: list[bytes] = []
        for item in self._items:
            if item.final is None:
                out += self._close(item)
        return out

    def _close_part(self, item: _Item) -> list[bytes]:
        if not item.part_kind:
            return []
        text, where = "".join(item.texts), {**self._at(item), "content_index": len(item.parts)}
        if item.part_kind == "output_text":
            part = output_text(text)
            done = self._emit("response.output_text.done", **where, text=text, logprobs=[])
        else:
            part = {"type": "refusal", "refusal": text}
            done = self._emit("response.refusal.done", **where, refusal=text)
        item.parts.append(part)
        item.texts, item.part_kind = [], ""
        return [done, self._emit("response.content_part.done", **where, part=part)]

    def _close(self, item: _Item) -> list[bytes]:
        status = "incomplete" if status_of(self._finish)[0] == "incomplete" else "completed"
        out: list[bytes] = []
        if item.kind == "reasoning":
            text = "".join(item.texts)
            part = {"type": "summary_text", "text": text}
            out += [self._emit("response.reasoning_summary_text.done", **self._at(item), summary_index=0, text=text),
                    self._emit("response.reasoning_summary_part.done", **self._at(item), summary_index=0, part=part)]
            item.final = reasoning_item(item.id, text)
        elif item.kind == "message":
            out += self._close_part(item)
            item.final = message_item(item.id, item.parts, status)
        elif item.kind == "function_call":
            arguments = "".join(item.texts)
            out.append(self._emit("response.function_call_arguments.done", **self._at(item), arguments=arguments))
            item.final = call_item(item.call_id, item.name, arguments, status, self._names)
        else:
            text = custom_input("".join(item.texts)) if item.texts else ""
            if text:
                out.append(self._emit("response.custom_tool_call_input.delta", **self._at(item), delta=text))
            out.append(self._emit("response.custom_tool_call_input.done", **self._at(item), input=text))
            item.final = call_item(item.call_id, item.name, "".join(item.texts), status, self._names)
        return out + [self._emit("response.output_item.done", output_index=item.index, item=item.final)]

    # ------------------------------------------------------------ the end

    def _end(self) -> list[bytes]:
        out = [] if self._started else self._start({})
        out += self._close_all()
        self._ended = True
        status, reason = status_of(self._finish)
        response = self._response(status, self._done_items(), usage_of(self._usage_raw), incomplete_reason=reason)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + [self._emit(kind, response=response)]

    def fail(self, error: OpenAIError) -> list[bytes]:
        """The end of a stream the relay lost after it started (the upstream cut it, a time limit ran out):
        `response.failed` with this response's id and the next sequence number; nothing once it has ended."""
        return [] if self._ended else self._fail(error)

    def _fail(self, error: OpenAIError) -> list[bytes]:
        out = [] if self._started else self._start({})
        self._ended = True
        self._error = error
        response = self._response("failed", self._done_items(), usage_of(self._usage_raw), error=failure(error))
        return out + [self._emit("response.failed", response=response)]

    def _done_items(self) -> list[dict[str, Any]]:
        return [item.final for item in self._items if item.final is not None]

    def _response(self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None = None,
                  **extra: Any) -> dict[str, Any]:
        return response_object(self._request, response_id=f"resp_{self._base}", created_at=self._created,
                               model=self._model, status=status, output=output, usage=usage, **extra)

    def _emit(self, kind: str, **fields: Any) -> bytes:
        payload = orjson.dumps({"type": kind, "sequence_number": self._seq, **fields})
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n"


def _hub_error(error: Any) -> OpenAIError:
    """The hub's in-stream `{"error": {...}}` (a string error is its message)."""
    if not isinstance(error, Mapping):
        return OpenAIError(500, str(error), "server_error")
    status: int = error["status"] if isinstance(error.get("status"), int) else 500
    return OpenAIError(status=status, message=str(error.get("message") or "upstream error"),
                       type=str(error.get("type") or type_for_status(status)), code=error.get("code"),
                       param=error.get("param"))
