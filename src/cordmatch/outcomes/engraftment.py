"""Neutrophil engraftment after cord blood transplantation: time, day-42 probability, neutropenic window.

Model (docs/adr/0300-engraftment-model.md, docs/outcomes.md). For a graft type (single or double unit)
the baseline cumulative incidence of neutrophil engraftment is a lognormal cure-fraction curve

    F0(t) = p0 * Phi((ln t - mu) / sigma)

fitted to a published reference cohort. The patient's curve is

    F(t) = 1 - (1 - F0(t / a)) ** h

with h the product of hazard-ratio multipliers (cell dose, HLA match, DSA; proportional
subdistribution hazards as in the Fine-Gray regressions the HRs come from) and a >= 1 a time ratio
(DSA only). Larger h raises F at every day and shortens every quantile among engrafters; larger a
delays every day. Each multiplier moves the right way with its covariate, so the monotonicity promises
(more cells never slower, more mismatches or DSA never faster) hold by construction.

Why larger h means earlier quantiles among engrafters: with u = F0(t/a) < p0 fixed, the conditional CDF
is C = (1 - (1-u)^h) / (1 - (1-p0)^h). Writing x^h = exp(-z), z = h ln(1/x), gives
d/dh ln(1 - x^h) = z / (h (e^z - 1)), which decreases in z; since 1-u > 1-p0, d ln C / dh > 0, so C
rises at every day and every quantile falls. The plateau 1 - (1-p0)^h and F(42) rise with h directly.

Cell doses are per kg recipient weight: TNC in 1e7 cells/kg, CD34+ in 1e5 cells/kg; for a double
graft give the combined dose of both units. Days count from the day of infusion (day 0).
Pure: no I/O besides the packaged parameters loaded once by ``params.load_parameters``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist
from typing import Any

from cordmatch.errors import InvalidInputError
from cordmatch.outcomes.params import Baseline, ModelParameters, load_parameters

_NORMAL = NormalDist()
AGE_GROUPS = ("child", "adult")


@dataclass(frozen=True, slots=True)
class EngraftmentInputs:
    """What the estimate depends on. Doses per kg recipient weight (combined for a double graft)."""

    tnc_per_kg: float  # 1e7 total nucleated cells / kg (pre-cryopreservation)
    cd34_per_kg: float | None = None  # 1e5 CD34+ cells / kg
    match_8: int | None = None  # bidirectional allele-level matches at A, B, C, DRB1 (0-8)
    match_6: int | None = None  # bidirectional matches, A/B antigen + DRB1 allele (0-6)
    double_unit: bool = False
    dsa: bool = False  # patient has donor-specific anti-HLA antibodies against the (a) unit
    dsa_mfi: float | None = None  # strongest DSA, mean fluorescence intensity
    dsa_both_units: bool = False  # double graft: DSA against both units
    weight_kg: float | None = None
    malignant: bool | None = None
    age_group: str | None = None  # "child" or "adult"

    def validate(self) -> None:
        """Raise InvalidInputError naming the field when a value is impossible."""
        _positive(self.tnc_per_kg, "tnc_per_kg", "TNC dose (x10^7 cells/kg)")
        if self.cd34_per_kg is not None:
            _positive(self.cd34_per_kg, "cd34_per_kg", "CD34+ dose (x10^5 cells/kg)")
        _count(self.match_8, 8, "match_8")
        _count(self.match_6, 6, "match_6")
        if self.dsa_mfi is not None and not (math.isfinite(self.dsa_mfi) and self.dsa_mfi >= 0):
            raise InvalidInputError(f"DSA MFI must be a number >= 0, got {self.dsa_mfi}", where="dsa_mfi")
        if self.dsa_both_units and not self.double_unit:
            raise InvalidInputError("DSA against both units needs a double-unit graft", where="dsa_both_units")
        if self.weight_kg is not None:
            _positive(self.weight_kg, "weight_kg", "weight (kg)")
        if self.age_group is not None and self.age_group not in AGE_GROUPS:
            raise InvalidInputError(
                f"age group must be one of {', '.join(AGE_GROUPS)}, got {self.age_group!r}", where="age_group"
            )


def _positive(value: float, where: str, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"{what} must be a positive number, got {value!r}", where=where)


def _count(value: int | None, total: int, where: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= total:
        raise InvalidInputError(
            f"HLA match count x/{total} must be a whole number 0-{total}, got {value!r}", where=where
        )


@dataclass(frozen=True, slots=True)
class EngraftmentCurve:
    """The patient's cumulative incidence curve F(t) = 1 - (1 - p0 G((t/a))) ** h."""

    p0: float
    mu: float
    sigma: float
    hazard_ratio: float
    time_ratio: float
    #: Ceiling on the plateau: the curve is scaled down so that it never exceeds this.
    max_eventual: float = 1.0

    @property
    def _raw_eventual(self) -> float:
        return 1.0 - float((1.0 - self.p0) ** self.hazard_ratio)

    @property
    def eventual_probability(self) -> float:
        """Probability of neutrophil engraftment at all (the curve's plateau, at most ``max_eventual``)."""
        return min(self._raw_eventual, self.max_eventual)

    def cumulative_incidence(self, day: float) -> float:
        """Probability of neutrophil engraftment by ``day`` (days after infusion)."""
        if day <= 0:
            return 0.0
        g = _NORMAL.cdf((math.log(day / self.time_ratio) - self.mu) / self.sigma)
        raw = 1.0 - float((1.0 - self.p0 * g) ** self.hazard_ratio)
        return raw * self.eventual_probability / self._raw_eventual

    def quantile_among_engrafters(self, q: float) -> float:
        """Day by which a fraction ``q`` of the patients who engraft have engrafted (closed form)."""
        h = self.hazard_ratio
        g = (1.0 - (1.0 - q * self._raw_eventual) ** (1.0 / h)) / self.p0
        g = min(max(g, 1e-12), 1.0 - 1e-12)
        return self.time_ratio * math.exp(self.mu + self.sigma * _NORMAL.inv_cdf(g))

    def to_dict(self) -> dict[str, float]:
        return {
            "p0": self.p0,
            "mu": self.mu,
            "sigma": self.sigma,
            "hazard_ratio": self.hazard_ratio,
            "time_ratio": self.time_ratio,
        }


