"""Cord blood unit selection (pure core): settings with source labels, policies, virtual crossmatch, the
search index and the ranked, explained search."""

from cordmatch.selection.crossmatch import AntibodyProfile, parse_antibodies
from cordmatch.selection.index import UnitColumns, UnitIndex
from cordmatch.selection.model import (
    Antibody,
    DoubleUnit,
    Explanation,
    Patient,
    RankedUnit,
    RuleCheck,
    SearchOutcome,
    UnitRecord,
)
from cordmatch.selection.search import DictSource, UnitSource, prepare, search, top_slots
from cordmatch.selection.settings import SelectionSettings, Threshold, default_settings, settings_from_toml

__all__ = [
    "Antibody",
    "AntibodyProfile",
    "DictSource",
    "DoubleUnit",
    "Explanation",
    "Patient",
    "RankedUnit",
    "RuleCheck",
    "SearchOutcome",
    "SelectionSettings",
    "Threshold",
    "UnitColumns",
    "UnitIndex",
    "UnitRecord",
    "UnitSource",
    "default_settings",
    "parse_antibodies",
    "prepare",
    "search",
    "settings_from_toml",
    "top_slots",
]
