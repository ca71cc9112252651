"""Engraftment model: reproduction of published figures, monotonicity, bad input, output shape."""

from __future__ import annotations

import csv
import itertools
import json
import math
import tomllib
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cordmatch.errors import InvalidInputError
from cordmatch.outcomes import (
    EngraftmentInputs,
    cumulative_incidence_curve,
    estimate,
    estimate_for_search_result,
    load_parameters,
)
from cordmatch.outcomes.params import build_parameters, read_parameters_text

VALIDATION = Path(__file__).resolve().parents[1] / "validation" / "engraftment_published.csv"
ROWS = list(csv.DictReader(VALIDATION.open(encoding="utf-8")))


def _inputs(row: dict[str, str]) -> EngraftmentInputs:
    return EngraftmentInputs(
        tnc_per_kg=float(row["tnc_per_kg"]),
        cd34_per_kg=float(row["cd34_per_kg"]) if row["cd34_per_kg"] else None,
        match_8=int(row["match_8"]) if row["match_8"] else None,
        double_unit=row["graft"] == "double",
        dsa=row["dsa"] == "yes",
        dsa_both_units=row["dsa_both_units"] == "yes",
    )


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['source']}:{r['metric']}:{i}" for i, r in enumerate(ROWS)])
def test_reproduces_published_figure(row: dict[str, str]) -> None:
    est = estimate(_inputs(row))
    model = float(getattr(est, row["metric"]))
    published, tolerance = float(row["published_value"]), float(row["tolerance"])
    assert abs(model - published) <= tolerance, (row["scenario"], model, published)


def test_validation_table_is_complete() -> None:
    assert len(ROWS) >= 8
    for row in ROWS:
        assert row["status"] in ("V", "U") and row["source"] and float(row["tolerance"]) > 0
    assert {r["source"] for r in ROWS} >= {"Kurtzberg 2008", "Barker 2005", "Cutler 2011"}


def test_dose_hazard_ratios_reproduce_sanz_2020() -> None:
    p = load_parameters()
    tnc, cd34 = p.tnc, p.cd34
    low = estimate(EngraftmentInputs(tnc.low_group_dose.value, double_unit=True))
    high = estimate(EngraftmentInputs(tnc.high_group_dose.value, double_unit=True))
    assert low.curve.hazard_ratio / high.curve.hazard_ratio == pytest.approx(0.65, abs=1e-9)
    low = estimate(EngraftmentInputs(3.5, cd34.low_group_dose.value, double_unit=True))
    high = estimate(EngraftmentInputs(3.5, cd34.high_group_dose.value, double_unit=True))
    assert low.curve.hazard_ratio / high.curve.hazard_ratio == pytest.approx(0.81, abs=1e-9)


def test_hla_direction_follows_eapen_2014() -> None:
    by_match = {m: estimate(EngraftmentInputs(4.0, match_8=m)) for m in range(3, 9)}
    assert by_match[8].median_days == by_match[7].median_days == by_match[6].median_days
    assert by_match[5].median_days > by_match[6].median_days
    assert by_match[5].p_engraft_day42 < by_match[6].p_engraft_day42


def test_double_units_ignore_hla_by_default_avery_2011() -> None:
    a = estimate(EngraftmentInputs(4.0, match_8=8, double_unit=True))
    b = estimate(EngraftmentInputs(4.0, match_8=3, double_unit=True))
    assert a.median_days == b.median_days
    assert any("Avery 2011" in line for line in b.explanations)


# --- monotonicity (hypothesis) -------------------------------------------------------------------
doses = st.floats(min_value=0.05, max_value=50.0, allow_nan=False)
cd34s = st.floats(min_value=0.01, max_value=30.0, allow_nan=False)
graft = st.booleans()


def _not_slower(faster: Any, slower: Any) -> None:
    eps = 1e-9
    assert faster.median_days <= slower.median_days + eps
    assert faster.interval_days[0] <= slower.interval_days[0] + eps
    assert faster.interval_days[1] <= slower.interval_days[1] + eps
    assert faster.p_engraft_day42 >= slower.p_engraft_day42 - eps
    for day in (14.0, 21.0, 28.0, 42.0, 60.0):
        assert faster.curve.cumulative_incidence(day) >= slower.curve.cumulative_incidence(day) - eps