@dataclass(frozen=True, slots=True)
class Factor:
    """One multiplier of the estimate and where its figure comes from."""

    name: str
    hazard_ratio: float
    time_ratio: float
    source: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "hazard_ratio": round(self.hazard_ratio, 4),
            "time_ratio": round(self.time_ratio, 4),
            "source": self.source,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class InfectionWindow:
    """Neutropenic window: from infusion (day 0) to the estimated neutrophil engraftment."""

    start_day: int
    end_day_median: float
    end_day_interval: tuple[float, float]
    p_neutropenic_day28: float
    p_neutropenic_day42: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_day": self.start_day,
            "end_day_median": round(self.end_day_median, 1),
            "end_day_interval": [round(x, 1) for x in self.end_day_interval],
            "length_days_median": round(self.end_day_median - self.start_day, 1),
            "p_neutropenic_day28": round(self.p_neutropenic_day28, 4),
            "p_neutropenic_day42": round(self.p_neutropenic_day42, 4),
        }


@dataclass(frozen=True, slots=True)
class EngraftmentEstimate:
    """Estimated neutrophil engraftment for one graft. Days after infusion; probabilities 0-1."""

    inputs: EngraftmentInputs
    graft: str  # "single" or "double"
    median_days: float  # median engraftment day among patients who engraft
    interval_days: tuple[float, float]  # e.g. 10th-90th percentile among engrafters
    interval_quantiles: tuple[float, float]
    p_engraft_day42: float
    p_engraft_eventual: float
    infection_window: InfectionWindow
    curve: EngraftmentCurve
    factors: tuple[Factor, ...]
    warnings: tuple[str, ...] = ()
    _cohort: str = field(default="", repr=False)

    @property
    def explanations(self) -> list[str]:
        """Plain-language sentences naming the sources behind the figures (built on demand)."""
        lo, hi = self.interval_days
        qlo, qhi = (round(100 * q) for q in self.interval_quantiles)
        lines = [
            f"Estimated neutrophil engraftment around day {self.median_days:.0f} after infusion "
            f"({qlo}-{qhi}% of engrafting patients between day {lo:.0f} and day {hi:.0f}); "
            f"probability of engraftment by day 42: {100 * self.p_engraft_day42:.0f}%.",
            f"Baseline: {self.graft}-unit cord blood cohort {self._cohort}, refitted to its published "
            "median and day-42 incidence.",
        ]
        for f in self.factors:
            effect = []
            if f.hazard_ratio != 1.0:
                effect.append(f"hazard ratio {f.hazard_ratio:.2f}")
            if f.time_ratio != 1.0:
                effect.append(f"days x{f.time_ratio:.2f}")
            lines.append(f"{f.detail} ({', '.join(effect) or 'no effect'}; {f.source}).")
        lines.append(
            f"Infection-risk window: neutropenia from day 0 to about day {self.median_days:.0f} "
            f"(day {lo:.0f}-{hi:.0f}); blood infections are most likely in this window. "
            "No retrieved source gives infection rates by dose or HLA match [U]."
        )
        lines.extend(self.warnings)
        lines.append(
            "Decision support only: a population estimate from published cohorts, not a prediction for "
            "this patient; [U] figures are assumptions to be reviewed by the transplant centre."
        )
        return lines

    def to_dict(self) -> dict[str, Any]:
        i = self.inputs
        return {
            "inputs": {
                "tnc_per_kg_e7": i.tnc_per_kg,
                "cd34_per_kg_e5": i.cd34_per_kg,
                "match_8": i.match_8,
                "match_6": i.match_6,
                "double_unit": i.double_unit,
                "dsa": i.dsa,
                "dsa_mfi": i.dsa_mfi,
                "dsa_both_units": i.dsa_both_units,
                "weight_kg": i.weight_kg,
                "malignant": i.malignant,
                "age_group": i.age_group,
            },
            "graft": self.graft,
            "median_days": round(self.median_days, 1),
            "interval_days": [round(x, 1) for x in self.interval_days],
            "interval_quantiles": list(self.interval_quantiles),
            "p_engraft_day42": round(self.p_engraft_day42, 4),
            "p_engraft_eventual": round(self.p_engraft_eventual, 4),
            "infection_window": self.infection_window.to_dict(),
            "hazard_ratio": round(self.curve.hazard_ratio, 4),
            "time_ratio": round(self.curve.time_ratio, 4),
            "factors": [f.to_dict() for f in self.factors],
            "warnings": list(self.warnings),
            "explanations": self.explanations,
            "curve": self.curve.to_dict(),
        }


