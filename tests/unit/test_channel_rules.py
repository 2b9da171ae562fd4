"""The pure rules on where a channel's key goes (admin_api.channel_destination) and its config secrets."""

from __future__ import annotations

import orjson

from admin_api import channel_destination as destination
from admin_api import channel_secrets
from store.models import ROLE_ADMIN, ROLE_ROOT, Channel


def _channel(**fields: object) -> Channel:
    return Channel(**{"id": 7, "type": 1, "name": "c", "base_url": "https://a.example/", "config": "", **fields})


def test_destination_changes() -> None:
    channel = _channel(config='{"region": "us-east-1", "ak": "A"}')
    assert destination.destination_changes(channel, {"base_url": "https://a.example", "type": 1, "name": "x",
                                                     "config": '{"region":"us-east-1","ak":"B"}'}) == []
    changes = destination.destination_changes(channel, {"base_url": "", "type": 33, "config": "{}"})
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("base_url", "https://a.example/", ""), ("type", "1", "33"), ("config.region", "us-east-1", "")]


def test_who_may_move_a_key() -> None:
    plain, with_sk = _channel(), _channel(config='{"sk": "s", "region": "r"}')
    moved = destination.destination_changes(plain, {"base_url": "https://evil.example"})
    assert destination.may_change(ROLE_ROOT, moved, plain, {})
    assert not destination.may_change(ROLE_ADMIN, moved, plain, {"key": " "})
    assert destination.may_change(ROLE_ADMIN, moved, plain, {"key": "mine"})
    assert destination.may_change(ROLE_ADMIN, [], plain, {})
    assert not destination.may_change(ROLE_ADMIN, moved, with_sk, {"key": "mine", "config": '{"sk": ""}'})
    assert destination.may_change(ROLE_ADMIN, moved, with_sk, {"key": "mine", "config": '{"sk": "mine"}'})


def test_config_secrets_hidden_and_kept() -> None:
    stored = '{"ak": "A", "sk": "secret", "vertex_ai_adc": "{}", "region": "r"}'
    assert orjson.loads(channel_secrets.public(stored)) == {"ak": "A", "sk": "", "vertex_ai_adc": "", "region": "r"}
    assert channel_secrets.public('{"region": "r"}') == '{"region": "r"}'
    assert channel_secrets.public("not json") == "not json"
    kept = channel_secrets.keep_stored(stored, '{"ak": "A2", "sk": "", "region": "r2"}')
    assert orjson.loads(kept) == {"ak": "A2", "sk": "secret", "vertex_ai_adc": "{}", "region": "r2"}
    assert channel_secrets.keep_stored(stored, '{"sk": "new", "vertex_ai_adc": "x"}') == \
        '{"sk": "new", "vertex_ai_adc": "x"}'
