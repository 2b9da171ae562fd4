"""GET /api/channel/types serves the channel-type catalog (rules/channel_types.toml) to the console."""

from __future__ import annotations


async def test_admins_get_every_real_type_with_its_form(api):
    status, body = await api.call("GET", "/api/channel/types", who="admin")
    assert status == 200 and body["success"] is True
    types = {t["id"]: t for t in body["data"]}
    assert [t["id"] for t in body["data"]] == list(range(1, 52))      # id order, type 0 left out
    assert types[1] == {
        "id": 1, "name": "OpenAI", "base_url": "https://api.openai.com", "requires_base_url": False,
        "balance": True, "balance_currency": "USD", "key_hint": "",
        "form": {"base_url_label": "", "other": None, "config": [], "key_from_config": False,
                 "models_optional": False},
    }
    assert types[3]["requires_base_url"] and types[3]["key_hint"] == "AZURE_OPENAI_KEY"
    assert types[3]["form"]["base_url_label"] == "AZURE_OPENAI_ENDPOINT"
    assert types[3]["form"]["other"] == {"label": "API version", "placeholder": "2024-03-01-preview",
                                         "fallback": "2024-03-01-preview"}
    assert types[36]["balance_currency"] == "CNY"
    assert types[42]["form"]["key_from_config"] and [f["key"] for f in types[42]["form"]["config"]] == [
        "region", "vertex_ai_project_id", "vertex_ai_adc"]
    assert [f["textarea"] for f in types[42]["form"]["config"]] == [False, False, True]
    assert types[43]["form"]["models_optional"] and types[43]["requires_base_url"]
    assert {i for i, t in types.items() if t["balance"]} == {1, 4, 5, 8, 10, 12, 13, 20, 36, 44}


async def test_login_and_admin_required(api):
    status, body = await api.call("GET", "/api/channel/types")
    assert status == 401 and body["success"] is False
    status, body = await api.call("GET", "/api/channel/types", who="alice")
    assert status == 200 and body["success"] is False