@settings(max_examples=150, deadline=None)
@given(doses, doses, st.one_of(st.none(), cd34s), graft, st.one_of(st.none(), st.integers(0, 8)))
def test_more_tnc_never_delays(a: float, b: float, cd34: float | None, double: bool, m8: int | None) -> None:
    lo, hi = sorted((a, b))
    _not_slower(
        estimate(EngraftmentInputs(hi, cd34, match_8=m8, double_unit=double)),
        estimate(EngraftmentInputs(lo, cd34, match_8=m8, double_unit=double)),
    )


@settings(max_examples=150, deadline=None)
@given(doses, cd34s, cd34s, graft, st.booleans())
def test_more_cd34_never_delays(tnc: float, a: float, b: float, double: bool, dsa: bool) -> None:
    lo, hi = sorted((a, b))
    _not_slower(
        estimate(EngraftmentInputs(tnc, hi, double_unit=double, dsa=dsa)),
        estimate(EngraftmentInputs(tnc, lo, double_unit=double, dsa=dsa)),
    )


@settings(max_examples=150, deadline=None)
@given(doses, st.integers(0, 8), st.integers(0, 8), graft, st.booleans())
def test_more_mismatches_never_speed_up(tnc: float, a: int, b: int, double: bool, dsa: bool) -> None:
    fewer_mm, more_mm = max(a, b), min(a, b)  # higher match count = fewer mismatches
    _not_slower(
        estimate(EngraftmentInputs(tnc, match_8=fewer_mm, double_unit=double, dsa=dsa)),
        estimate(EngraftmentInputs(tnc, match_8=more_mm, double_unit=double, dsa=dsa)),
    )


@settings(max_examples=100, deadline=None)
@given(doses, st.integers(0, 6), st.integers(0, 6))
def test_more_mismatches_never_speed_up_6(tnc: float, a: int, b: int) -> None:
    _not_slower(
        estimate(EngraftmentInputs(tnc, match_6=max(a, b))),
        estimate(EngraftmentInputs(tnc, match_6=min(a, b))),
    )


@settings(max_examples=150, deadline=None)
@given(doses, st.one_of(st.none(), cd34s), st.one_of(st.none(), st.integers(0, 8)), graft)
def test_dsa_never_speeds_up(tnc: float, cd34: float | None, m8: int | None, double: bool) -> None:
    without = estimate(EngraftmentInputs(tnc, cd34, match_8=m8, double_unit=double))
    with_dsa = estimate(EngraftmentInputs(tnc, cd34, match_8=m8, double_unit=double, dsa=True))
    _not_slower(without, with_dsa)
    assert with_dsa.median_days > without.median_days
    if double:
        both_inputs = EngraftmentInputs(tnc, cd34, m8, None, True, True, None, True)
        both = estimate(both_inputs)
        _not_slower(with_dsa, both)


