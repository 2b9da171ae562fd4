"""Answers that need a token but no upstream: models, OpenAI billing compatibility, 501s (§2.1, §2.5, §2.6)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from proxy.converters.dialects.gemini_client_models import model_list, model_resource, page_size
from proxy.core.errors import RelayError
from proxy.core.flow import Flow, LocalResponse
from proxy.gateway.cache import Caches
from proxy.gateway.gemini_calls import query_param
from proxy.gateway.state import RelayState
from proxy.ledger import Ledger
from proxy.limits.budgets import BudgetBook, budget_scopes
from proxy.limits.policy import Limit
from rules import MODEL_CREATED, Catalog, load_max_output, model_object
from store import as_bool, as_float

NOT_IMPLEMENTED = orjson.dumps({"error": {"message": "API not implemented", "type": "one_api_error", "param": "",
                                          "code": "api_not_implemented"}})


def json_answer(obj: Any, status: int = 200) -> LocalResponse:
    return LocalResponse(status, orjson.dumps(obj))


class ModelCatalog:
    def __init__(self, catalog: Catalog) -> None:
        self.entries: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        for model, owner in catalog.model_catalog():
            entry = model_object(model, owner)
            self.entries.append(entry)
            self.by_id[model] = entry

    def visible(self, models: list[str]) -> list[dict[str, Any]]:
        wanted = set(models)
        out = [e for e in self.entries if e["id"] in wanted]
        known = {e["id"] for e in out}
        out += [{"id": m, "object": "model", "created": MODEL_CREATED, "owned_by": "custom", "root": m, "parent": None}
                for m in sorted(wanted - known)]
        return out


class InfoAnswers:
    """Runs after TokenAuth on the info routes; always answers locally."""

    def __init__(self, catalog: Catalog, caches: Caches, ledger: Ledger,
                 options: Callable[[], Mapping[str, str]], budgets: BudgetBook | None = None) -> None:
        self.models = ModelCatalog(catalog)
        self.max_output = load_max_output()
        self.caches = caches
        self.ledger = ledger
        self.options = options
        self.budgets = budgets

    async def request(self, flow: Flow[RelayState]) -> None:
        path = flow.request.path
        if path.startswith("/v1beta/models"):
            flow.response = self._gemini(flow)
        elif path.rstrip("/") == "/v1/models":
            flow.response = self._list(flow.state)
        elif path.startswith("/v1/models/"):
            flow.response = self._one(flow.request.match_info.get("model", path.rsplit("/", 1)[-1]))
        elif path.endswith("/dashboard/billing/subscription"):
            flow.response = await self._subscription(flow.state)
        elif path.endswith("/dashboard/billing/usage"):
            flow.response = await self._usage(flow.state)
        else:
            flow.response = LocalResponse(501, NOT_IMPLEMENTED)

    def _usable(self, state: RelayState) -> list[str]:
        token = state.token
        return list(token.models) if token and token.models else self.caches.index.models(state.group)

    def _list(self, state: RelayState) -> LocalResponse:
        return json_answer({"object": "list", "data": self.models.visible(self._usable(state))})

    def _gemini(self, flow: Flow[RelayState]) -> LocalResponse:
        """Gemini's model list and model (the token's models, as /v1/models lists them); errors in Gemini's
        shape (ClientDialect)."""
        usable = sorted(set(self._usable(flow.state)))
        model = flow.request.match_info.get("model", "").removeprefix("models/")
        if model:
            if model not in usable:
                raise RelayError(404, f"models/{model} is not found for this token, or is not supported",
                                 type="invalid_request_error", code="model_not_found")
            return json_answer(model_resource(model, self.max_output.tokens(model)))
        query = flow.request.query_string
        try:
            size = page_size(query_param(query, "pageSize"))
            return json_answer(model_list([model_resource(m, self.max_output.tokens(m)) for m in usable], size,
                                          query_param(query, "pageToken")))
        except ValueError as e:
            raise RelayError(400, str(e), type="invalid_request_error", code="invalid_request") from None

    def _one(self, model: str) -> LocalResponse:
        entry = self.models.by_id.get(model)
        if entry is None:   # One API answers 200 here
            return json_answer({"error": {"message": f"The model '{model}' does not exist",
                                          "type": "invalid_request_error", "param": "model",
                                          "code": "model_not_found"}})
        return json_answer(entry)

    def _amount(self, quota: int, unlimited: bool) -> float:
        options = self.options()
        if unlimited:
            return 100_000_000
        if as_bool(options.get("DisplayInCurrencyEnabled", "true")):
            return quota / (as_float(options.get("QuotaPerUnit"), 500000.0) or 500000.0)
        return float(quota)

    async def _figures(self, state: RelayState) -> tuple[int, int, bool, int]:
        """(remain, used, unlimited, expiry) from the token or the user (DisplayTokenStatEnabled)."""
        token, user = state.token, state.user
        assert token is not None and user is not None
        if as_bool(self.options().get("DisplayTokenStatEnabled", "true")):
            remain = await self.ledger.token_remain(token) if not token.unlimited_quota else token.remain_quota
            fresh = await self.caches.token(token.key) or token
            return remain, fresh.used_quota, token.unlimited_quota, token.expired_time
        return await self.ledger.user_quota(user.id), user.used_quota, False, 0

    async def _subscription(self, state: RelayState) -> LocalResponse:
        remain, used, unlimited, expiry = await self._figures(state)
        amount = self._amount(remain + used, unlimited)
        return json_answer({"object": "billing_subscription", "has_payment_method": True, "soft_limit_usd": amount,
                            "hard_limit_usd": amount, "system_hard_limit_usd": amount,
                            "access_until": expiry if expiry > 0 else 0, **await self._limits(state)})

    async def _limits(self, state: RelayState) -> dict[str, Any]:
        """Ours (#17), only for a limited token or user: their rate limits, and each budget's use and reset."""
        out: dict[str, Any] = {}
        limits = {who: record.limit if record else Limit() for who, record in (("token", state.token),
                                                                              ("user", state.user))}
        if any(limits.values()):
            out["rate_limits"] = {who: {"rpm_limit": lim.rpm, "tpm_limit": lim.tpm,
                                        "max_parallel_requests": lim.parallel} for who, lim in limits.items()}
        scopes = budget_scopes(state.token, state.user)
        if scopes and self.budgets is not None:
            states = await self.budgets.states(scopes)
            out["budgets"] = [{"owner": scope.owner, **st.as_json()} for scope, st in zip(scopes, states, strict=True)]
        return out

    async def _usage(self, state: RelayState) -> LocalResponse:
        _, used, _, _ = await self._figures(state)
        return json_answer({"object": "list", "total_usage": self._amount(used, False) * 100})
