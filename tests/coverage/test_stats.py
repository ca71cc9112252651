"""Wilson intervals and the report keys."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordmatch.coverage.engine import LEVELS, PatientCoverage
from cordmatch.coverage.planning import HaplotypeTable, recruitment_value, under_served
from cordmatch.coverage.stats import summarise, wilson


def test_wilson_known_values() -> None:
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    assert wilson(20, 20)[1] == 1.0 and wilson(0, 0) == (0.0, 1.0)


def test_summary_keys_and_values() -> None:
    count = np.array([[3, 1, 0, 2, 0, 0], [0, 0, 0, 0, 0, 0], [5, 5, 1, 5, 1, 1], [1, 0, 0, 0, 0, 0]])
    cov = PatientCoverage(count, count // 2, np.array([True, False, True, False]), ["CAU"] * 4)
    s = summarise(cov, "CAU")
    assert set(s) >= {
        "patients",
        "population",
        "p_at_least",
        "p_at_least_with_dose",
        "p_double",
        "median_units",
        "ci95",
    }
    assert list(s["p_at_least"]) == list(LEVELS)
    assert s["p_at_least"]["4/6"] == 0.75 and s["p_at_least"]["8/8"] == 0.25
    assert s["p_at_least_with_dose"]["4/6"] == 0.5 and s["p_double"] == 0.5
    assert s["median_units"]["4/6"] == 2.0
    lo, hi = s["ci95"]["p_at_least"]["4/6"]
    assert lo < 0.75 < hi
    nodose = summarise(PatientCoverage(count, None, None, ["CAU"] * 4), "CAU")
    assert nodose["p_at_least_with_dose"] is None and nodose["p_double"] is None


def test_under_served_counts_carriers_once() -> None:
    tables = {"CAU": HaplotypeTable("CAU", ["h0", "h1", "h2"], np.array([0.5, 0.3, 0.2]))}
    haps = np.array([[0, 0], [1, 2], [1, 1], [0, 2]])
    served = np.array([False, False, True, True])
    rows = under_served(served, haps, ["CAU"] * 4, tables)
    by = {r["haplotype"]: r for r in rows}
    assert by["h0"]["patients_unserved"] == 1 and by["h0"]["patients_carrying"] == 2
    assert by["h1"]["patients_unserved"] == 1 and by["h1"]["patients_carrying"] == 2
    assert by["h2"]["share_unserved"] == 0.5 and by["h0"]["frequency"] == 0.5


def test_recruitment_ranks_by_newly_served() -> None:
    newly = np.array([[True, False, True], [False, False, True], [False, True, True]])
    ranked = recruitment_value(newly, ["CAU", "AFA", "AFA"], ["X", "Y", "Z"])
    assert [r["unit_id"] for r in ranked] == ["Z", "X", "Y"]
    assert ranked[0]["by_population"] == {"AFA": 2, "CAU": 1} and ranked[0]["newly_served"] == 3


@given(n=st.integers(1, 100_000), data=st.data())
def test_wilson_interval_holds_the_share(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert hi - lo <= wilson(n // 2, n)[1] - wilson(n // 2, n)[0] + 1e-12  # widest at one half
