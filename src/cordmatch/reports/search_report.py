"""The search report: one patient's search as a document (PDF, and an HTML print view).

Built from the search JSON (``SearchOutcome.to_dict()``, the shape the API and the pages return) and the
context the search ran in (patient reference, criteria, thresholds with their sources, nomenclature
release, time). :func:`build` gathers the content once; :func:`render_pdf` and :func:`render_html`
lay it out. Engraftment estimates come from ``cordmatch.outcomes`` with the same inputs the search used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cordmatch.errors import CordmatchError
from cordmatch.reports.numbers import LEGEND, LEGEND_U, LEGEND_V, fraction, threshold_text, tnc_dose
from cordmatch.selection.settings import SelectionSettings

ENGRAFTMENT_RULE = "estimated neutrophil engraftment"
PROBABILITY_RULE = "match probability (unresolved typing)"
CURVES = 5  # ranked units drawn on the engraftment plot


@dataclass(frozen=True)
class ReportContext:
    """What the search JSON does not carry: who, when, which release, which thresholds."""

    settings: SelectionSettings
    release: str
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))
    patient_ref: str | None = None
    registry: str = "bank store"
    made_by: str | None = None
    antibodies_given: bool = False
    top: int | None = None


@dataclass(frozen=True)
class UnitRow:
    """One ranked unit for the report."""

    rank: int
    unit_id: str
    match_8: str
    match_6: str
    tnc: str
    cd34: str
    abo: str
    bank: str
    p42: str
    cautions: list[str]
    checks: list[dict[str, str]]
    probability: str | None


@dataclass(frozen=True)
class DoubleRow:
    units: str
    combined_tnc: str
    combined_cd34: str
    unit_to_unit: str
    checks: list[dict[str, str]]


@dataclass(frozen=True)
class SearchReport:
    """Everything the report shows, as text."""

    title: str
    generated: str
    header: list[tuple[str, str]]
    patient: list[tuple[str, str]]
    antibodies: list[tuple[str, str]]
    criteria: list[tuple[str, str]]
    units: list[UnitRow]
    doubles: list[DoubleRow]
    thresholds: list[dict[str, str]]
    notes: list[str]
    legend: tuple[str, str] = (LEGEND_V, LEGEND_U)
    curves: list[tuple[str, Any]] = field(default_factory=list)  # (label, EngraftmentEstimate)
    explain: list[str] = field(default_factory=list)


def _m(grade: Mapping[str, Any], out_of: int, why: bool = False) -> str:
    """``7/8``, or ``unresolved`` (with the reason when ``why``)."""
    v = grade.get("bidirectional")
    if v is not None:
        return f"{v}/{out_of}"
    return f"unresolved ({grade.get('reason') or 'typing'})" if why else "unresolved"


def _dsa(checks: Sequence[Mapping[str, str]]) -> bool:
    """A definite donor-specific antibody against the unit (the rule ``services.search`` applies)."""
    return any(
        c["rule"].startswith("donor-specific") and c["verdict"] in ("flag", "fail") and "possible" not in c["value"]
        for c in checks
    )


def _estimate(tnc: float, cd34: float | None, m8: int | None, m6: int | None, dsa: bool, double: bool) -> Any:
    try:
        from cordmatch.outcomes import estimate_for_search_result

        return estimate_for_search_result(tnc, cd34, m8, m6, dsa, double)
    except (ImportError, CordmatchError):
        return None


_P42 = re.compile(r"P\(engraft by day 42\) (\d+)%")


def _p42(checks: Sequence[Mapping[str, str]], est: Any) -> str:
    """The day-42 engraftment probability the search stated for the unit (its engraftment check), else the
    report's own estimate, else "not estimated"."""
    for c in checks:
        m = _P42.search(c["value"]) if c["rule"] == ENGRAFTMENT_RULE else None
        if m:
            return f"{m.group(1)} %"
    return fraction(est.p_engraft_day42) if est is not None else "not estimated"


def _check(c: Mapping[str, str]) -> dict[str, str]:
    return {
        "verdict": c["verdict"],
        "rule": c["rule"],
        "value": threshold_text(c["value"]),
        "threshold": threshold_text(c["threshold"]),
        "source": c["source"],
    }


def _unit_row(r: Mapping[str, Any]) -> tuple[UnitRow, Any]:
    checks = r.get("checks", [])
    m8, m6 = r["match_8"].get("bidirectional"), r["match_6"].get("bidirectional")
    est = _estimate(r["tnc_per_kg"], r.get("cd34_per_kg"), m8, m6, _dsa(checks), False)
    unit = r.get("unit", {})
    rh = {"pos": "+", "+": "+", "positive": "+", "neg": "-", "-": "-", "negative": "-"}.get(
        str(unit.get("rh")).strip().lower(), " Rh not typed"
    )
    abo = f"{unit.get('abo')}{rh}"
    prob = next((c["value"] for c in checks if c["rule"] == PROBABILITY_RULE), None)
    row = UnitRow(
        rank=r["rank"],
        unit_id=r["unit_id"],
        match_8=_m(r["match_8"], 8),
        match_6=_m(r["match_6"], 6),
        tnc=f"{r['tnc_per_kg']:.2f}",
        cd34="n/a" if r.get("cd34_per_kg") is None else f"{r['cd34_per_kg']:.2f}",
        abo=abo if unit.get("abo") else "not typed",
        bank=str(unit.get("bank") or ""),
        p42=_p42(checks, est),
        cautions=[f"{c['rule']}: {threshold_text(c['value'])}" for c in checks if c["verdict"] in ("flag", "fail")],
        checks=[_check(c) for c in checks],
        probability=prob,
    )
    return row, est


def _yes_no(v: bool | None, unknown: str) -> str:
    return unknown if v is None else ("yes" if v else "no")


