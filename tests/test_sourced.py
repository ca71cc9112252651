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
