from __future__ import annotations

import pytest

from cordmatch.bank.qc import DEFAULT_CRITERIA, Criterion, criteria_from_json, criteria_to_json, evaluate
from cordmatch.errors import InvalidInputError

GOOD = {
    "collection_volume_ml": 95.0,
    "tnc_pre_cryo": 1.4e9,
    "post_thaw_viable_cd34_pct": 85.0,
    "post_thaw_viable_cd45_pct": 60.0,
    "post_thaw_cfu": 120,
    "sterility": "negative",
    "idm": "negative",
    "hb_screen": "normal",
    "abo_rh": "A+",
    "hla_typing": "A*01:01+A*02:01",
    "attached_segments": 2,
}


def test_all_good_passes_and_lists_every_criterion() -> None:
    d = evaluate(DEFAULT_CRITERIA, GOOD)
    assert d.passed
    assert [i.key for i in d.items] == [c.key for c in DEFAULT_CRITERIA]
    assert all(i.source for i in d.items)
    assert d.to_dict()["passed"] is True


def test_fact_2018_cd34_threshold_is_strict() -> None:
    d = evaluate(DEFAULT_CRITERIA, {**GOOD, "post_thaw_viable_cd34_pct": 70.0})
    assert not d.passed
    (bad,) = d.failures
    assert bad.key == "post_thaw_viable_cd34_pct" and bad.verdict == "fail" and "FACT-news 2018" in bad.source


def test_missing_and_failing_are_both_reported() -> None:
    values = {k: v for k, v in GOOD.items() if k != "idm"}
    values["sterility"] = "positive"
    d = evaluate(DEFAULT_CRITERIA, values)
    assert {(f.key, f.verdict) for f in d.failures} == {("idm", "missing"), ("sterility", "fail")}


def test_optional_criterion() -> None:
    c = Criterion("viability_pre_cryo_pct", "ge", 85.0, "bank SOP [U]", required=False)
    assert evaluate([c], {}).passed
    assert not evaluate([c], {"viability_pre_cryo_pct": 80}).passed


def test_json_round_trip_and_errors() -> None:
    assert criteria_from_json(criteria_to_json(DEFAULT_CRITERIA)) == DEFAULT_CRITERIA
    with pytest.raises(InvalidInputError, match="source"):
        criteria_from_json('[{"key": "idm", "kind": "eq", "threshold": "negative", "source": " "}]')
    with pytest.raises(InvalidInputError, match="unknown QC result"):
        criteria_from_json('[{"key": "mood", "kind": "present", "source": "x"}]')
    with pytest.raises(InvalidInputError, match="numeric"):
        Criterion("tnc_pre_cryo", "ge", "lots", "x")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        criteria_from_json("[")