@settings(max_examples=100, deadline=None)
@given(doses, st.floats(min_value=0, max_value=50_000), st.floats(min_value=0, max_value=50_000))
def test_higher_mfi_never_speeds_up(tnc: float, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    _not_slower(
        estimate(EngraftmentInputs(tnc, dsa=True, dsa_mfi=lo)),
        estimate(EngraftmentInputs(tnc, dsa=True, dsa_mfi=hi)),
    )


@settings(max_examples=100, deadline=None)
@given(doses, st.one_of(st.none(), cd34s), st.one_of(st.none(), st.integers(0, 8)), graft, st.booleans())
def test_estimate_is_internally_consistent(
    tnc: float, cd34: float | None, m8: int | None, double: bool, dsa: bool
) -> None:
    est = estimate(EngraftmentInputs(tnc, cd34, match_8=m8, double_unit=double, dsa=dsa))
    lo, hi = est.interval_days
    assert 0 < lo < est.median_days < hi
    assert 0 <= est.p_engraft_day42 <= est.p_engraft_eventual <= 1
    # the median among engrafters is where the curve reaches half its plateau
    half = est.curve.cumulative_incidence(est.median_days)
    assert half == pytest.approx(est.p_engraft_eventual / 2, rel=1e-6, abs=1e-9)
    w = est.infection_window
    assert (w.start_day, w.end_day_median, w.end_day_interval) == (0, est.median_days, est.interval_days)
    assert w.p_neutropenic_day42 == pytest.approx(1 - est.p_engraft_day42)
    curve = cumulative_incidence_curve(est, 60)
    values = [v for _, v in curve]
    assert values[0] == 0 and all(x <= y + 1e-12 for x, y in itertools.pairwise(values))


# --- DSA MFI threshold ---------------------------------------------------------------------------
def test_dsa_below_mfi_threshold_is_reported_not_counted() -> None:
    threshold = load_parameters().dsa.mfi_threshold.value
    base = estimate(EngraftmentInputs(4.0))
    below = estimate(EngraftmentInputs(4.0, dsa=True, dsa_mfi=threshold - 1))
    above = estimate(EngraftmentInputs(4.0, dsa=True, dsa_mfi=threshold))
    assert below.median_days == base.median_days
    assert above.median_days > base.median_days
    assert any("below the centre threshold" in w for w in below.warnings)


# --- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"tnc_per_kg": -1.0}, "tnc_per_kg"),
        ({"tnc_per_kg": 0.0}, "tnc_per_kg"),
        ({"tnc_per_kg": math.nan}, "tnc_per_kg"),
        ({"tnc_per_kg": math.inf}, "tnc_per_kg"),
        ({"tnc_per_kg": 3.0, "cd34_per_kg": 0.0}, "cd34_per_kg"),
        ({"tnc_per_kg": 3.0, "cd34_per_kg": -0.5}, "cd34_per_kg"),
        ({"tnc_per_kg": 3.0, "match_8": 9}, "match_8"),
        ({"tnc_per_kg": 3.0, "match_8": -1}, "match_8"),
        ({"tnc_per_kg": 3.0, "match_6": 7}, "match_6"),
        ({"tnc_per_kg": 3.0, "dsa": True, "dsa_mfi": -5.0}, "dsa_mfi"),
        ({"tnc_per_kg": 3.0, "dsa": True, "dsa_both_units": True}, "dsa_both_units"),
        ({"tnc_per_kg": 3.0, "weight_kg": 0.0}, "weight_kg"),
        ({"tnc_per_kg": 3.0, "age_group": "elderly"}, "age_group"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        estimate(EngraftmentInputs(**kwargs))
    assert info.value.where == where


# --- output ---------------------------------------------------------------------------------------
def test_to_dict_is_json_and_stable() -> None:
    est = estimate(EngraftmentInputs(3.2, 1.5, match_8=6, dsa=True, weight_kg=40.0))
    data = json.loads(json.dumps(est.to_dict()))
    assert sorted(data) == [
        "curve", "explanations", "factors", "graft", "hazard_ratio", "infection_window", "inputs",
        "interval_days", "interval_quantiles", "median_days", "p_engraft_day42", "p_engraft_eventual",
        "time_ratio", "warnings",
    ]  # fmt: skip
    assert sorted(data["infection_window"]) == [
        "end_day_interval", "end_day_median", "length_days_median", "p_neutropenic_day28",
        "p_neutropenic_day42", "start_day",
    ]  # fmt: skip
    assert [f["name"] for f in data["factors"]] == ["TNC", "CD34+", "HLA", "DSA"]
    assert est.to_dict() == est.to_dict()


def test_explanations_name_sources_and_say_decision_support() -> None:
    text = " ".join(estimate(EngraftmentInputs(2.0, 1.0, match_8=5, dsa=True)).explanations)
    for label in ("Kurtzberg 2008", "Sanz 2020", "Eapen 2014", "Cutler 2011", "Decision support"):
        assert label in text
    assert "[U]" in text and "[V]" in text


def test_search_result_entry_point_matches_estimate() -> None:
    a = estimate_for_search_result(3.1, 1.2, 6, None, True, False)
    b = estimate(EngraftmentInputs(3.1, 1.2, match_8=6, dsa=True))
    assert a.to_dict() == b.to_dict()
    with pytest.raises(InvalidInputError):
        estimate_for_search_result(-3.1, None, None, None, False, False)


def test_unknown_cd34_and_hla_are_taken_as_cohort_typical() -> None:
    est = estimate(EngraftmentInputs(5.1))
    assert est.median_days == pytest.approx(27.0, abs=1e-6)
    assert any("not given" in f.detail for f in est.factors)


# --- parameters file ------------------------------------------------------------------------------
def _raw() -> dict[str, Any]:
    return tomllib.loads(read_parameters_text())


def _figures(node: Any, path: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        if "value" in node:
            found.append((path, node))
        for key, value in node.items():
            if key != "value":
                found.extend(_figures(value, f"{path}.{key}"))
    return found


def test_every_figure_has_source_and_status() -> None:
    figures = _figures(_raw())
    assert len(figures) >= 25
    for path, fig in figures:
        assert fig.get("source"), path
        assert fig.get("status") in ("V", "U"), path
    for label, src in _raw()["sources"].items():
        assert src["status"] in ("V", "U") and src["citation"], label


def test_match_6_cohort_note_is_consistent_with_table() -> None:
    raw = _raw()
    hr = raw["hla"]["match_6"]["hr"]
    mix = {6: 17, 5: 58, 4: 111, 3: 5}  # Kurtzberg 2008 enrolment match
    geo = math.exp(sum(n * math.log(hr[str(k)]) for k, n in mix.items()) / sum(mix.values()))
    assert geo == pytest.approx(raw["hla"]["match_6"]["cohort_hr"]["value"], abs=0.01)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda r: r["hla"]["match_8"]["hr"].__setitem__("8", 0.5), "hla.match_8"),
        (lambda r: r["dose"]["tnc"]["published_hr_low"].__setitem__("value", 1.2), "dose.tnc"),
        (lambda r: r["dsa"]["median_days_with"].__setitem__("value", 15.0), "dsa"),
        (lambda r: r["shape"]["sigma"].__setitem__("status", "maybe"), "shape.sigma"),
        (lambda r: r["baseline"]["single"]["incidence_day42"].__setitem__("value", 1.5), "baseline"),
        (lambda r: r["dose"].pop("cd34"), "parameters.toml"),
    ],
)
def test_parameters_that_break_the_guarantees_are_rejected(mutate: Any, where: str) -> None:
    raw = deepcopy(_raw())
    mutate(raw)
    with pytest.raises(InvalidInputError) as info:
        build_parameters(raw)
    assert info.value.where == where


