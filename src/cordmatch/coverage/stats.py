"""Shares with binomial confidence intervals, and the report of one coverage run (JSON-ready dicts)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cordmatch.coverage.engine import LEVELS, PatientCoverage

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial share (Wilson 1927); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo = 0.0 if successes == 0 else max(0.0, min(p, centre - half))  # exact ends; no rounding past p
    hi = 1.0 if successes == n else min(1.0, max(p, centre + half))
    return lo, hi


def _share(hits: np.ndarray[Any, Any]) -> tuple[float, list[float]]:
    n, k = len(hits), int(np.count_nonzero(hits))
    lo, hi = wilson(k, n)
    return (k / n if n else 0.0), [round(lo, 6), round(hi, 6)]


def summarise(cov: PatientCoverage, population: str, rows: np.ndarray[Any, Any] | None = None) -> dict[str, Any]:
    """The report keys: ``patients``, ``population``, ``p_at_least`` and ``p_at_least_with_dose`` (keyed by
    LEVELS; the latter None without dose), ``p_double``, ``median_units`` (per level, without dose),
    ``median_units_with_dose``, ``ci95`` (Wilson intervals of every share, same layout)."""
    sel = np.arange(len(cov)) if rows is None else np.asarray(rows)
    count = cov.count[sel]
    out: dict[str, Any] = {"patients": len(sel), "population": population}
    ci: dict[str, Any] = {}
    p_at: dict[str, float] = {}
    ci_at: dict[str, list[float]] = {}
    for i, level in enumerate(LEVELS):
        p_at[level], ci_at[level] = _share(count[:, i] > 0)
    out["p_at_least"] = _rounded(p_at)
    ci["p_at_least"] = ci_at
    if cov.count_dose is not None and cov.double is not None:
        dose = cov.count_dose[sel]
        p_d: dict[str, float] = {}
        ci_d: dict[str, list[float]] = {}
        for i, level in enumerate(LEVELS):
            p_d[level], ci_d[level] = _share(dose[:, i] > 0)
        out["p_at_least_with_dose"] = _rounded(p_d)
        ci["p_at_least_with_dose"] = ci_d
        p_double, ci["p_double"] = _share(cov.double[sel])
        out["p_double"] = round(p_double, 6)
        single_or_double, ci["p_single_or_double"] = _share(cov.double[sel] | (dose[:, 0] > 0))
        out["p_single_or_double"] = round(single_or_double, 6)
        out["median_units_with_dose"] = _medians(dose)
    else:
        out["p_at_least_with_dose"] = None
        out["p_double"] = None
        out["p_single_or_double"] = None
        out["median_units_with_dose"] = None
    out["median_units"] = _medians(count)
    out["ci95"] = ci
    return out


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in d.items()}


def _medians(count: np.ndarray[Any, Any]) -> dict[str, float]:
    if len(count) == 0:
        return dict.fromkeys(LEVELS, 0.0)
    return {level: float(np.median(count[:, i])) for i, level in enumerate(LEVELS)}
