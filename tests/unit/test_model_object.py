"""One model object for GET /v1/models (proxy) and GET /api/channel/models (admin_api): rules.model_object."""

from __future__ import annotations

from proxy.addons.info import ModelCatalog
from rules import load_catalog, model_object


def test_one_apis_model_object() -> None:
    entry = model_object("gpt-4", "openai")
    assert entry == {
        "id": "gpt-4", "object": "model", "created": 1626777600, "owned_by": "openai",
        "permission": [{"id": "modelperm-LwHkVFn8AcMItP432fKKDIKJ", "object": "model_permission",
                        "created": 1626777600, "allow_create_engine": True, "allow_sampling": True,
                        "allow_logprobs": True, "allow_search_indices": False, "allow_view": True,
                        "allow_fine_tuning": False, "organization": "*", "group": None, "is_blocking": False}],
        "root": "gpt-4", "parent": None,
    }
    entry["permission"][0]["group"] = "changed"   # each object has its own copy
    assert model_object("gpt-4", "openai")["permission"][0]["group"] is None


def test_the_relay_catalog_lists_these_objects() -> None:
    catalog = ModelCatalog(load_catalog())
    assert catalog.by_id["gpt-4"] == model_object("gpt-4", "openai")
    assert catalog.visible(["no-such-model"]) == [
        {"id": "no-such-model", "object": "model", "created": 1626777600, "owned_by": "custom",
         "root": "no-such-model", "parent": None}]
