"""One patient's search: grade every unit (vectorised), apply the hard filters, rank by the policy, explain.

The steps live in :mod:`~cordmatch.selection.prepare` (grading, masks, packed keys), :mod:`~cordmatch.selection.rank`
(ordering, exact checks, the final list), :mod:`~cordmatch.selection.doubles` and :mod:`~cordmatch.selection.explain`;
this module composes them into :func:`search`.

Ranking keys (docs/adr/0400-selection-policies.md), in the policy's ``order``:
- ``dsa``: no DSA > possible DSA > definite DSA (when the policy flags rather than excludes);
- ``match``: the match group, ``2 * (8 - certain mismatches) - unresolved``: a resolved 7/8 ranks above a
  unit typed at antigen level that is at most 7/8, which ranks above a resolved 6/8;
- ``c_match``: no HLA-C allele mismatch first (Eurocord);
- ``tnc``: TNC/kg descending (in bands of ``tie_band_tnc`` when set, then the tie-breakers decide).
Tie-breakers, in order: NIMA match, accreditation, RBC depletion, ABO identity, attached segment, newer unit.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.doubles import suggest_doubles
from cordmatch.selection.explain import explain_unit
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import DoubleUnit, Patient, SearchOutcome
from cordmatch.selection.prepare import SearchContext, check_patient_loci, key_parts, prepare
from cordmatch.selection.rank import final_units, probable_match_8, ranked_units, top_slots
from cordmatch.selection.settings import SelectionSettings
from cordmatch.selection.source import DictSource, ProbabilityGrader, UnitSource

__all__ = [
    "DictSource",
    "ProbabilityGrader",
    "SearchContext",
    "UnitSource",
    "check_patient_loci",
    "explain_unit",
    "final_units",
    "key_parts",
    "prepare",
    "probable_match_8",
    "ranked_units",
    "search",
    "top_slots",
]


def search(
    index: UnitIndex,
    source: UnitSource,
    patient: Patient,
    tables: NomenclatureTables,
    *,
    policy: str = "nmdp",
    top: int = 10,
    settings: SelectionSettings | None = None,
    explain: str | None = None,
    today: dt.date | None = None,
    probability: ProbabilityGrader | None = None,
) -> SearchOutcome:
    """Rank the registry for one patient: the top units with their checks, double-unit grafts when no single
    unit reaches the single-unit dose, and (``explain``) why one unit was excluded or ranked lower."""
    if top < 1:
        raise InvalidInputError(f"top must be at least 1, got {top}", where="top", field="top")
    ctx = prepare(index, patient, tables, policy=policy, settings=settings, today=today)
    notes: list[str] = check_patient_loci(patient.typing)
    results = final_units(ctx, top, source, tables, probability)
    th = ctx.thresholds
    doubles: list[DoubleUnit] = []
    double_only = int(np.count_nonzero(ctx.acceptable & ~ctx.mask))
    if not results:
        # no acceptable single unit (passing every hard rule) reaches the single-unit dose: offer doubles
        op = ">" if th.single_tnc_strict else ">="
        notes.append(
            f"no acceptable single unit reaches the single-unit dose ({op} {th.single_tnc:g} x10^7 TNC/kg "
            f"[{ctx.settings[th.single_tnc_name].label}]"
            + (
                f"; >= {th.single_tnc_mismatched:g} with 2 or more mismatches of 6 "
                f"[{ctx.settings['single_tnc_min_mismatched'].label}]"
                if th.single_tnc_mismatched > th.single_tnc
                else ""
            )
            + f"; CD34+ >= {th.single_cd34:g} x10^5/kg when recorded): double-unit grafts suggested"
        )
        doubles = suggest_doubles(ctx, source, tables)
        if not doubles:
            notes.append("no pair of units meets the double-unit criteria")
    if double_only:
        notes.append(
            f"{double_only:,} unit(s) pass the HLA and antibody rules but are below the single-unit dose: "
            "double only (not ranked as single grafts, no single-unit engraftment estimate)"
        )
    if not results and not doubles:
        notes.append("no unit passes the hard filters; use --explain UNIT to see why a unit was excluded")
    if ctx.profile.extra:
        notes.append(
            "antibodies at DRB3/4/5, DQ or DP assessed per unit from its typing (DRB3/4/5 inferred from DRB1 "
            "when not typed; DQ/DP not assessed on units not typed there): "
            + ", ".join(dict.fromkeys(r.antibody.specificity for r in ctx.profile.extra))
        )
    exp = explain_unit(ctx, explain, source, tables, probability, results) if explain else None
    counts = {
        "units": len(index),
        "passing_filters": int(np.count_nonzero(ctx.mask)),
        "graded_exactly": len(ctx.exact_grades),
        "meeting_single_unit_dose": int(np.count_nonzero(ctx.mask)),
        "double_only": double_only,
    }
    p = ctx.patient
    patient_info = {
        "hla": p.typing.gl(),
        "weight_kg": p.weight_kg,
        "diagnosis": p.diagnosis,
        "malignant": p.malignant,
        "abo": p.abo,
        "antibodies": [{"specificity": a.specificity, "mfi": a.mfi} for a in p.antibodies],
    }
    return SearchOutcome(ctx.policy.name, patient_info, tuple(results), tuple(doubles), counts, tuple(notes), exp)
