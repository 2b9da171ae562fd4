"""`POST /v1/messages/count_tokens` and Gemini's `:countTokens`: a request's input tokens counted locally with the
tokenizer, for every channel (no upstream is called, nothing is billed): the request as the hub's chat prompt,
plus its tool definitions as text. An estimate, as the tokenizer's count of any non-OpenAI model is."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from proxy.addons.client_dialect import gemini_stand_in, invalid_request, json_object_body, stand_in
from proxy.converters.base import ConversionError
from proxy.converters.dialects.gemini_client_embed import count_tokens_request_to_openai, count_tokens_response
from proxy.converters.registry import DIALECTS
from proxy.core.flow import Flow, LocalResponse
from proxy.gateway import modes
from proxy.gateway.state import RelayState
from proxy.gateway.tokenizer import Tokenizer

BIG_BODY = 256 * 1024   # bytes of a request counted off the event loop


class MessageTokens:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    async def request(self, flow: Flow[RelayState]) -> None:
        if flow.state.channel is not None:   # a Gemini channel counts it (proxy.addons.gemini_count)
            return
        raw = flow.request.body
        body = json_object_body(raw)
        call = flow.state.gemini
        if call is not None:
            try:
                hub = count_tokens_request_to_openai(body, model=call.model)
            except ConversionError:   # parts the hub cannot carry: the whole request counted as text
                hub = gemini_stand_in(body, call)
            count = await self._counted(hub, call.model, len(raw))
            flow.response = LocalResponse(200, orjson.dumps(count_tokens_response(count)))
            return
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise invalid_request("model: a model name is required")
        try:   # count_tokens takes no max_tokens; the converter needs one
            hub = DIALECTS["anthropic"].request_to_openai({**body, "max_tokens": 1, "stream": False})
        except ConversionError:   # server tools and the like: the whole request counted as text
            hub = stand_in(body)
        count = await self._counted(hub, model, len(raw))
        flow.response = LocalResponse(200, orjson.dumps({"input_tokens": count}))

    async def _counted(self, hub: dict[str, Any], model: str, size: int) -> int:
        await self.tokenizer.load_for(model)
        return await asyncio.to_thread(self._count, hub, model) if size > BIG_BODY else self._count(hub, model)

    def _count(self, hub: dict[str, Any], model: str) -> int:
        tools = hub.get("tools")
        extra = self.tokenizer.count_text(orjson.dumps(tools).decode(), model) if tools else 0
        return self.tokenizer.count_prompt(modes.CHAT, hub, model) + extra


__all__ = ["MessageTokens"]
