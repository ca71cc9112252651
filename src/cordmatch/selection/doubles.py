"""Double-unit grafts: offered when no acceptable single unit reaches the single-unit dose (ADR 0400).

Each unit passes the search's HLA filters (4/6 floor included) and the per-unit dose minimums, with no
definite or possible DSA; pairs need the combined TNC minimum; the unit-to-unit match is reported.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping, parse_typing
from cordmatch.matching import grade
from cordmatch.matching.model import MatchGrade
from cordmatch.selection import kernel
from cordmatch.selection.index import LIVE, UnitIndex
from cordmatch.selection.model import FAIL, FLAG, PASS, DoubleUnit, RankedUnit, RuleCheck
from cordmatch.selection.prepare import SearchContext
from cordmatch.selection.rank import ranked_units, top_slots
from cordmatch.selection.rules import CD34_UNIT, TNC_UNIT, DoseThresholds
from cordmatch.selection.settings import SelectionSettings
from cordmatch.selection.source import UnitSource

DOUBLE_CANDIDATES = 30
DOUBLE_SUGGESTIONS = 3


def base_mask(index: UnitIndex, g: kernel.Graded, th: DoseThresholds) -> npt.NDArray[np.bool_]:
    """The hard filters every policy applies: live, TNC and CD34+ pre-filters, minimum match of 8, the 4/6
    floor, Eurocord maximum mismatches (when the policy sets it)."""
    n = index.n
    w = th.weight_kg
    mm8 = kernel.field(g.packed, kernel.MM8)
    mask: npt.NDArray[np.bool_] = (index.flags[:n] & LIVE) != 0
    mask &= index.tnc[:n] > np.float32(th.prefilter_tnc * TNC_UNIT * w)
    mask &= ~(index.cd34[:n] < np.float32(th.prefilter_cd34 * CD34_UNIT * w))
    mask &= mm8 <= th.max_mm8
    mask &= kernel.field(g.packed, kernel.MM6) <= th.max_mm6
    if th.eurocord_max_mm is not None:
        mask &= mm8 <= th.eurocord_max_mm
    return mask


def double_mask(ctx: SearchContext) -> npt.NDArray[np.bool_]:
    """Hard filters for units of a double graft: the search filters (without the single-unit dose), each unit
    >= the per-unit minimums, and no definite or possible DSA (both units must pass the crossmatch)."""
    idx, s = ctx.index, ctx.settings
    n = idx.n
    w = ctx.patient.weight_kg
    g = ctx.graded
    mask = base_mask(idx, g, ctx.thresholds) & ctx.acceptable
    mask &= idx.tnc[:n] >= np.float32(s.value("double_each_tnc_min") * TNC_UNIT * w)
    mask &= ~(idx.cd34[:n] < np.float32(s.value("double_each_cd34_min") * CD34_UNIT * w))
    mask &= ~g.dsa_definite()
    if g.dsa_possible is not None:
        mask &= ~g.dsa_possible
    return mask


def _candidate_pairs(
    ctx: SearchContext, cand: npt.NDArray[np.intp], combined_min: float
) -> list[tuple[float, int, int]]:
    """(combined TNC dose per kg, i, j) of candidate pairs whose combined dose exceeds the minimum, by the
    worse unit's match group (best first), then combined dose (highest first)."""
    tnc = ctx.index.tnc[cand].astype(np.float64) / TNC_UNIT / ctx.patient.weight_kg
    group = ctx.prefix[cand]
    pairs = [
        (min(group[i], group[j]), tnc[i] + tnc[j], i, j)
        for i in range(len(cand))
        for j in range(i + 1, len(cand))
        if tnc[i] + tnc[j] > combined_min
    ]
    pairs.sort(key=lambda p: (-p[0], -p[1]))
    return [(comb, i, j) for _, comb, i, j in pairs]