def _dose_factor(name: str, dose: float, reference_fig: Any, effect: Any, unit: str, warnings: list[str]) -> Factor:
    reference = reference_fig.value
    hr = effect.hr(dose, reference)
    low, high = effect.data_range
    if not low <= dose <= high:
        warnings.append(
            f"{name} {dose:g} {unit} is outside the range of the source cohorts ({low:g}-{high:g}); "
            "the estimate is an extrapolation."
        )
    if dose / reference > effect.ceiling_ratio.value:
        detail = f"{name} {dose:g} {unit}: no further benefit credited above {effect.ceiling_ratio.value:g}x"
    else:
        detail = f"{name} {dose:g} {unit} vs reference {reference:g}"
    source = (
        f"{effect.published_hr_low.label}: HR {effect.published_hr_low.value:g} for low dose; "
        f"reference {reference_fig.label}; dose-response form [U]"
    )
    return Factor(name, hr, 1.0, source, detail)


#: Said on every single-unit estimate: the dose hazard ratios are double-unit figures.
SINGLE_UNIT_DOSE_EXTRAPOLATED = (
    "Single unit: the TNC and CD34+ dose effects are hazard ratios from double-unit grafts (Sanz 2020, 1375 "
    "adults); applied to one unit they are an extrapolation, not re-derived from single-unit cohorts [U]."
)


