"""ModelMapping alone, with a fake flow: the channel's model name and forced system prompt become this attempt's
body changes (and nothing else does)."""

from __future__ import annotations

from typing import Any

from proxy.addons.mapping import ModelMapping, with_system_prompt
from proxy.core.flow import Flow
from proxy.gateway.state import RelayState
from tests.unit.addons.fakes import channel, make_flow

MESSAGES = [{"role": "system", "content": "old"}, {"role": "user", "content": "hi"}]


def chat_flow(**state: Any) -> Flow[RelayState]:
    flow = make_flow(requested_model="gpt-4o-mini", mode="chat", **state)
    flow.state.body = {"model": "gpt-4o-mini", "messages": MESSAGES}
    return flow


def test_no_mapping_no_prompt_changes_nothing() -> None:
    flow = chat_flow(channel=channel())
    ModelMapping().rewrite(flow)
    assert flow.state.body_changes == {} and flow.state.model == "gpt-4o-mini" and not flow.state.system_prompt_reset


def test_a_mapped_model_and_a_forced_prompt_are_this_attempts_changes() -> None:
    flow = chat_flow(channel=channel(model_mapping={"gpt-4o-mini": "gpt-4o"}, system_prompt="be brief"))
    ModelMapping().rewrite(flow)
    assert flow.state.body_changes == {"model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                                                       {"role": "user", "content": "hi"}]}
    assert flow.state.model == "gpt-4o" and flow.state.system_prompt_reset
    flow.state.channel = channel(id=2)          # the next attempt's channel maps nothing: its changes start empty
    ModelMapping().rewrite(flow)
    assert flow.state.body_changes == {} and flow.state.model == "gpt-4o-mini"


def test_the_prompt_goes_first_when_there_is_no_system_message() -> None:
    assert with_system_prompt([{"role": "user", "content": "hi"}], "p") == [
        {"role": "system", "content": "p"}, {"role": "user", "content": "hi"}]
