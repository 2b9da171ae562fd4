"""Per-channel model mapping and forced system prompt (one-api.md §4.4), changing only those fields."""

from __future__ import annotations

from typing import Any

from proxy.core.flow import Flow
from proxy.gateway import modes
from proxy.gateway.state import RelayState


def with_system_prompt(messages: list[Any], prompt: str) -> list[Any]:
    """Replace the first system message's content, or put one in front."""
    if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
        return [{**messages[0], "content": prompt}, *messages[1:]]
    return [{"role": "system", "content": prompt}, *messages]


class ModelMapping:
    """Sets state.model for this attempt's channel and notes which body fields must change."""

    def rewrite(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        channel = state.channel
        assert channel is not None
        changes: dict[str, Any] = {}
        state.model = channel.model_mapping.get(state.requested_model, state.requested_model)
        if state.model != state.requested_model:
            changes["model"] = state.model
        messages = state.body.get("messages") if state.body else None
        state.system_prompt_reset = False
        if channel.system_prompt and state.mode == modes.CHAT and isinstance(messages, list) and messages:
            changes["messages"] = with_system_prompt(messages, channel.system_prompt)
            state.system_prompt_reset = True
        state.body_changes = changes