def estimate(inputs: EngraftmentInputs, params: ModelParameters | None = None) -> EngraftmentEstimate:
    """Estimate neutrophil engraftment for ``inputs``. Raises InvalidInputError on impossible input."""
    inputs.validate()
    p = params or load_parameters()
    base: Baseline = p.double if inputs.double_unit else p.single
    graft = "double" if inputs.double_unit else "single"
    warnings: list[str] = []
    factors: list[Factor] = [_dose_factor("TNC", inputs.tnc_per_kg, base.reference_tnc, p.tnc, "x10^7/kg", warnings)]
    if inputs.cd34_per_kg is not None:
        factors.append(_dose_factor("CD34+", inputs.cd34_per_kg, base.reference_cd34, p.cd34, "x10^5/kg", warnings))
    else:
        factors.append(
            Factor("CD34+", 1.0, 1.0, "assumption [U]", "CD34+ dose not given: taken as typical of the cohort")
        )
    factors.append(_hla_factor(inputs, p, base))
    if inputs.dsa:
        factors.append(_dsa_factor(inputs, p, warnings))
    if inputs.malignant is False:
        warnings.append(
            "Non-malignant disease: Eurocord [V] advises TNC >5.0x10^7/kg and the best HLA match; graft "
            "failure is more frequent, which this model does not quantify."
        )
    if inputs.weight_kg is not None:
        total = inputs.tnc_per_kg * inputs.weight_kg / 100.0
        warnings.append(f"Weight {inputs.weight_kg:g} kg: the TNC dose corresponds to {total:.2f}x10^9 cells.")
    if not inputs.double_unit:
        warnings.append(SINGLE_UNIT_DOSE_EXTRAPOLATED)
    if inputs.age_group == "adult" and not inputs.double_unit:
        warnings.append(
            "Adult recipient: the single-unit baseline comes from a paediatric cohort (Kurtzberg 2008); "
            "adult single-unit medians of about 27 days are reported (Laughlin 2004 [U])."
        )

    hr = math.prod(f.hazard_ratio for f in factors)
    time_ratio = math.prod(f.time_ratio for f in factors)
    curve = EngraftmentCurve(base.p0, base.mu, p.sigma.value, hr, time_ratio, p.max_engraftment.value)
    median = curve.quantile_among_engrafters(0.5)
    interval = (
        curve.quantile_among_engrafters(p.lower_quantile),
        curve.quantile_among_engrafters(p.upper_quantile),
    )
    p42 = curve.cumulative_incidence(42.0)
    window = InfectionWindow(
        start_day=0,
        end_day_median=median,
        end_day_interval=interval,
        p_neutropenic_day28=1.0 - curve.cumulative_incidence(28.0),
        p_neutropenic_day42=1.0 - p42,
    )
    return EngraftmentEstimate(
        inputs=inputs,
        graft=graft,
        median_days=median,
        interval_days=interval,
        interval_quantiles=(p.lower_quantile, p.upper_quantile),
        p_engraft_day42=p42,
        p_engraft_eventual=curve.eventual_probability,
        infection_window=window,
        curve=curve,
        factors=tuple(factors),
        warnings=tuple(warnings),
        _cohort=base.cohort,
    )


