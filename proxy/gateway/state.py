"""The gateway's typed per-request state, carried in `flow.state`.

With proxy.core.flow.Flow, the whole contract between the addons: what one addon hands to another is a
field here, never a `flow.metadata` key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from proxy.converters.base import ConvertContext, StreamConverter, Usage
from proxy.converters.registry import Converters
from proxy.core.errors import RelayError
from proxy.gateway.gemini_calls import GeminiCall
from proxy.gateway.records import ChannelRecord, TokenRecord, UserRecord
from proxy.ledger import BudgetHolds
from proxy.limits.windows import Ticket
from rules import Charge


@dataclass(frozen=True, slots=True)
class ConverterCall:
    """The converter serving this attempt and the context it converts with (set by ConverterUpstream)."""

    converters: Converters
    ctx: ConvertContext


@dataclass(slots=True)
class RelayState:
    mode: str = ""                      # see proxy.gateway.modes
    dialect: str = ""                   # the client's dialect from its route ("anthropic"); "": OpenAI's own
    gemini: GeminiCall | None = None    # a Gemini client's call: model, method and version from its path
    client_body: dict[str, Any] | None = None   # a dialect client's own request (state.body is the hub's)
    client_raw: bytes = b""             # its bytes, passed as they are to a channel of its dialect
    dialect_refusal: RelayError | None = None   # why the hub cannot carry it (raised unless the channel is its own)
    dialect_passthrough: bool = False   # this attempt's channel speaks the client's dialect: bytes pass through
    relay_path: str = ""                # normalised relay path, e.g. /v1/embeddings
    token: TokenRecord | None = None
    user: UserRecord | None = None
    group: str = "default"
    pinned_channel_id: int | None = None
    body: dict[str, Any] | None = None  # parsed JSON body (None for multipart and bodiless requests)
    form: dict[str, str] = field(default_factory=dict)   # multipart text fields (audio)
    requested_model: str = ""
    model: str = ""                     # after the channel's model mapping
    stream: bool = False
    include_usage: bool = False         # the client asked for stream_options.include_usage
    channel: ChannelRecord | None = None
    tried_channels: list[int] = field(default_factory=list)
    system_prompt_reset: bool = False
    prompt_tokens: int = 0
    reserved: int = 0                   # quota held for this request
    output_cap: int = 0                 # the answer's token limit the balance pays for (0: the request's own)
    unpaid: int = 0                     # what the answer cost beyond every balance (never charged: logged)
    usage: Usage | None = None          # from the upstream
    usage_source: str = ""              # "upstream" | "counted" | "estimated"
    completion_parts: list[str] = field(default_factory=list)   # streamed text, to count when no usage came
    # a long stream's text is not kept whole: past proxy.addons.usage_tap.TEXT_KEEP characters it is counted in
    # pieces as it goes and let go; these are those pieces' tokens (counted) and counts still running off the loop
    completion_counted: int = 0
    completion_counting: list[asyncio.Future[int]] = field(default_factory=list)
    converter: ConverterCall | None = None   # this attempt's converter (None: served as OpenAI or raw)
    stream_converter: StreamConverter | None = None   # a converted stream's, whose .usage we read at the end
    quota: int = 0                      # the final charge
    charge: Charge | None = None        # how a text answer's charge adds up, part by part (for its log row)
    billed: bool = False                # whether this request is billed at all
    # this attempt's body fields to change (model mapping, system prompt, a capped output limit), encoded by
    # the upstream addons; empty: the body passes byte-exact
    body_changes: dict[str, Any] = field(default_factory=dict)
    last_error: RelayError | None = None    # the last failed attempt's error, answered when no channel is left
    budget_holds: BudgetHolds = field(default_factory=dict)   # what the hold took from each budget window
    limit_ticket: Ticket | None = None  # the request's place in its rate windows (None: not limited)
    limit_refused_by: str = ""          # a rate-limit refusal's source: "memory", "database", "redis" (metrics)
