"""Outcomes (pure core): neutrophil engraftment estimates and the indications table.

No I/O besides reading the packaged parameter and data files once through importlib.resources.
"""

from cordmatch.outcomes.engraftment import (
    EngraftmentCurve,
    EngraftmentEstimate,
    EngraftmentInputs,
    Factor,
    InfectionWindow,
    cumulative_incidence_curve,
    estimate,
    estimate_for_search_result,
)
from cordmatch.outcomes.indications import IndicationLookup, load_indications, lookup_indication
from cordmatch.outcomes.params import ModelParameters, load_parameters

__all__ = [
    "EngraftmentCurve",
    "EngraftmentEstimate",
    "EngraftmentInputs",
    "Factor",
    "IndicationLookup",
    "InfectionWindow",
    "ModelParameters",
    "cumulative_incidence_curve",
    "estimate",
    "estimate_for_search_result",
    "load_indications",
    "load_parameters",
    "lookup_indication",
]
