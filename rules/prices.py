"""Price tables (model, completion and group ratios) and the quota a request costs (§7)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from .charge import ONE, Charge, ComponentRatios, Line, Parts, charge, exact, hold_factors
from .components import (
    COMPONENT_OPTIONS,
    TIER_OPTION,
    ComponentDefaults,
    Tiers,
    load_components,
    merge_base,
    tiers_json,
)
from .exact import Rational, dec, product, rational, text_quota, tokens_quota, trunc_int
from .gojson import go_json_object
from .images import ImageRule
from .prices_file import parse_prices_file

DEFAULT_PRICES_PATH = Path(__file__).with_name("prices.toml")

_INTERNET = "-internet"


@dataclass(frozen=True)
class CompletionRule:
    """Completion ratio for names meeting every given condition (empty conditions always hold)."""

    ratio: float
    exact: frozenset[str] = frozenset()
    prefix: str = ""
    suffix: str = ""
    glob: str = ""

    def matches(self, name: str) -> bool:
        return (
            (not self.exact or name in self.exact)
            and name.startswith(self.prefix)
            and name.endswith(self.suffix)
            and (not self.glob or fnmatchcase(name, self.glob))
        )


@dataclass(frozen=True)
class AudioRules:
    """Speech and transcription billing facts (§5.7, §7.7)."""

    speech_max_input_bytes: int
    transcription_billing_model: str


@dataclass(frozen=True)
class PriceDefaults:
    """Everything prices.toml holds; the default tables behind every PriceTable."""

    model_ratio: Mapping[str, float]
    completion_ratio: Mapping[str, float]
    completion_rules: tuple[CompletionRule, ...]
    group_ratio: Mapping[str, float]
    fallback_model_ratio: float
    fallback_completion_ratio: float
    fallback_group_ratio: float
    strip_internet_model: tuple[str, ...]
    strip_internet_completion: tuple[str, ...]
    image_rules: Mapping[str, ImageRule]
    single_charge_channel_types: frozenset[int]
    audio: AudioRules
    components: ComponentDefaults = ComponentDefaults({}, {}, {c: {} for c in COMPONENT_OPTIONS}, {}, {})


def _strip_internet(name: str, prefixes: tuple[str, ...]) -> str:
    if name.endswith(_INTERNET) and name.startswith(prefixes):
        return name[: -len(_INTERNET)]
    return name


def _lookup(
    name: str,
    channel_type: int | None,
    current: Mapping[str, float] | None,
    default: Mapping[str, float],
) -> float | None:
    """§7.1 order: M(T) current, M(T) default, M current, M default."""
    keys = [name] if channel_type is None else [f"{name}({channel_type})", name]
    for key in keys:
        for table in (current, default):
            if table is not None and key in table:
                return table[key]
    return None


MEMO_SIZE = 4096
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def exact_ratio(value: float) -> str:
    """The shortest decimal that reads back as `value`, never in exponent form: 0.075, 1, 0.00001, 2.5.

    One API prints two decimals, which shows 0.075 as 0.07 (the price charged is 0.075)."""
    text = format(Decimal(repr(float(value))).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _remember(memo: dict[K, V], key: K, value: V) -> None:
    """Store in a per-table memo; a full memo starts over (keys include client-chosen model names)."""
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[key] = value


def _as_table(values: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in values.items()})


def _affordable(budget: int, fixed: Fraction, per_token: Fraction, per_quota: Fraction, ceiling: int) -> int:
    """The most answer tokens (at most `ceiling`) with ceil((fixed + tokens × per_token) × per_quota) <= budget;
    -1 when not even `fixed` fits."""
    if per_quota == 0:
        return ceiling
    room = Fraction(budget) / per_quota - fixed
    if room < 0:
        return -1
    if per_token == 0:
        return ceiling
    return min(ceiling, (room / per_token).__floor__())


class PriceTable:
    """Default price tables plus the current ones from options ModelRatio, CompletionRatio, GroupRatio.

    Without overrides the current tables are the defaults. An override replaces the current
    table; model and completion lookups still fall back to the defaults (§7.1), group lookups
    do not (an unknown group costs the fallback 1, as in One API).
    """

    def __init__(
        self,
        defaults: PriceDefaults,
        model_ratio: Mapping[str, float] | None = None,
        completion_ratio: Mapping[str, float] | None = None,
        group_ratio: Mapping[str, float] | None = None,
        components: Mapping[str, Mapping[str, float]] | None = None,
        tiers: Mapping[str, Tiers] | None = None,
    ) -> None:
        self.defaults = defaults
        self._components = components or {}     # component -> current option table (absent: defaults only)
        self._tiers = tiers
        self._model_ratio = model_ratio
        self._completion_ratio = completion_ratio
        self._group_ratio = group_ratio if group_ratio is not None else defaults.group_ratio
        # a table never changes (option edits build a new one), so lookups are memoised per table;
        # bounded because model names come from clients
        self._model_memo: dict[tuple[str, int | None], float] = {}
        self._completion_memo: dict[tuple[str, int | None], float] = {}
        self._note_memo: dict[tuple[str, int | None, str, bool], str] = {}
        self._text_memo: dict[tuple[str, int | None, str], tuple[Rational, Rational]] = {}
        self._parts_memo: dict[tuple[str, int | None], ComponentRatios] = {}

    def with_overrides(
        self,
        model_ratio: Mapping[str, float] | None = None,
        completion_ratio: Mapping[str, float] | None = None,
        group_ratio: Mapping[str, float] | None = None,
        components: Mapping[str, Mapping[str, float] | None] | None = None,
        tiers: Mapping[str, Tiers] | None = None,
    ) -> PriceTable:
        """A table whose current ratios are the given option values (None keeps this table's); `components` maps
        a component (rules.components.COMPONENT_OPTIONS) to its option's table."""
        current = dict(self._components)
        for component, table in (components or {}).items():
            if table is not None:
                current[component] = _as_table(table)
        return PriceTable(
            self.defaults,
            _as_table(model_ratio) if model_ratio is not None else self._model_ratio,
            _as_table(completion_ratio) if completion_ratio is not None else self._completion_ratio,
            _as_table(group_ratio) if group_ratio is not None else self._group_ratio,
            current,
            MappingProxyType(dict(tiers)) if tiers is not None else self._tiers,
        )

    # -- ratios ---------------------------------------------------------------------------

    def find_model_ratio(self, model: str, channel_type: int | None = None) -> float | None:
        """The model ratio from a table entry, or None when only the fallback would apply."""
        name = _strip_internet(model, self.defaults.strip_internet_model)
        return _lookup(name, channel_type, self._model_ratio, self.defaults.model_ratio)

    def model_ratio(self, model: str, channel_type: int | None = None) -> float:
        """Model ratio for `model` on channel type `channel_type` (§7.1); unknown models cost 30."""
        key = (model, channel_type)
        ratio = self._model_memo.get(key)
        if ratio is None:
            found = self.find_model_ratio(model, channel_type)
            ratio = self.defaults.fallback_model_ratio if found is None else found
            _remember(self._model_memo, key, ratio)
        return ratio

    def completion_ratio(self, model: str, channel_type: int | None = None) -> float:
        """Completion ratio: table entries (§7.1 order), then the ordered built-in rules, then 1."""
        key = (model, channel_type)
        ratio = self._completion_memo.get(key)
        if ratio is None:
            ratio = self._find_completion_ratio(model, channel_type)
            _remember(self._completion_memo, key, ratio)
        return ratio

    def _find_completion_ratio(self, model: str, channel_type: int | None) -> float:
        name = _strip_internet(model, self.defaults.strip_internet_completion)
        found = _lookup(name, channel_type, self._completion_ratio, self.defaults.completion_ratio)
        if found is not None:
            return found
        for rule in self.defaults.completion_rules:
            if rule.matches(name):
                return rule.ratio
        return self.defaults.fallback_completion_ratio

    def ratio_note(self, model: str, channel_type: int | None, group: str, with_completion: bool) -> str:
        """The ratios a consume log row names (§7.5): "倍率：mr × gr [× cr]", each exactly (0.075, not 0.07)."""
        key = (model, channel_type, group, with_completion)
        note = self._note_memo.get(key)
        if note is None:
            ratios = [self.model_ratio(model, channel_type), self.group_ratio(group)]
            if with_completion:
                ratios.append(self.completion_ratio(model, channel_type))
            note = "倍率：" + " × ".join(exact_ratio(r) for r in ratios)
            _remember(self._note_memo, key, note)
        return note

    def group_ratio(self, group: str) -> float:
        """Ratio of a user group; a group missing from the current table costs 1."""
        return self._group_ratio.get(group, self.defaults.fallback_group_ratio)

    def groups(self) -> list[str]:
        """Names of the current groups (GET /api/group/)."""
        return list(self._group_ratio)

    def component_ratios(self, model: str, channel_type: int | None = None) -> ComponentRatios:
        """The model's part prices (multiples of its input price) and tiers, in the §7.1 lookup order."""
        key = (model, channel_type)
        found = self._parts_memo.get(key)
        if found is None:
            defaults = self.defaults.components
            ratios = {c: _lookup(model, channel_type, self._components.get(c), defaults.ratios.get(c, {}))
                      for c in COMPONENT_OPTIONS}
            keys = [model] if channel_type is None else [f"{model}({channel_type})", model]
            tiers: Tiers = next((table[k] for k in keys for table in (self._tiers, defaults.tiers)
                                 if table is not None and k in table), ())
            found = ComponentRatios(tiers=tiers, **ratios)
            _remember(self._parts_memo, key, found)
        return found

    def charge(self, parts: Parts, model: str, channel_type: int | None, group: str) -> Charge:
        """The settled quota of a text answer as the sum of its parts (rules.charge), with its breakdown. An answer
        of plain input and output below every tier is One API's text quota, taken the fast way (same value)."""
        ratios = self.component_ratios(model, channel_type)
        completion = self.completion_ratio(model, channel_type)
        if parts.plain and ratios.tier_for(parts.prompt) is None:
            quota = self.quota_for(parts.prompt, parts.completion, model, channel_type, group)
            lines = (Line("input", parts.prompt, ONE), Line("output", parts.completion, exact(completion)))
            return Charge(quota, lines, self.model_ratio(model, channel_type), self.group_ratio(group), None)
        return charge(parts, self.model_ratio(model, channel_type), self.group_ratio(group), completion, ratios)

    def _hold_terms(self, model: str, channel_type: int | None, group: str,
                    prompt_tokens: int) -> tuple[Fraction, Fraction, Fraction] | None:
        """(mr × gr, prompt factor, completion factor) of a hold dearer than One API's plain one; None when the
        model has no dearer part or tier (the plain hold is exact then)."""
        ratios = self.component_ratios(model, channel_type)
        completion = self.completion_ratio(model, channel_type)
        pf, cf = hold_factors(completion, ratios, prompt_tokens)
        if pf == 1 and cf == exact(completion):
            return None
        return exact(self.model_ratio(model, channel_type)) * exact(self.group_ratio(group)), pf, cf

    # -- quota ----------------------------------------------------------------------------

    def quota_for(
        self, prompt_tokens: int, completion_tokens: int, model: str, channel_type: int | None, group: str
    ) -> int:
        """Settled quota of a text request (§7.4): ceil((p + c × cr) × mr × gr).

        At least 1 when the ratio is not 0; 0 when no tokens were used at all.
        """
        if prompt_tokens + completion_tokens == 0:
            return 0
        ratio, completion_ratio = self._text_ratios(model, channel_type, group)
        quota = text_quota(prompt_tokens, completion_tokens, completion_ratio, ratio)
        if ratio[0] != 0 and quota <= 0:
            return 1
        return quota

    def pre_consume(
        self,
        prompt_tokens: int,
        max_tokens: int,
        pre_consumed_quota: int,
        model: str,
        channel_type: int | None,
        group: str,
    ) -> int:
        """Quota reserved before a text request (§7.3): (PreConsumedQuota + p + max_tokens) × mr × gr, truncated."""
        tokens = pre_consumed_quota + prompt_tokens + max_tokens
        return tokens_quota(tokens, self._text_ratios(model, channel_type, group)[0])

    def hold(
        self, prompt_tokens: int, completion_tokens: int, pre_consumed_quota: int, model: str,
        channel_type: int | None, group: str,
    ) -> int:
        """What a text request may cost at most: ceil((PreConsumedQuota + p + c × cr) × mr × gr).

        Unlike One API's pre-consumption it prices the completion at its own ratio and rounds up, so it is
        never below the settlement of any answer of at most `completion_tokens` (zero overspend, #14).
        """
        terms = self._hold_terms(model, channel_type, group, prompt_tokens)
        if terms is not None:
            per_quota, pf, cf = terms
            total = ((pre_consumed_quota + prompt_tokens) * pf + completion_tokens * cf) * per_quota
            return -(-total.numerator // total.denominator)
        ratio, completion_ratio = self._text_ratios(model, channel_type, group)
        return text_quota(pre_consumed_quota + prompt_tokens, completion_tokens, completion_ratio, ratio)

    def affordable_completion(
        self, budget: int, prompt_tokens: int, pre_consumed_quota: int, model: str,
        channel_type: int | None, group: str, ceiling: int,
    ) -> int:
        """The most completion tokens (at most `ceiling`) whose `hold` fits in `budget`; -1 if not even the
        prompt does."""
        terms = self._hold_terms(model, channel_type, group, prompt_tokens)
        if terms is not None:
            return _affordable(budget, (pre_consumed_quota + prompt_tokens) * terms[1], terms[2], terms[0], ceiling)
        (rn, rd), (cn, cd) = self._text_ratios(model, channel_type, group)
        fixed = pre_consumed_quota + prompt_tokens
        if rn == 0:
            return ceiling                      # a free model: any answer fits
        room = budget * cd * rd - fixed * cd * rn
        if room < 0:
            return -1
        if cn == 0:
            return ceiling                      # free completions: the prompt fitting is enough
        return min(ceiling, room // (cn * rn))

    def affordable_prompt(
        self, budget: int, pre_consumed_quota: int, model: str, channel_type: int | None, group: str,
    ) -> int:
        """The most prompt tokens whose `hold` (with no answer) fits in `budget`; -1 if none do."""
        (rn, rd), _ = self._text_ratios(model, channel_type, group)
        if rn == 0:
            return 1 << 62                      # a free model: any prompt fits
        plain = budget * rd // rn - pre_consumed_quota if budget >= 0 else -1
        if self._hold_terms(model, channel_type, group, 0) is None and not self.component_ratios(
                model, channel_type).tiers:
            return plain
        # dearer parts or tiers: the most prompt tokens whose hold with no answer fits (the hold grows with them)
        low, high = -1, max(plain, 0)
        while low < high:
            mid = (low + high + 1) // 2
            if self.hold(mid, 0, pre_consumed_quota, model, channel_type, group) <= budget:
                low = mid
            else:
                high = mid - 1
        return low

    def _text_ratios(self, model: str, channel_type: int | None, group: str) -> tuple[Rational, Rational]:
        """(mr × gr, cr) as exact fractions: every text request of a model and group needs the same two."""
        key = (model, channel_type, group)
        found = self._text_memo.get(key)
        if found is None:
            found = (rational(product(self.model_ratio(model, channel_type), self.group_ratio(group))),
                     rational(dec(self.completion_ratio(model, channel_type))))
            _remember(self._text_memo, key, found)
        return found

    def image_rule(self, model: str) -> ImageRule | None:
        """Validation and size pricing rules of an image model, None if it has none."""
        return self.defaults.image_rules.get(model)

    def image_cost(
        self, model: str, size: str, quality: str, n: int, group: str, channel_type: int | None = None
    ) -> int:
        """Quota of an image request (§7.6): floor(mr × gr × size ratio × hd × 1000) × n.

        Channel types listed in single_charge_channel_types (Replicate) are charged for one image.
        """
        rule = self.image_rule(model) or ImageRule(model)
        one = trunc_int(
            product(
                self.model_ratio(model, channel_type),
                self.group_ratio(group),
                rule.size_ratio(size),
                rule.quality_multiplier(size, quality),
                1000,
            )
        )
        return one if channel_type in self.defaults.single_charge_channel_types else one * n

    @property
    def audio(self) -> AudioRules:
        return self.defaults.audio

    def speech_cost(self, model: str, input_bytes: int, channel_type: int | None, group: str) -> int:
        """Quota of a text-to-speech request (§7.7): UTF-8 bytes of input × mr × gr, truncated."""
        return trunc_int(product(input_bytes, self.model_ratio(model, channel_type), self.group_ratio(group)))

    def transcription_pre_consume(self, pre_consumed_quota: int, channel_type: int | None, group: str) -> int:
        """Quota reserved for a transcription/translation (§7.7), priced as the billing model (whisper-1)."""
        model = self.defaults.audio.transcription_billing_model
        return trunc_int(
            product(pre_consumed_quota, self.model_ratio(model, channel_type), self.group_ratio(group))
        )

    # -- option defaults --------------------------------------------------------------------

    def default_model_ratio_json(self) -> str:
        """Default value of option ModelRatio, as Go's json.Marshal writes it."""
        return go_json_object(self.defaults.model_ratio)

    def default_completion_ratio_json(self) -> str:
        """Default value of option CompletionRatio."""
        return go_json_object(self.defaults.completion_ratio)

    def default_group_ratio_json(self) -> str:
        """Default value of option GroupRatio."""
        return go_json_object(self.defaults.group_ratio)

    def default_component_options(self) -> dict[str, str]:
        """Default values of the part-price options (CacheReadRatio … AudioOutputRatio, LongContextRatio)."""
        parts = self.defaults.components
        out = {option: go_json_object(parts.ratios.get(component, {}))
               for component, option in COMPONENT_OPTIONS.items()}
        out[TIER_OPTION] = tiers_json(parts.tiers)
        return out


def load_prices(path: Path | None = None) -> PriceTable:
    """Load and validate a prices file; the shipped prices.toml (path None) is loaded once."""
    if path is None:
        return _default_prices()
    return PriceTable(_defaults_from(Path(path)))


def _defaults_from(path: Path) -> PriceDefaults:
    """prices.toml and, beside it, component_prices.toml (the part prices and the models sold today)."""
    raw = parse_prices_file(path)
    rules = tuple(CompletionRule(**rule) for rule in raw.completion_rules)
    parts_path = path.with_name("component_prices.toml")
    components = load_components(parts_path) if parts_path.exists() else PriceDefaults.components
    return PriceDefaults(
        model_ratio=MappingProxyType(merge_base(parts_path, "model_ratio", raw.model_ratio, components.model_ratio)),
        completion_ratio=MappingProxyType(merge_base(parts_path, "completion_ratio", raw.completion_ratio,
                                                     components.completion_ratio)),
        completion_rules=rules,
        group_ratio=MappingProxyType(raw.group_ratio),
        fallback_model_ratio=raw.fallback["model_ratio"],
        fallback_completion_ratio=raw.fallback["completion_ratio"],
        fallback_group_ratio=raw.fallback["group_ratio"],
        strip_internet_model=raw.strip_internet["model_ratio"],
        strip_internet_completion=raw.strip_internet["completion_ratio"],
        image_rules=MappingProxyType(raw.image_rules),
        single_charge_channel_types=frozenset(raw.single_charge_channel_types),
        audio=AudioRules(**raw.audio),
        components=components,
    )


@lru_cache(maxsize=1)
def _default_prices() -> PriceTable:
    return PriceTable(_defaults_from(DEFAULT_PRICES_PATH))