def _hla_factor(inputs: EngraftmentInputs, p: ModelParameters, base: Baseline) -> Factor:
    if inputs.double_unit and not p.apply_hla_to_double:
        return Factor(
            "HLA",
            1.0,
            1.0,
            "Avery 2011 [V]",
            "Double unit: HLA match did not influence engraftment in the source cohort",
        )
    if inputs.match_8 is not None:
        t = p.match_8
        hr = t.lookup(inputs.match_8)
        detail = f"HLA {inputs.match_8}/8 (allele level) vs 8/8"
        return Factor("HLA", hr, 1.0, f"{t.source} [{t.status}]", detail)
    if inputs.match_6 is not None:
        t = p.match_6
        hr = t.lookup(inputs.match_6)
        detail = f"HLA {inputs.match_6}/6 (A, B antigen + DRB1 allele) vs 6/6"
        return Factor("HLA", hr, 1.0, f"{t.source} [{t.status}]", detail)
    return Factor(
        "HLA",
        base.cohort_hr,
        1.0,
        f"{p.match_8.source} mismatch distribution [V]; as the cohort's mix [U]",
        "HLA match not given: taken as the typical mix of single-unit transplants",
    )


def _dsa_factor(inputs: EngraftmentInputs, p: ModelParameters, warnings: list[str]) -> Factor:
    d = p.dsa
    threshold = d.mfi_threshold.value
    if inputs.dsa_mfi is not None and inputs.dsa_mfi < threshold:
        warnings.append(
            f"DSA MFI {inputs.dsa_mfi:g} is below the centre threshold {threshold:g} "
            f"({d.mfi_threshold.label}); reported but not counted."
        )
        return Factor("DSA", 1.0, 1.0, d.mfi_threshold.label, "DSA below the MFI threshold")
    both = inputs.dsa_both_units
    failed = d.graft_failure_both_units if both else d.graft_failure_one_unit
    detail = (
        f"Donor-specific antibodies against {'both units' if both else 'the unit'}: graft failure "
        f"{100 * failed.value:.1f}% vs {100 * d.graft_failure_none.value:.1f}% and median "
        f"{d.median_days_with.value:g} vs {d.median_days_without.value:g} days in the source"
    )
    if not inputs.double_unit:
        detail += "; single-unit effect borrowed from double units [U]"
    return Factor("DSA", d.hr(both), d.time_ratio, f"{d.median_days_with.label}", detail)


def estimate_for_search_result(
    tnc_per_kg: float,
    cd34_per_kg: float | None,
    match_8: int | None,
    match_6: int | None,
    dsa: bool,
    double_unit: bool,
) -> EngraftmentEstimate:
    """Estimate for one ranked search result (tens of microseconds; repeated calls are cached).

    Doses per kg recipient weight (TNC 1e7/kg, CD34+ 1e5/kg; combined for a double graft).
    Explanations are built only when read. Raises InvalidInputError on impossible input.
    """
    return _cached_search_estimate(tnc_per_kg, cd34_per_kg, match_8, match_6, bool(dsa), bool(double_unit))


@lru_cache(maxsize=65536)
def _cached_search_estimate(
    tnc_per_kg: float,
    cd34_per_kg: float | None,
    match_8: int | None,
    match_6: int | None,
    dsa: bool,
    double_unit: bool,
) -> EngraftmentEstimate:
    # Estimates are immutable and depend only on these arguments and the packaged parameters.
    return estimate(
        EngraftmentInputs(
            tnc_per_kg=tnc_per_kg,
            cd34_per_kg=cd34_per_kg,
            match_8=match_8,
            match_6=match_6,
            double_unit=double_unit,
            dsa=dsa,
        )
    )


def cumulative_incidence_curve(estimate_: EngraftmentEstimate, last_day: int = 60) -> list[tuple[int, float]]:
    """(day, cumulative incidence) for days 0..last_day, for plots and tables."""
    return [(day, estimate_.curve.cumulative_incidence(float(day))) for day in range(last_day + 1)]