def _header(ctx: ReportContext, stamp: str) -> list[tuple[str, str]]:
    return [
        ("patient reference", ctx.patient_ref or "not given"),
        ("made", stamp + (f" by {ctx.made_by}" if ctx.made_by else "")),
        ("HLA nomenclature", f"IPD-IMGT/HLA {ctx.release}"),
        ("units searched", ctx.registry),
    ]


def _patient(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("HLA typing", str(p.get("hla", ""))),
        ("weight", f"{p.get('weight_kg'):g} kg" if p.get("weight_kg") is not None else "not given"),
        ("diagnosis", p.get("diagnosis") or "not given"),
        ("malignant disease", _yes_no(p.get("malignant"), "not known: standard dose thresholds apply")),
        ("ABO", p.get("abo") or "not given: ABO compatibility not assessed"),
    ]


def _antibodies(p: Mapping[str, Any], ctx: ReportContext) -> list[tuple[str, str]]:
    """The patient's antibodies; an empty list says whether a screen was given at all."""
    abs_ = p.get("antibodies") or []
    if abs_:
        return [(a["specificity"], f"MFI {a['mfi']:g}") for a in abs_]
    if ctx.antibodies_given:
        return [("none", "antibody screen given with no anti-HLA antibodies")]
    return [("NOT GIVEN", "donor-specific antibodies were NOT assessed: no antibody screen was entered")]


def _criteria(outcome: Mapping[str, Any], ctx: ReportContext) -> list[tuple[str, str]]:
    policy = ctx.settings.policies.get(str(outcome.get("policy")))
    counts = outcome.get("counts", {})
    return [
        ("policy", f"{outcome.get('policy')}" + (f": {policy.description} [{policy.source}]" if policy else "")),
        ("units shown", f"top {ctx.top}" if ctx.top else f"{len(outcome.get('results', []))}"),
        ("units in the registry", f"{counts.get('units', 0):,}"),
        ("units passing the hard filters", f"{counts.get('passing_filters', 0):,}"),
        ("units reaching the single-unit dose", f"{counts.get('meeting_single_unit_dose', 0):,}"),
    ]


def _units(outcome: Mapping[str, Any]) -> tuple[list[UnitRow], list[tuple[str, Any]]]:
    """The ranked units' rows and the engraftment curves of the first ``CURVES`` that have one."""
    units: list[UnitRow] = []
    curves: list[tuple[str, Any]] = []
    for r in outcome.get("results", []):
        row, est = _unit_row(r)
        units.append(row)
        if est is not None and len(curves) < CURVES:
            curves.append((f"#{row.rank} {row.unit_id}", est))
    return units, curves


def _double_row(d: Mapping[str, Any]) -> DoubleRow:
    a, b = d["units"]
    u2u = d.get("unit_to_unit", {})
    return DoubleRow(
        units=f"{a['unit_id']} + {b['unit_id']}",
        combined_tnc=tnc_dose(d["combined_tnc_per_kg"]),
        combined_cd34="n/a" if d.get("combined_cd34_per_kg") is None else f"{d['combined_cd34_per_kg']:.2f}",
        unit_to_unit=f"{_m(u2u.get('match_6', {}), 6, True)}, {_m(u2u.get('match_8', {}), 8, True)}",
        checks=[_check(c) for c in d.get("checks", [])],
    )


def _double_curve(d: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The engraftment curve of a double graft (the worse unit's match counts), when one is estimated."""
    a, b = d["units"]
    m8 = [u["match_8"].get("bidirectional") for u in (a, b)]
    m6 = [u["match_6"].get("bidirectional") for u in (a, b)]
    est = _estimate(
        d["combined_tnc_per_kg"], d.get("combined_cd34_per_kg"),
        min(m8) if None not in m8 else None, min(m6) if None not in m6 else None, False, True,
    )  # fmt: skip
    return None if est is None else (f"double {a['unit_id']} + {b['unit_id']}", est)


def _thresholds(ctx: ReportContext) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "description": t.description, "value": threshold_text(f"{t.value:g}"), "unit": t.unit,
         "source": t.source, "status": t.status}
        for t in sorted(ctx.settings.thresholds.values(), key=lambda t: t.name)
    ]  # fmt: skip


def _explain(outcome: Mapping[str, Any]) -> list[str]:
    if not outcome.get("explain"):
        return []
    e = outcome["explain"]
    return [f"{e['unit_id']}: {e['status']}", *e.get("explanation", [])]


def build(outcome: Mapping[str, Any], ctx: ReportContext) -> SearchReport:
    """The report's content from a search's JSON and its context."""
    p = outcome.get("patient", {})
    stamp = ctx.generated.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    units, curves = _units(outcome)
    double_units = outcome.get("double_units", [])
    doubles = [_double_row(d) for d in double_units]
    first_double = _double_curve(double_units[0]) if double_units else None  # the first graft's curve only
    if first_double is not None:
        curves.append(first_double)
    return SearchReport(
        title="Cord blood unit search report",
        generated=stamp,
        header=_header(ctx, stamp),
        patient=_patient(p),
        antibodies=_antibodies(p, ctx),
        criteria=_criteria(outcome, ctx),
        units=units,
        doubles=doubles,
        thresholds=_thresholds(ctx),
        notes=[threshold_text(n) for n in outcome.get("notes", [])] + [f"Sources: {LEGEND}"],
        curves=curves,
        explain=_explain(outcome),
    )


def curve_image(report: SearchReport, fmt: str) -> bytes | None:
    """The engraftment curves of the report's units as PNG or SVG bytes (None when none was estimated)."""
    if not report.curves:
        return None
    from cordmatch.io.outcomes_plot import plot_engraftment

    return plot_engraftment(report.curves, fmt)
