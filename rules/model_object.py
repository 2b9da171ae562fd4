"""The OpenAI model object of a built-in model, as One API lists it (GET /v1/models, GET /api/channel/models)."""

from __future__ import annotations

from typing import Any

#: One API's fixed `created` time of every built-in model (2021-07-25).
MODEL_CREATED = 1626777600

#: One API's single fixed permission entry, shared by every built-in model.
MODEL_PERMISSION: tuple[dict[str, Any], ...] = ({
    "id": "modelperm-LwHkVFn8AcMItP432fKKDIKJ", "object": "model_permission", "created": MODEL_CREATED,
    "allow_create_engine": True, "allow_sampling": True, "allow_logprobs": True, "allow_search_indices": False,
    "allow_view": True, "allow_fine_tuning": False, "organization": "*", "group": None, "is_blocking": False,
},)


def model_object(model: str, owned_by: str) -> dict[str, Any]:
    """One built-in model as an OpenAI model object, with One API's permission list."""
    return {"id": model, "object": "model", "created": MODEL_CREATED, "owned_by": owned_by,
            "permission": [dict(p) for p in MODEL_PERMISSION], "root": model, "parent": None}


__all__ = ["MODEL_CREATED", "MODEL_PERMISSION", "model_object"]
