"""The search report's content (pure: from the search JSON and its context) and its two layouts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cordmatch.reports.search_render import render_html, render_pdf
from cordmatch.reports.search_report import ReportContext, build
from cordmatch.selection.settings import default_settings
from reports.conftest import pdf_text


def _check(rule: str, value: str, verdict: str = "pass", threshold: str = "", source: str = "X [V]") -> dict[str, str]:
    return {"rule": rule, "value": value, "threshold": threshold, "verdict": verdict, "source": source}


def _unit(rank: int, uid: str, m8: int | None, tnc: float, checks: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "rank": rank, "unit_id": uid, "hla": "", "tnc_per_kg": tnc, "cd34_per_kg": 1.8,
        "match_8": {"bidirectional": m8, "reason": None if m8 is not None else "C not typed for donor"},
        "match_6": {"bidirectional": 6, "reason": None}, "checks": checks,
        "unit": {"bank": "B1", "abo": "A", "rh": "neg"},
    }  # fmt: skip


OUTCOME: dict[str, Any] = {
    "policy": "nmdp",
    "patient": {
        "hla": "A*01:01+A*02:01",
        "weight_kg": 70.0,
        "diagnosis": "AML",
        "malignant": True,
        "abo": "A",
        "antibodies": [],
    },
    "counts": {"units": 5000, "passing_filters": 120, "meeting_single_unit_dose": 0},
    "results": [
        _unit(
            1,
            "CB0000000001",
            7,
            2.4,
            [_check("TNC dose, single unit", "2.4000000001 x10^7/kg", "flag", ">= 2.5", "Dehn 2019 [V]")],
        ),
        _unit(
            2,
            "CB0000000002",
            None,
            2.2,
            [_check("match probability (unresolved typing)", "P(8/8) 0.41, P(>=7/8) 0.80, P(6/6) 0.95", "info")],
        ),
    ],
    "double_units": [],
    "notes": [
        "no single unit reaches the single-unit dose (>= 2.5 x10^7 TNC/kg): double-unit grafts suggested",
        "registry holds 1050000000.0 cells",
    ],
}
OUTCOME["double_units"] = [{
    "units": [OUTCOME["results"][0], OUTCOME["results"][1]], "combined_tnc_per_kg": 4.6, "combined_cd34_per_kg": 3.6,
    "unit_to_unit": {"match_6": {"bidirectional": 5}, "match_8": {"bidirectional": None, "reason": "C not typed"}},
    "checks": [_check("double unit: each unit TNC dose", "2.4 and 2.2 x10^7/kg", "pass", ">= 1.5")],
}]  # fmt: skip
WHEN = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def _ctx(**kw: Any) -> ReportContext:
    return ReportContext(settings=default_settings(), release="3.58.0", generated=WHEN, **kw)


def test_content() -> None:
    r = build(OUTCOME, _ctx(patient_ref="P-1", registry="r.parquet", made_by="coord", top=2))
    assert ("patient reference", "P-1") in r.header and ("made", "2026-11-30 09:15 UTC by coord") in r.header
    assert ("HLA nomenclature", "IPD-IMGT/HLA 3.58.0") in r.header
    assert r.antibodies[0][0] == "NOT GIVEN" and "NOT assessed" in r.antibodies[0][1]
    assert [u.unit_id for u in r.units] == ["CB0000000001", "CB0000000002"]
    assert r.units[0].match_8 == "7/8" and r.units[1].match_8 == "unresolved" and r.units[0].abo == "A-"
    assert r.units[0].checks[0]["value"] == "2.4 x10^7/kg"  # float noise gone
    assert r.units[1].probability == "P(8/8) 0.41, P(>=7/8) 0.80, P(6/6) 0.95"
    assert r.units[0].p42.endswith("%")
    assert len(r.doubles) == 1 and r.doubles[0].combined_tnc == "4.60 x10^7/kg"
    assert "unresolved (C not typed)" in r.doubles[0].unit_to_unit
    assert [label for label, _ in r.curves][-1].startswith("double ")
    names = {t["name"] for t in r.thresholds}
    assert names == set(default_settings().thresholds) and all(t["status"] in ("V", "U") for t in r.thresholds)
    assert "registry holds 1.05 x10^9 cells" in r.notes and r.notes[-1].startswith("Sources: [V]")


def test_antibody_screen_without_antibodies_is_told_apart() -> None:
    r = build(OUTCOME, _ctx(antibodies_given=True))
    assert r.antibodies == [("none", "antibody screen given with no anti-HLA antibodies")]


def test_no_units() -> None:
    empty = {**OUTCOME, "results": [], "double_units": []}
    r = build(empty, _ctx())
    assert r.units == [] and r.curves == []
    assert "No unit passes the hard filters" in render_html(r)


def test_layouts_carry_the_same_facts(tmp_path: Path) -> None:
    r = build(OUTCOME, _ctx(patient_ref="P-1"))
    html = render_html(r)
    text = " ".join(pdf_text(render_pdf(r), tmp_path).split())
    for needle in ("P-1", "CB0000000001", "CB0000000002", "NOT GIVEN", "Dehn 2019 [V]", "double 1",
                   "4.60 x10^7/kg", "single_tnc_min", "IPD-IMGT/HLA 3.58.0", "P(8/8) 0.41"):  # fmt: skip
        assert needle in html and needle in text, needle
    assert "<script" not in html and "http://" not in html and "https://" not in html  # loads nothing
