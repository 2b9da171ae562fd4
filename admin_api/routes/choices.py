"""The lists the console's forms choose from: channel types, each type's default models, group names."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin_api.envelope import ok
from admin_api.option_rules import current
from admin_api.state import state_of
from rules import ChannelForm, ChannelType


def _form_json(form: ChannelForm) -> dict[str, Any]:
    other: dict[str, str] | None = None
    if form.other is not None:
        other = {"label": form.other.label, "placeholder": form.other.placeholder, "fallback": form.other.fallback}
    return {
        "base_url_label": form.base_url_label,
        "other": other,
        "config": [{"key": f.key, "label": f.label, "placeholder": f.placeholder, "textarea": f.textarea}
                   for f in form.config],
        "key_from_config": form.key_from_config,
        "models_optional": form.models_optional,
    }


def type_json(channel_type: ChannelType) -> dict[str, Any]:
    """One type: id, name, defaults, balance support, and the form's extra fields (labels in English)."""
    source = channel_type.balance_source
    return {
        "id": channel_type.id,
        "name": channel_type.name,
        "base_url": channel_type.base_url,
        "requires_base_url": channel_type.requires_base_url,
        "balance": source is not None,
        "balance_currency": source.currency if source else "",
        "key_hint": channel_type.key_hint,
        "form": _form_json(channel_type.form),
    }


async def list_types(request: web.Request) -> web.Response:
    """GET /api/channel/types: every real channel type in id order (the placeholder type 0 left out)."""
    catalog = state_of(request).catalog
    return ok([type_json(t) for t in sorted(catalog, key=lambda t: t.id) if not t.placeholder])


async def get_models(request: web.Request) -> web.Response:
    """GET /api/models: each channel type's default models, keyed by type id as a string."""
    by_type = state_of(request).catalog.models_by_type()
    return ok({str(type_id): models for type_id, models in by_type.items()})


async def get_groups(request: web.Request) -> web.Response:
    """GET /api/group/: the group names of the current GroupRatio."""
    return ok(list((await current(state_of(request).db)).ratio_map("GroupRatio")))
