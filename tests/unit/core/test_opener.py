"""Every upstream answer the pipeline may get fits UpstreamAnswer, and both openers fit Opener: mypy checks the
assignments below, the test checks the members at run time (a protocol is not checked by isinstance)."""

from __future__ import annotations

import aiohttp

from proxy.core.forward import UpstreamOpener
from proxy.core.opener import Opener, UpstreamAnswer
from proxy.core.testing import MemoryAnswer, MemoryUpstream, Scripted
from proxy.core.transports import SyntheticResponse, single_body
from proxy.core.upstream_response import UpstreamResponse

MEMBERS = ("status", "headers", "content_type", "content_length", "content", "read", "__aenter__", "__aexit__")


def answers(a: aiohttp.ClientResponse, b: UpstreamResponse, c: SyntheticResponse, d: MemoryAnswer) -> list[UpstreamAnswer]:
    return [a, b, c, d]


def openers(a: UpstreamOpener, b: MemoryUpstream) -> list[Opener]:
    return [a, b]


def test_every_answer_has_what_the_pipeline_reads() -> None:
    for answer in (single_body(200, b"{}"), MemoryAnswer(Scripted())):
        assert [m for m in MEMBERS if not hasattr(answer, m)] == [], answer
    for cls in (aiohttp.ClientResponse, UpstreamResponse):   # status, headers, content: set per answer
        assert [m for m in MEMBERS[3:] if not hasattr(cls, m)] == [] and hasattr(cls, "content_type"), cls
    for opener in (UpstreamOpener, MemoryUpstream):
        assert callable(getattr(opener, "open", None))
