"""Clinician-readable rule cases: tests/validation/selection-rules.csv (one row per unit: expected rank,
excluded or double only, and one check with its verdict)."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from cordmatch.hla.typing import parse_typing
from cordmatch.selection import Antibody, Patient, search
from selection.helpers import HLA, PATIENT, TODAY, registry, unit

CSV = Path(__file__).resolve().parents[1] / "validation" / "selection-rules.csv"
PATIENTS = {"default": PATIENT, "no-dr345": "A*02:01+A*01:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*01:01+DRB1*08:01"}


def test_rule_cases(tables):  # type: ignore[no-untyped-def]
    cases: dict[str, list[dict[str, str]]] = defaultdict(list)
    with CSV.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cases[row["case"]].append(row)
    assert len(cases) >= 10
    for name, rows in cases.items():
        first = rows[0]
        weight = float(first["weight_kg"])
        units = []
        for r in rows:
            u = unit(r["unit_id"], "8", float(r["tnc_per_kg"]), float(r["cd34_per_kg"]) if r["cd34_per_kg"] else None)
            hla = HLA.get(r["unit_hla"], r["unit_hla"])
            units.append(replace(u, hla=hla, accredited=r["accredited"] == "yes"))
        antibodies = ()
        if first["antibodies"]:
            spec, mfi = first["antibodies"].split()
            antibodies = (Antibody(spec, float(mfi)),)
        malignant = {"yes": True, "no": False}.get(first["malignant"])
        p = Patient(
            parse_typing(PATIENTS[first["patient"]], tables), weight, malignant=malignant, antibodies=antibodies
        )
        idx, src = registry(units, tables)
        out = search(idx, src, p, tables, top=20, today=TODAY)
        ranked = {r.unit.unit_id: r for r in out.results}
        for r in rows:
            uid, expected = r["unit_id"], r["expected"]
            if expected.startswith("rank"):
                assert uid in ranked and ranked[uid].rank == int(expected.split()[1]), (name, uid, list(ranked))
                checks = ranked[uid].checks
                said = search(idx, src, p, tables, top=1, today=TODAY, explain=uid).explanation
                assert said is not None and said.rank == ranked[uid].rank, (name, uid, said)  # explain: the same rank
            else:
                exp = search(idx, src, p, tables, top=20, today=TODAY, explain=uid).explanation
                assert exp is not None and exp.status == expected, (name, uid, exp)
                checks = exp.checks
            hits = [c for c in checks if c.rule.startswith(r["check_rule"]) and r["check_value"] in c.value]
            assert hits, (name, uid, r["check_rule"], [c.sentence() for c in checks])
            assert any(c.verdict == r["check_verdict"] for c in hits), (name, uid, [c.sentence() for c in hits])