def test_fitted_baselines_are_plausible() -> None:
    p = load_parameters()
    for base in (p.single, p.double):
        assert 0.5 < base.p0 < 1
        assert 10 < math.exp(base.mu) < 40
    assert p.dsa.time_ratio > 1


def test_engraftment_probability_has_a_ceiling_however_large_the_dose() -> None:
    huge = estimate_for_search_result(40.0, 20.0, 8, 6, False, False)
    assert huge.p_engraft_eventual <= 0.97 + 1e-12
    assert huge.p_engraft_day42 <= huge.p_engraft_eventual
    small = estimate_for_search_result(2.0, 1.0, 6, 4, False, False)
    assert small.p_engraft_day42 <= huge.p_engraft_day42


def test_single_unit_estimates_say_the_dose_effect_is_extrapolated() -> None:
    from cordmatch.outcomes.engraftment import SINGLE_UNIT_DOSE_EXTRAPOLATED, EngraftmentInputs, estimate

    single = estimate(EngraftmentInputs(tnc_per_kg=3.0, cd34_per_kg=1.5, match_8=8))
    assert SINGLE_UNIT_DOSE_EXTRAPOLATED in single.warnings
    double = estimate(EngraftmentInputs(tnc_per_kg=4.0, cd34_per_kg=2.0, match_8=7, double_unit=True))
    assert SINGLE_UNIT_DOSE_EXTRAPOLATED not in double.warnings
