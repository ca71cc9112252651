"""Clinician-reviewable cases: tests/validation/selection-order.csv (one row per unit, expected rank)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from cordmatch.selection import Antibody, search
from cordmatch.selection.settings import settings_from_toml
from selection.helpers import TODAY, patient, registry, unit

CSV = Path(__file__).resolve().parents[1] / "validation" / "selection-order.csv"


def test_validation_cases(tables):  # type: ignore[no-untyped-def]
    cases: dict[str, list[dict[str, str]]] = defaultdict(list)
    with CSV.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cases[row["case"]].append(row)
    assert len(cases) >= 6
    for name, rows in cases.items():
        first = rows[0]
        units = [
            unit(
                r["unit_id"], r["match"], float(r["tnc_per_kg"]), float(r["cd34_per_kg"]) if r["cd34_per_kg"] else None
            )
            for r in rows
        ]
        antibodies = ()
        if first["antibody"]:
            spec, mfi = first["antibody"].split()
            antibodies = (Antibody(spec, float(mfi)),)
        malignant = {"yes": True, "no": False}.get(first["malignant"])
        idx, src = registry(units, tables)
        p = patient(tables, weight=float(first["weight_kg"]), antibodies=antibodies, malignant=malignant)
        policy, _, relax = first["policy"].partition("+")
        settings = settings_from_toml(f'[policies.{policy}]\ndsa_action = "flag"\n') if relax == "dsa-flag" else None
        out = search(idx, src, p, tables, policy=policy, settings=settings, top=20, today=TODAY)
        got = [r.unit.unit_id for r in out.results]
        want = [
            r["unit_id"] for r in sorted((r for r in rows if r["expected_rank"]), key=lambda r: int(r["expected_rank"]))
        ]
        assert got == want, f"case {name}: {got} != {want}"


def _opt(text: str) -> float | None:
    return float(text) if text else None
