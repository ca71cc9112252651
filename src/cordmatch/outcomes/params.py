"""Parameters of the engraftment model: typed, validated, and fitted once on load.

The figures live in ``parameters.toml`` next to this module; the thin loader :func:`load_parameters`
reads it through ``importlib.resources`` (the only I/O in ``cordmatch.outcomes``). Everything else here
is pure: :func:`build_parameters` turns a parsed mapping into :class:`ModelParameters`, checks that the
monotonicity guarantees hold (dose exponents > 0, HLA tables non-increasing with mismatches, DSA never
faster) and fits each graft type's baseline curve to its reference cohort.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from statistics import NormalDist
from typing import Any

from cordmatch.errors import InvalidInputError
from cordmatch.sourced import Sourced, Status

_NORMAL = NormalDist()


#: One number of the model with its source and [V]/[U] status.
Figure = Sourced


@dataclass(frozen=True, slots=True)
class DoseEffect:
    """Hazard ratio of neutrophil recovery as a power of the dose relative to a reference dose."""

    published_hr_low: Figure
    low_group_dose: Figure
    high_group_dose: Figure
    ceiling_ratio: Figure
    data_range: tuple[float, float]

    beta: float = 0.0  # set by _dose: ln(HR_low) / ln(low_group_dose / high_group_dose)

    def hr(self, dose: float, reference: float) -> float:
        """HR relative to ``reference`` (1.0 at the reference dose); never decreases with dose."""
        ratio = min(dose / reference, self.ceiling_ratio.value)
        return float(ratio**self.beta)


@dataclass(frozen=True, slots=True)
class HlaTable:
    """HR multipliers by number of matched positions (e.g. 8/8 -> 1.0)."""

    total: int
    hr: tuple[float, ...]  # index = matched count, 0..total
    source: str
    status: str
    note: str

    def lookup(self, matched: int) -> float:
        return self.hr[matched]


@dataclass(frozen=True, slots=True)
class Baseline:
    """Fitted baseline curve of one graft type, and the cohort it reproduces."""

    cohort: str
    median_days: Figure
    incidence_day42: Figure
    reference_tnc: Figure
    reference_cd34: Figure
    cohort_hr: float  # HR of the cohort's typical covariates (its HLA mix) relative to the reference
    p0: float  # plateau of the baseline cumulative incidence (fitted)
    mu: float  # log-median of the baseline lognormal (fitted)


@dataclass(frozen=True, slots=True)
class DsaEffect:
    """Effect of donor-specific antibodies: a time ratio and subdistribution HRs (one/both units)."""

    median_days_without: Figure
    median_days_with: Figure
    graft_failure_none: Figure
    graft_failure_one_unit: Figure
    graft_failure_both_units: Figure
    mfi_threshold: Figure
    time_ratio: float = 1.0  # fitted by build_parameters (see fit_dsa_time_ratio)

    @property
    def published_median_ratio(self) -> float:
        """Published median engraftment day with DSA / without DSA."""
        return self.median_days_with.value / self.median_days_without.value

    def hr(self, both_units: bool) -> float:
        """Subdistribution HR such that graft failure moves from 'none' to 'one' (or 'both') units."""
        failed = self.graft_failure_both_units if both_units else self.graft_failure_one_unit
        return math.log(failed.value) / math.log(self.graft_failure_none.value)


@dataclass(frozen=True, slots=True)
class ModelParameters:
    """Everything the engraftment model needs; built by :func:`build_parameters`."""

    version: int
    sigma: Figure
    lower_quantile: float
    upper_quantile: float
    single: Baseline
    double: Baseline
    tnc: DoseEffect
    cd34: DoseEffect
    match_8: HlaTable
    match_6: HlaTable
    apply_hla_to_double: bool
    dsa: DsaEffect
    sources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Highest probability of engraftment credited, however large the dose (1.0 = no ceiling).
    max_engraftment: Figure = field(default_factory=lambda: Figure(1.0, "none", Status.UNVERIFIED))


def _figure(raw: Any, where: str) -> Figure:
    if not isinstance(raw, Mapping) or "value" not in raw:
        raise InvalidInputError("parameter needs value, source and status", where=where)
    status = str(raw.get("status", ""))
    if status not in tuple(Status):
        raise InvalidInputError(f"status must be 'V' or 'U', got {status!r}", where=where)
    value = raw["value"]
    if not isinstance(value, int | float):
        raise InvalidInputError("value must be a number", where=where)
    return Figure(float(value), str(raw.get("source", "")), Status(status), str(raw.get("note", "")))


def _range(raw: Any, where: str) -> tuple[float, float]:
    value = raw.get("value") if isinstance(raw, Mapping) else None
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidInputError("data_range must be [low, high]", where=where)
    return float(value[0]), float(value[1])


def _dose(raw: Mapping[str, Any], where: str) -> DoseEffect:
    effect = DoseEffect(
        published_hr_low=_figure(raw["published_hr_low"], f"{where}.published_hr_low"),
        low_group_dose=_figure(raw["low_group_dose"], f"{where}.low_group_dose"),
        high_group_dose=_figure(raw["high_group_dose"], f"{where}.high_group_dose"),
        ceiling_ratio=_figure(raw["ceiling_ratio"], f"{where}.ceiling_ratio"),
        data_range=_range(raw["data_range"], f"{where}.data_range"),
    )
    if not 0 < effect.published_hr_low.value < 1:
        raise InvalidInputError("the low-dose HR must lie in (0, 1)", where=where)
    if not 0 < effect.low_group_dose.value < effect.high_group_dose.value:
        raise InvalidInputError("low_group_dose must be positive and below high_group_dose", where=where)
    if effect.ceiling_ratio.value < 1:
        raise InvalidInputError("ceiling_ratio must be >= 1", where=where)
    # Exponent such that HR(low dose) / HR(high dose) equals the published threshold HR; > 0 here.
    beta = math.log(effect.published_hr_low.value) / math.log(
        effect.low_group_dose.value / effect.high_group_dose.value
    )
    return replace(effect, beta=beta)


def _hla(raw: Mapping[str, Any], total: int, where: str) -> HlaTable:
    table = raw.get("hr", {})
    try:
        hr = tuple(float(table[str(k)]) for k in range(total + 1))
    except KeyError as exc:
        raise InvalidInputError(f"HR missing for {exc.args[0]}/{total}", where=where) from None
    if any(h <= 0 for h in hr):
        raise InvalidInputError("HLA HRs must be positive", where=where)
    # Monotonicity by construction: more matched positions never lower the HR.
    if any(hr[k] > hr[k + 1] for k in range(total)):
        raise InvalidInputError("HLA HRs must not decrease as the match count rises", where=where)
    return HlaTable(total, hr, str(raw.get("source", "")), str(raw.get("status", "U")), str(raw.get("note", "")))


def _conditional_median_g(p0: float, h: float) -> float:
    """Baseline lognormal CDF value at the median engraftment day among engrafters."""
    plateau = 1.0 - float((1.0 - p0) ** h)
    return (1.0 - float((1.0 - 0.5 * plateau) ** (1.0 / h))) / p0


def fit_baseline(median_days: float, incidence_day42: float, sigma: float, cohort_hr: float) -> tuple[float, float]:
    """Fit (p0, mu) so that the model at the cohort's HR gives its median and day-42 incidence.

    The median is the median engraftment day among patients who engraft (as cohorts report it).
    Solved by bisection on p0 (mu follows in closed form for each p0). Pure and deterministic.
    """
    if not 0 < incidence_day42 < 1:
        raise InvalidInputError("incidence_day42 must lie in (0, 1)", where="baseline")

    def mu_for(p0: float) -> float:
        return math.log(median_days) - sigma * _NORMAL.inv_cdf(_conditional_median_g(p0, cohort_hr))

    def day42(p0: float) -> float:
        g = _NORMAL.cdf((math.log(42.0) - mu_for(p0)) / sigma)
        return 1.0 - float((1.0 - p0 * g) ** cohort_hr)

    lo, hi = 1e-6, 1.0 - 1e-9
    if not day42(lo) < incidence_day42 < day42(hi):
        raise InvalidInputError(
            f"cannot fit median {median_days} d with day-42 incidence {incidence_day42}", where="baseline"
        )
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if day42(mid) < incidence_day42:
            lo = mid
        else:
            hi = mid
    p0 = 0.5 * (lo + hi)
    return p0, mu_for(p0)


def _conditional_median(p0: float, mu: float, sigma: float, h: float) -> float:
    return math.exp(mu + sigma * _NORMAL.inv_cdf(_conditional_median_g(p0, h)))


def fit_dsa_time_ratio(dsa: DsaEffect, baseline: Baseline, sigma: float) -> float:
    """Time ratio a such that, on the double-unit baseline, DSA moves the median by the published ratio.

    The subdistribution HR of DSA already delays the median a little; a supplies the rest.
    """
    without = _conditional_median(baseline.p0, baseline.mu, sigma, 1.0)
    with_hr = _conditional_median(baseline.p0, baseline.mu, sigma, dsa.hr(False))
    return dsa.published_median_ratio * without / with_hr


def _cohort_hla_hr(table: HlaTable, distribution: list[float]) -> float:
    """Geometric-mean HR of a cohort whose mismatch counts follow ``distribution`` (0, 1, 2, ...)."""
    total = sum(distribution)
    log_hr = sum(share * math.log(table.lookup(table.total - k)) for k, share in enumerate(distribution))
    return math.exp(log_hr / total)


def build_parameters(raw: Mapping[str, Any]) -> ModelParameters:
    """Validate a parsed parameters mapping and fit the baselines. Raises InvalidInputError."""
    try:
        sigma = _figure(raw["shape"]["sigma"], "shape.sigma")
        interval = raw["interval"]
        match_8 = _hla(raw["hla"]["match_8"], 8, "hla.match_8")
        match_6 = _hla(raw["hla"]["match_6"], 6, "hla.match_6")
        distribution = [float(x) for x in raw["hla"]["match_8"]["cohort_mismatch_distribution"]]
        apply_double = bool(raw["hla"]["double"]["apply_hla"]["value"])
        dsa_raw = raw["dsa"]
        dsa = DsaEffect(
            median_days_without=_figure(dsa_raw["median_days_without"], "dsa.median_days_without"),
            median_days_with=_figure(dsa_raw["median_days_with"], "dsa.median_days_with"),
            graft_failure_none=_figure(dsa_raw["graft_failure_none"], "dsa.graft_failure_none"),
            graft_failure_one_unit=_figure(dsa_raw["graft_failure_one_unit"], "dsa.graft_failure_one_unit"),
            graft_failure_both_units=_figure(dsa_raw["graft_failure_both_units"], "dsa.graft_failure_both_units"),
            mfi_threshold=_figure(dsa_raw["mfi_threshold"], "dsa.mfi_threshold"),
        )
        tnc = _dose(raw["dose"]["tnc"], "dose.tnc")
        cd34 = _dose(raw["dose"]["cd34"], "dose.cd34")
        baselines: dict[str, Baseline] = {}
        for kind in ("single", "double"):
            b = raw["baseline"][kind]
            median = _figure(b["median_days"], f"baseline.{kind}.median_days")
            inc42 = _figure(b["incidence_day42"], f"baseline.{kind}.incidence_day42")
            cohort_hr = _cohort_hla_hr(match_8, distribution) if kind == "single" or apply_double else 1.0
            p0, mu = fit_baseline(median.value, inc42.value, sigma.value, cohort_hr)
            baselines[kind] = Baseline(
                cohort=str(b["cohort"]),
                median_days=median,
                incidence_day42=inc42,
                reference_tnc=_figure(b["reference_tnc"], f"baseline.{kind}.reference_tnc"),
                reference_cd34=_figure(b["reference_cd34"], f"baseline.{kind}.reference_cd34"),
                cohort_hr=cohort_hr,
                p0=p0,
                mu=mu,
            )
    except KeyError as exc:
        raise InvalidInputError(f"missing parameter {exc.args[0]!r}", where="parameters.toml") from None
    dsa = replace(dsa, time_ratio=fit_dsa_time_ratio(dsa, baselines["double"], sigma.value))
    if dsa.time_ratio < 1 or dsa.hr(False) > 1 or dsa.hr(True) > dsa.hr(False):
        raise InvalidInputError("DSA must never speed engraftment", where="dsa")
    if sigma.value <= 0:
        raise InvalidInputError("sigma must be positive", where="shape.sigma")
    lower, upper = float(interval["lower_quantile"]), float(interval["upper_quantile"])
    if not 0 < lower < 0.5 < upper < 1:
        raise InvalidInputError("interval quantiles must satisfy 0 < lower < 0.5 < upper < 1", where="interval")
    sources = {k: {kk: str(vv) for kk, vv in v.items()} for k, v in raw.get("sources", {}).items()}
    ceiling_raw = raw.get("ceiling", {}).get("max_engraftment")
    ceiling = _figure(ceiling_raw, "ceiling.max_engraftment") if ceiling_raw else Figure(1.0, "none", Status.UNVERIFIED)
    if not 0.5 < ceiling.value <= 1.0:
        raise InvalidInputError("max_engraftment must be in (0.5, 1]", where="ceiling.max_engraftment")
    return ModelParameters(
        max_engraftment=ceiling,
        version=int(raw.get("meta", {}).get("version", 0)),
        sigma=sigma,
        lower_quantile=lower,
        upper_quantile=upper,
        single=baselines["single"],
        double=baselines["double"],
        tnc=tnc,
        cd34=cd34,
        match_8=match_8,
        match_6=match_6,
        apply_hla_to_double=apply_double,
        dsa=dsa,
        sources=sources,
    )


def read_parameters_text() -> str:
    """The text of the packaged ``parameters.toml`` (thin loader: the module's only I/O)."""
    return resources.files("cordmatch.outcomes").joinpath("parameters.toml").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def load_parameters() -> ModelParameters:
    """The packaged parameters, parsed, validated and fitted once per process."""
    return build_parameters(tomllib.loads(read_parameters_text()))