def _double_checks(
    a: RankedUnit, b: RankedUnit, comb: float, u2u: MatchGrade, u2u_min: int, s: SelectionSettings
) -> tuple[RuleCheck, ...]:
    """The checks of a pair: each unit's doses, the combined TNC dose (per kg), the unit-to-unit match, the
    crossmatch."""
    combined_min = s.value("double_combined_tnc_min")
    return (
        RuleCheck(
            "double unit: each unit TNC dose",
            f"{a.tnc_per_kg:.2f} and {b.tnc_per_kg:.2f} x10^7/kg",
            f">= {s.value('double_each_tnc_min'):g}",
            PASS,
            s["double_each_tnc_min"].label,
        ),
        RuleCheck(
            "double unit: each unit CD34+ dose",
            " and ".join("not recorded" if x is None else f"{x:.2f}" for x in (a.cd34_per_kg, b.cd34_per_kg))
            + " x10^5/kg",
            f">= {s.value('double_each_cd34_min'):g}",
            PASS if a.cd34_per_kg is not None and b.cd34_per_kg is not None else FLAG,
            s["double_each_cd34_min"].label,
        ),
        RuleCheck(
            "double unit: combined TNC dose",
            f"{comb:.2f} x10^7/kg",
            f"> {combined_min:g}",
            PASS if comb > combined_min else FAIL,
            s["double_combined_tnc_min"].label,
        ),
        RuleCheck(
            "double unit: unit-to-unit match",
            f"{u2u.match_6.label()} (6), {u2u.match_8.label()} (8)",
            f">= {u2u_min}/6" if u2u_min else "not required",
            PASS,
            s["double_unit_to_unit_min_6"].label,
        ),
        _double_crossmatch(a, b, s),
    )


def suggest_doubles(ctx: SearchContext, source: UnitSource, tables: NomenclatureTables) -> list[DoubleUnit]:
    """Up to DOUBLE_SUGGESTIONS pairs of acceptable units whose combined dose reaches the double-unit minimum,
    ordered by the worse unit's match group, then combined dose."""
    s = ctx.settings
    cand = top_slots(ctx, DOUBLE_CANDIDATES, double_mask(ctx))
    if len(cand) < 2:
        return []
    u2u_min = int(s.value("double_unit_to_unit_min_6"))
    ranked_cache: dict[int, tuple[RankedUnit, HlaTyping]] = {}

    def checked(k: int) -> tuple[RankedUnit, HlaTyping]:
        """The unit's exact checks (as inside a double graft) and its typing, computed once."""
        if k not in ranked_cache:
            ranked = ranked_units(ctx, [int(cand[k])], source, tables, start_rank=0, in_double=True)[0]
            ranked_cache[k] = ranked, parse_typing(ranked.unit.hla, tables)
        return ranked_cache[k]

    out: list[DoubleUnit] = []
    for comb, i, j in _candidate_pairs(ctx, cand, s.value("double_combined_tnc_min")):
        (a, ta), (b, tb) = checked(i), checked(j)
        if any(c.verdict == FAIL for c in (*a.checks, *b.checks)):
            continue  # the exact checks exclude one of the units (the vectorised filters are conservative)
        u2u = grade(ta, tb)
        m6 = u2u.match_6.bidirectional
        if u2u_min > 0 and (m6 is None or m6 < u2u_min):
            continue
        cd = None if a.cd34_per_kg is None or b.cd34_per_kg is None else a.cd34_per_kg + b.cd34_per_kg
        out.append(DoubleUnit(a, b, comb, cd, u2u.to_dict(), _double_checks(a, b, comb, u2u, u2u_min, s)))
        if len(out) >= DOUBLE_SUGGESTIONS:
            break
    return out


def _double_crossmatch(a: RankedUnit, b: RankedUnit, s: SelectionSettings) -> RuleCheck:
    """Both units of a double graft against the patient's antibodies: no DSA (possible DSA never enters a
    double), or antibodies not assessed on a unit (untyped DQ/DP), said per unit."""
    unassessed = [
        f"{u.unit.unit_id}: {c.value}"
        for u in (a, b)
        for c in u.checks
        if c.rule.startswith("donor-specific") and c.value.startswith("not assessed")
    ]
    return RuleCheck(
        "double unit: both units pass the virtual crossmatch",
        "no DSA against either unit" + (f"; {'; '.join(unassessed)}" if unassessed else ""),
        f"MFI >= {s.value('dsa_mfi'):g}",
        FLAG if unassessed else PASS,
        f"Cutler 2011 [V]; {s['dsa_mfi'].label}",
    )
