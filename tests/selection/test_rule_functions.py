"""One test per selection rule function, on hand-built facts (no search, no tables)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from cordmatch.selection import rules as R
from cordmatch.selection.model import FAIL, FLAG, INFO, PASS, UnitRecord
from cordmatch.selection.settings import default_settings

S = default_settings()
RECORD = UnitRecord("U1", "A*01:01", 1e9, bank="Test Bank", accredited=True, abo="A", rh="+")
FACTS = R.UnitFacts(
    match_8=8, match_6=6, certain_mm8=0, c_mismatches=0, tnc_per_kg=4.0, cd34_per_kg=2.0, dsa_definite=(),
    dsa_possible=(), nima_match=None, abo_relation="identical", age_years=3.0, record=RECORD,
)  # fmt: skip


def given(policy: str = "nmdp", malignant: bool | None = True, **facts: Any) -> R.RuleInput:
    spec = S.policy(policy)
    return R.RuleInput(replace(FACTS, **facts), R.resolve_thresholds(S, spec, 10.0, malignant), S, spec)


def verdicts(rule: R.Rule, **kw: Any) -> list[str]:
    return [c.verdict for c in rule(given(**kw))]


def test_rules_are_composed_in_the_coordinator_order() -> None:
    rules = [c.rule for c in R.unit_checks(FACTS, given().th, S, S.policy("nmdp"))]
    assert rules[:2] == ["HLA match (8 alleles, bidirectional)", "HLA match (6: A, B antigen; DRB1 allele)"]
    assert rules.index("TNC dose, search pre-filter") < rules.index("donor-specific antibodies (virtual crossmatch)")
    assert rules[-1] == "unit age"
    assert len(R.RULES) == len(set(R.RULES))


def test_every_rule_names_its_source_with_its_status() -> None:
    for c in R.unit_checks(FACTS, given().th, S, S.policy("eurocord")):
        assert "[V]" in c.source or "[U]" in c.source, c


def test_match_8_check() -> None:
    assert verdicts(R.match_8_check) == [PASS]
    assert verdicts(R.match_8_check, match_8=3, certain_mm8=5) == [FAIL]
    (c,) = R.match_8_check(given(match_8=None, certain_mm8=1))
    assert c.verdict == FLAG and c.value == "unresolved (at most 7/8)" and "confirmatory" in c.source


def test_match_6_check() -> None:
    assert verdicts(R.match_6_check) == [PASS]
    assert verdicts(R.match_6_check, match_6=3, certain_mm6=3) == [FAIL]
    assert verdicts(R.match_6_check, match_6=None, certain_mm6=1) == [FLAG]


def test_mismatch_limit_check() -> None:
    assert verdicts(R.mismatch_limit_check) == []
    assert verdicts(R.mismatch_limit_check, policy="eurocord", match_8=5, certain_mm8=3) == [FAIL]
    assert verdicts(R.mismatch_limit_check, policy="eurocord", match_8=6, certain_mm8=2) == [PASS]


def test_c_match_check() -> None:
    assert verdicts(R.c_match_check) == []
    assert verdicts(R.c_match_check, policy="eurocord", c_mismatches=1) == [FLAG]
    assert verdicts(R.c_match_check, policy="eurocord") == [PASS]


def test_tnc_prefilter_check() -> None:
    assert verdicts(R.tnc_prefilter_check) == [PASS]
    assert verdicts(R.tnc_prefilter_check, tnc_per_kg=1.5) == [FAIL]


def test_tnc_single_check() -> None:
    assert verdicts(R.tnc_single_check, tnc_per_kg=3.0) == [PASS]
    assert verdicts(R.tnc_single_check, tnc_per_kg=2.9) == [FAIL]  # nmdp requires the single dose
    assert verdicts(R.tnc_single_check, tnc_per_kg=2.9, in_double=True) == [INFO]
    (c,) = R.tnc_single_check(given(malignant=False, tnc_per_kg=5.0))
    assert c.verdict == FAIL and c.threshold == "> 5"  # non-malignant: strictly above 5.0
    (c,) = R.tnc_single_check(given(tnc_per_kg=4.0, mm6_worst=2))
    assert c.rule.endswith("(2 or more mismatches of 6)")


def test_cd34_checks() -> None:
    assert verdicts(R.cd34_checks) == [PASS, PASS]
    assert verdicts(R.cd34_checks, cd34_per_kg=None) == [FLAG]
    assert verdicts(R.cd34_checks, cd34_per_kg=0.5) == [FAIL, FAIL]


def test_dsa_checks() -> None:
    assert verdicts(R.dsa_checks) == [PASS]
    assert verdicts(R.dsa_checks, dsa_definite=("A2",)) == [FAIL]
    assert verdicts(R.dsa_checks, dsa_possible=("B8",), dsa_not_assessed=("DQ2",)) == [FLAG, FLAG]
    relaxed = S.merged({"policies": {"nmdp": {"dsa_action": "flag"}}})
    spec = relaxed.policy("nmdp")
    r = R.RuleInput(replace(FACTS, dsa_definite=("A2",)), given().th, relaxed, spec)
    assert [c.verdict for c in R.dsa_checks(r)] == [FLAG]


def test_dsa_below_check() -> None:
    assert verdicts(R.dsa_below_check) == []
    assert verdicts(R.dsa_below_check, dsa_below=("A2 (MFI 500)",)) == [INFO]


def test_nima_check() -> None:
    assert verdicts(R.nima_check) == [INFO]
    assert verdicts(R.nima_check, nima_match=True) == [PASS]
    assert verdicts(R.nima_check, nima_match=False) == [INFO]


def test_accreditation_check() -> None:
    assert verdicts(R.accreditation_check) == [PASS]
    (c,) = R.accreditation_check(given(record=replace(RECORD, accredited=False, bank="")))
    assert c.verdict == FLAG and c.value == "unknown bank: not accredited"


def test_red_cells_check() -> None:
    assert verdicts(R.red_cells_check) == [PASS]
    assert verdicts(R.red_cells_check, record=replace(RECORD, rbc_depleted=False)) == [FLAG]


def test_abo_check() -> None:
    assert verdicts(R.abo_check) == [PASS]
    assert verdicts(R.abo_check, abo_relation="major") == [FLAG]
    (c,) = R.abo_check(given(abo_relation=None, record=replace(RECORD, abo=None, rh=None)))
    assert c.verdict == INFO and c.value == "unit ?: patient or unit ABO unknown"


def test_segment_check() -> None:
    assert verdicts(R.segment_check) == [PASS]
    assert verdicts(R.segment_check, record=replace(RECORD, attached_segment=False)) == [FLAG]


def test_unit_age_check() -> None:
    assert verdicts(R.unit_age_check) == [PASS]
    assert verdicts(R.unit_age_check, age_years=None) == [INFO]
    assert verdicts(R.unit_age_check, age_years=S.value("unit_age_max_years") + 1) == [FLAG]


def test_untyped_loci_check() -> None:
    assert verdicts(R.untyped_loci_check) == []
    (c,) = R.untyped_loci_check(given(untyped_loci=("C",)))
    assert c.verdict == FLAG and c.value.startswith("HLA-C not typed")


def test_graded_by_check() -> None:
    assert verdicts(R.graded_by_check) == []
    assert verdicts(R.graded_by_check, graded_by="exact") == [INFO]


def test_age_in_years() -> None:
    assert R.age_in_years(None, dt.date(2026, 1, 1)) is None
