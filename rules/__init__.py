"""Declarative rules: the channel-type catalog and the price tables, loaded from TOML data.

Needs only the standard library. A bad data file raises RulesError naming file, entry and problem.
"""

from .auto_disable import AutoDisable, load_auto_disable
from .catalog import API_STYLES, AUTH_STYLES, Catalog, ChannelType, load_catalog
from .channel_form import BalanceSource, ChannelForm
from .charge import Charge, Parts
from .components import COMPONENT_OPTIONS, TIER_OPTION, ratio_table, tier_table
from .errors import RulesError
from .images import ImageRule
from .max_output import MaxOutput, load_max_output
from .model_object import MODEL_CREATED, model_object
from .prices import AudioRules, CompletionRule, PriceDefaults, PriceTable, load_prices

__all__ = [
    "API_STYLES",
    "AUTH_STYLES",
    "COMPONENT_OPTIONS",
    "TIER_OPTION",
    "Charge",
    "Parts",
    "ratio_table",
    "tier_table",
    "MODEL_CREATED",
    "AudioRules",
    "AutoDisable",
    "BalanceSource",
    "Catalog",
    "ChannelForm",
    "ChannelType",
    "CompletionRule",
    "ImageRule",
    "MaxOutput",
    "PriceDefaults",
    "PriceTable",
    "RulesError",
    "load_auto_disable",
    "load_catalog",
    "load_max_output",
    "load_prices",
    "model_object",
]
