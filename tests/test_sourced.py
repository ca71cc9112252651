"""The shared vocabulary: sourced figures, verdicts, rule checks and the plain-dict helper."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cordmatch.outcomes.params import Figure
from cordmatch.selection.model import FAIL, FLAG, INFO, PASS
from cordmatch.selection.settings import Threshold, default_settings
from cordmatch.sourced import ABO_GROUPS, RuleCheck, Sourced, Status, Verdict, plain_dict, source_label


def test_verdicts_are_the_plain_strings_they_replace() -> None:
    assert (PASS, FAIL, FLAG, INFO) == (Verdict.PASS, Verdict.FAIL, Verdict.FLAG, Verdict.INFO)
    assert [str(v) for v in Verdict] == ["pass", "fail", "flag", "info"]
    assert Verdict.FLAG == "flag" and f"{Verdict.FAIL}" == "fail"
    assert json.dumps({"v": Verdict.INFO}) == '{"v": "info"}'


def test_status_and_label() -> None:
    assert Status("V") is Status.VERIFIED and Status.UNVERIFIED == "U"
    fig = Sourced(3.0, "Dehn 2019", Status.VERIFIED)
    assert fig.label == "Dehn 2019 [V]" == source_label("Dehn 2019", "V")
    assert fig.note == ""


def test_figure_and_threshold_share_the_sourced_value() -> None:
    assert Figure is Sourced
    t = default_settings()["single_tnc_min"]
    assert isinstance(t, Threshold) and isinstance(t, Sourced)
    assert t.label == f"{t.source} [{t.status}]"
    assert t.status in (Status.VERIFIED, Status.UNVERIFIED)
    over = default_settings().with_values({"single_tnc_min": 4.0})["single_tnc_min"]
    assert over.value == 4.0 and over.status is Status.UNVERIFIED and over.label.endswith("[U]")


def test_rule_check_dict_and_sentence_are_unchanged() -> None:
    c = RuleCheck("TNC dose", "3.40 x10^7/kg", ">= 3", Verdict.PASS, "Dehn 2019 [V]")
    d = c.to_dict()
    assert d == {"rule": "TNC dose", "value": "3.40 x10^7/kg", "threshold": ">= 3", "verdict": "pass",
                 "source": "Dehn 2019 [V]"}  # fmt: skip
    assert type(d["verdict"]) is str and list(d) == ["rule", "value", "threshold", "verdict", "source"]
    assert c.sentence() == "TNC dose: 3.40 x10^7/kg (threshold >= 3): pass [Dehn 2019 [V]]"
    assert RuleCheck("r", "v", "", INFO, "s").sentence() == "r: v: info [s]"


def test_plain_dict_converts_enums_tuples_and_nested_dataclasses() -> None:
    @dataclass(frozen=True)
    class Inner:
        status: Status
        names: tuple[str, ...]

    @dataclass(frozen=True)
    class Outer:
        inner: Inner
        verdicts: tuple[Verdict, ...]
        count: int | None

    out = plain_dict(Outer(Inner(Status.VERIFIED, ("a", "b")), (Verdict.PASS,), None))
    assert out == {"inner": {"status": "V", "names": ["a", "b"]}, "verdicts": ["pass"], "count": None}
    assert json.dumps(out) == '{"inner": {"status": "V", "names": ["a", "b"]}, "verdicts": ["pass"], "count": null}'


def test_abo_groups_in_index_code_order() -> None:
    from cordmatch.selection.index import ABO_CODES, ABO_NAMES

    assert ABO_GROUPS == ("O", "A", "B", "AB")
    assert ABO_NAMES == ABO_GROUPS and ABO_CODES == {"O": 0, "A": 1, "B": 2, "AB": 3}


def test_grades_are_enums_with_the_old_text() -> None:
    from cordmatch.matching.model import ALLELE_MATCH, UNRESOLVED, Comparison, Grade, PositionGrade

    assert ALLELE_MATCH is Grade.ALLELE_MATCH and UNRESOLVED == "unresolved"
    assert [str(g) for g in Grade] == [
        "allele match",
        "antigen match, allele mismatch",
        "antigen mismatch",
        "unresolved",
    ]
    assert [str(c) for c in Comparison] == ["match", "mismatch", "unresolved"]
    pg = PositionGrade(
        "A*02:01", "A*02:05", Grade.ANTIGEN_MATCH_ALLELE_MISMATCH, Comparison.MATCH, Comparison.MISMATCH, "r"
    )
    d = pg.to_dict()
    assert d == {"patient": "A*02:01", "donor": "A*02:05", "grade": "antigen match, allele mismatch",
                 "antigen": "match", "allele": "mismatch", "reason": "r"}  # fmt: skip
    assert all(type(v) is str for v in d.values())


def test_shared_to_dict_keeps_the_hand_written_shapes() -> None:
    from cordmatch.outcomes.indications import Trial
    from cordmatch.probability.index import MappingReport

    assert Trial("NCT01", "phase 2").to_dict() == {"nct": "NCT01", "note": "phase 2"}
    rep = MappingReport(
        "EUR", 10, 8, ["A*99:99"], 2, 0.01, {"A*02:01:01": "A*02:01"}, {"B*07:02": ["B*07:02"]}, 1, ["w"]
    )
    d = rep.to_dict()
    assert list(d) == ["population", "haplotypes_read", "haplotypes_kept", "unknown_names", "dropped_haplotypes",
                       "dropped_frequency", "renamed", "ambiguous", "collapsed_haplotypes", "warnings"]  # fmt: skip
    assert d["ambiguous"] == {"B*07:02": ["B*07:02"]} and d["unknown_names"] == ["A*99:99"] and d["warnings"] == ["w"]


def test_rule_check_verdict_text_becomes_the_enum_and_a_misspelt_one_fails() -> None:
    import pytest

    assert RuleCheck("r", "v", "", "fail", "s").verdict is Verdict.FAIL  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RuleCheck("r", "v", "", "fial", "s")  # type: ignore[arg-type]
