"""One patient's search: grade every unit (vectorised), apply the hard filters, rank by the policy, explain.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError, NotFoundError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping, parse_typing
from cordmatch.matching import grade
from cordmatch.matching.coded import code_typing
from cordmatch.selection import kernel
from cordmatch.selection.crossmatch import AntibodyProfile
from cordmatch.selection.index import (
    ACCREDITED,
    EXACT,
    LIVE,
    RBC_DEPLETED,
    SEGMENT,
    UnitIndex,
    code_date,
)
from cordmatch.selection.model import (
    FAIL,
    PASS,
    DoubleUnit,
    Explanation,
    Patient,
    RankedUnit,
    RuleCheck,
    SearchOutcome,
    UnitRecord,
)
from cordmatch.selection.rules import (
    CD34_UNIT,
    TNC_UNIT,
    DoseThresholds,
    UnitFacts,
    abo_relation,
    age_in_years,
    resolve_thresholds,
    unit_checks,
)
from cordmatch.selection.settings import PolicySpec, SelectionSettings, default_settings

DOUBLE_CANDIDATES = 30
DOUBLE_SUGGESTIONS = 3


class UnitSource(Protocol):
    """Where full unit records come from (the bank store, a Parquet registry, a dict in tests)."""

    def records(self, unit_ids: Sequence[str]) -> Mapping[str, UnitRecord]: ...


#: Seam for cordmatch.probability: P(8/8), P(>=7/8), P(6/6) of an ambiguous unit, or None.
ProbabilityGrader = Callable[[HlaTyping, HlaTyping], Mapping[str, float] | None]


@dataclass
class DictSource:
    """Unit records held in memory."""

    by_id: dict[str, UnitRecord] = field(default_factory=dict)

    def records(self, unit_ids: Sequence[str]) -> Mapping[str, UnitRecord]:
        return {u: self.by_id[u] for u in unit_ids if u in self.by_id}


@dataclass
class SearchContext:
    """Everything one search computed over all slots (kept for explain and for tests)."""

    index: UnitIndex
    patient: Patient
    policy: PolicySpec
    settings: SelectionSettings
    thresholds: DoseThresholds
    profile: AntibodyProfile
    graded: kernel.Graded
    mask: npt.NDArray[np.bool_]  # passes every hard filter
    prefix: npt.NDArray[Any]  # ranking keys before TNC, packed (higher is better; -1 rejected)
    suffix: npt.NDArray[Any]  # ranking keys after TNC, packed
    tnc_key: npt.NDArray[np.float32]
    exact_grades: dict[int, Any]
    today: dt.date


def _weight_check(weight_kg: float) -> None:
    if not (weight_kg > 0 and np.isfinite(weight_kg)):
        raise InvalidInputError(f"weight must be a positive number of kg, got {weight_kg:g}", where="--weight")


def _key_parts(policy: PolicySpec) -> tuple[list[str], list[str]]:
    order = list(policy.order)
    if "tnc" not in order:
        return order, []
    i = order.index("tnc")
    return order[:i], order[i + 1 :]


def _key_lut(names: list[str], th: DoseThresholds, dsa_exclude: bool) -> npt.NDArray[np.int32]:
    """Ranking key of every possible packed value (65,536 entries), -1 where the HLA hard filters (minimum
    match, Eurocord maximum mismatches, DSA exclusion) reject it: one gather per search gives the keys."""
    packed = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    key = np.zeros(65536, dtype=np.int32)
    for name in names:
        if name == "match":
            mm = kernel.field(packed, kernel.MM8).astype(np.int32)
            unsure = (kernel.field(packed, kernel.UNSURE8) > 0).astype(np.int32)
            key = key * 32 + np.clip(2 * (8 - mm) - unsure + 1, 0, 31)
        elif name == "dsa":
            key = key * 4 + np.where(kernel.field(packed, kernel.DSA_DEF) > 0, 0, 2)
        elif name == "c_match":
            key = key * 2 + (kernel.field(packed, kernel.C_MM) == 0).astype(np.int32)
    mm8 = kernel.field(packed, kernel.MM8)
    reject = mm8 > th.max_mm8
    if th.eurocord_max_mm is not None:
        reject |= mm8 > th.eurocord_max_mm
    if dsa_exclude:
        reject |= kernel.field(packed, kernel.DSA_DEF) > 0
    key[reject] = -1
    return key


def _keys(
    names: list[str], g: kernel.Graded, th: DoseThresholds | None = None, dsa_exclude: bool = False
) -> npt.NDArray[Any]:
    """Ranking keys (higher is better; -1 = rejected by an HLA filter when ``th`` is given) for every slot."""
    lut = _key_lut(names, th or _NO_FILTER, dsa_exclude)
    if lut.max() < np.iinfo(np.int16).max:  # a small table and half the bytes for the later passes
        key: npt.NDArray[Any] = np.take(lut.astype(np.int16), g.packed, mode="clip")
    else:
        key = np.take(lut, g.packed, mode="clip")
    if "dsa" in names and g.dsa_possible is not None and g.dsa_possible.any():
        # possible DSA ranks between none and definite: one step down on the dsa key
        weight = 1
        for name in reversed(names):
            if name == "dsa":
                break
            weight *= 32 if name == "match" else 2 if name == "c_match" else 4
        key = np.where(key >= 0, key - g.dsa_possible.astype(key.dtype) * weight, key).astype(key.dtype)
    return key


_NO_FILTER = DoseThresholds(1.0, 0.0, False, "single_tnc_min", 0.0, 0.0, 0.0, 8, None)


def prepare(
    index: UnitIndex,
    patient: Patient,
    tables: NomenclatureTables,
    *,
    policy: str = "nmdp",
    settings: SelectionSettings | None = None,
    today: dt.date | None = None,
) -> SearchContext:
    """Grade every unit, patch the exactly graded ones, compute the hard-filter mask and ranking keys."""
    settings = settings or default_settings()
    spec = settings.policy(policy)
    _weight_check(patient.weight_kg)
    if len(index) == 0:
        raise InvalidInputError("the registry is empty: no units to search", where="registry")
    coded = code_typing(patient.typing)
    if coded is None:
        raise InvalidInputError(
            "the patient typing is ambiguous at A, B, C or DRB1 (genotype alternatives or allele lists across "
            "antigens); search needs one antigen per position (allele lists within an antigen are fine)",
            where="--patient",
        )
    p_ag, p_al = coded
    th = resolve_thresholds(settings, spec, patient.weight_kg, patient.malignant)
    profile = AntibodyProfile.build(patient.antibodies, tables, settings.value("dsa_mfi"))
    g = kernel.grade_index(index, p_ag, p_al, profile, tables.coded_relation)
    exact_grades = _grade_exact(index, patient, profile, g, tables)
    n = index.n
    w = patient.weight_kg
    before, after = _key_parts(spec)
    prefix = _keys(before, g, th, spec.dsa_action == "exclude")
    mask = prefix >= 0
    mask &= index.tnc[:n] > np.float32(th.prefilter_tnc * TNC_UNIT * w)
    mask &= ~(index.cd34[:n] < np.float32(th.prefilter_cd34 * CD34_UNIT * w))
    if spec.require_single_dose:
        mask &= _meets_single(index.tnc[:n], th)
    band = settings.value("tie_band_tnc")
    tnc_key = index.tnc[:n] / np.float32(TNC_UNIT * w)
    if band > 0:
        tnc_key = np.floor(tnc_key / np.float32(band)).astype(np.float32)
    return SearchContext(
        index,
        patient,
        spec,
        settings,
        th,
        profile,
        g,
        mask,
        prefix,
        _keys(after, g) if after else np.zeros(n, dtype=np.int32),
        tnc_key,
        exact_grades,
        today or dt.date.today(),
    )


def _meets_single(tnc_cells: npt.NDArray[np.float32], th: DoseThresholds) -> npt.NDArray[np.bool_]:
    thr = np.float32(th.single_tnc * TNC_UNIT * th.weight_kg)
    out: npt.NDArray[np.bool_] = tnc_cells > thr if th.single_tnc_strict else tnc_cells >= thr
    return out


def _grade_exact(
    index: UnitIndex, patient: Patient, profile: AntibodyProfile, g: kernel.Graded, tables: NomenclatureTables
) -> dict[int, Any]:
    """Grade the side list (uncodable units) exactly and write their results into the packed arrays."""
    out: dict[int, Any] = {}
    for slot, typing in list(index.exact.items()):
        if not index.flags[slot] & LIVE:
            continue
        if isinstance(typing, str):
            typing = parse_typing(typing, tables)
            index.exact[slot] = typing
        mg = grade(patient.typing, typing)
        out[slot] = mg
        mm8 = unsure = mm6 = bad6 = c = 0
        for li, locus in enumerate(("A", "B", "C", "DRB1")):
            lg = mg.loci.get(locus)
            al = None if lg is None or lg.typed != "both" else lg.allele.bidirectional
            ag = None if lg is None or lg.typed != "both" else lg.antigen.bidirectional
            mm8 += al or 0
            unsure += al is None
            if li < 2:
                mm6 += ag or 0
                bad6 += ag is None
            elif li == 3:
                mm6 += al or 0
                bad6 += al is None
            else:
                c = al or 0
        definite, possible = profile.typing_names(typing)
        packed = (mm8 << kernel.MM8) | (mm6 << kernel.MM6) | (min(unsure, 7) << kernel.UNSURE8)
        packed |= (min(bad6, 3) << kernel.BAD6) | ((1 if definite else 0) << kernel.DSA_DEF)
        g.packed[slot] = packed | ((1 if c else 0) << kernel.C_MM)
        if possible and not definite:
            if g.dsa_possible is None:
                g.dsa_possible = np.zeros(index.n, dtype=np.bool_)
            g.dsa_possible[slot] = True
    return out


def top_slots(ctx: SearchContext, n_top: int, mask: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.int64]:
    """The best ``n_top`` slots passing ``mask`` (default: the hard filters), in rank order."""
    mask = ctx.mask if mask is None else mask
    cand = np.flatnonzero(mask)
    if len(cand) > n_top:
        # a histogram of the keys of the passing units finds the level that completes the list
        pm = ctx.prefix[cand]
        above = np.cumsum(np.bincount(pm)[::-1])[::-1]  # units with key >= k
        t = int(np.flatnonzero(above >= n_top)[-1])
        sure = cand[pm > t]
        tied = cand[pm == t]
        need = n_top - len(sure)
        if len(tied) > need:
            tk = ctx.tnc_key[tied]
            part = np.argpartition(-tk, need - 1)[:need]
            cutoff = tk[part].min()
            tied = tied[tk >= cutoff]  # keep ties at the cut: the tie-breakers decide among them
        cand = np.concatenate([sure, tied])
    return _order(ctx, cand)[:n_top]


def _tie_bits(ctx: SearchContext, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    idx = ctx.index
    f = idx.flags[slots].astype(np.int64)
    nima = np.array([_nima_match(ctx, int(s)) is True for s in slots], dtype=np.int64)
    abo = np.array([_abo(ctx, int(s)) == "identical" for s in slots], dtype=np.int64)
    newer = idx.collected[slots].astype(np.int64)  # later date = larger
    bits = (
        (nima << 5)
        | (((f & ACCREDITED) > 0).astype(np.int64) << 4)
        | (((f & RBC_DEPLETED) > 0).astype(np.int64) << 3)
        | (abo << 2)
        | (((f & SEGMENT) > 0).astype(np.int64) << 1)
    )
    return bits * 65536 + newer


def _order(ctx: SearchContext, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    ties = _tie_bits(ctx, slots)
    exact_tnc = ctx.index.tnc[slots]
    keys = (slots, -exact_tnc, -ties, -ctx.suffix[slots], -ctx.tnc_key[slots], -ctx.prefix[slots])
    return slots[np.lexsort(keys)]


def _nima_match(ctx: SearchContext, slot: int) -> bool | None:
    nima = ctx.index.nima(slot)
    if nima is None:
        return None
    typing = ctx.patient.typing
    ag_u, _ = ctx.index.codes(slot)
    unit_ags = {int(a) for a in ag_u.ravel() if a >= 0}
    missing = set()
    for locus in ("A", "B", "DRB1"):
        lt = typing.loci.get(locus)
        if lt is None:
            continue
        for pos in lt.alternatives[0]:
            missing |= set(pos.antigens) - unit_ags
    return bool(missing) and missing <= nima


def _abo(ctx: SearchContext, slot: int) -> str | None:
    from cordmatch.selection.index import ABO_KNOWN, ABO_NAMES, ABO_SHIFT

    f = int(ctx.index.flags[slot])
    unit = ABO_NAMES[(f >> ABO_SHIFT) & 3] if f & ABO_KNOWN else None
    return abo_relation(ctx.patient.abo, unit)


def _c_mismatches(mg: Any) -> int:
    lg = mg.loci.get("C")
    v = None if lg is None else lg.allele.bidirectional
    return int(v or 0)


def _facts(ctx: SearchContext, slot: int, record: UnitRecord, mg: Any, typing: HlaTyping) -> UnitFacts:
    idx = ctx.index
    w = ctx.patient.weight_kg
    g = ctx.graded
    packed = g.packed[slot : slot + 1]
    if idx.flags[slot] & EXACT:
        definite, possible = ctx.profile.typing_names(typing)
        graded_by = "exact" if slot in ctx.exact_grades else "genotype alternatives"
    else:
        ag, al = idx.codes(slot)
        definite, possible = ctx.profile.coded_names(ag, al)
        graded_by = "coded"
    cd34 = float(idx.cd34[slot])
    return UnitFacts(
        match_8=mg.match_8.bidirectional,
        match_6=mg.match_6.bidirectional,
        certain_mm8=int(kernel.field(packed, kernel.MM8)[0]),
        c_mismatches=_c_mismatches(mg),
        tnc_per_kg=float(idx.tnc[slot]) / TNC_UNIT / w,
        cd34_per_kg=None if np.isnan(cd34) else cd34 / CD34_UNIT / w,
        dsa_definite=tuple(definite),
        dsa_possible=tuple(possible),
        nima_match=_nima_match(ctx, slot),
        abo_relation=_abo(ctx, slot),
        age_years=age_in_years(code_date(int(idx.collected[slot])), ctx.today),
        record=record,
        graded_by=graded_by,
    )


def _ranked(
    ctx: SearchContext,
    slots: Sequence[int],
    source: UnitSource,
    tables: NomenclatureTables,
    probability: ProbabilityGrader | None = None,
    start_rank: int = 1,
) -> list[RankedUnit]:
    ids = [ctx.index.unit_id(int(s)) for s in slots]
    records = source.records(ids)
    out: list[RankedUnit] = []
    for k, (slot, uid) in enumerate(zip(slots, ids, strict=True)):
        rec = records.get(uid)
        if rec is None:
            raise NotFoundError(f"unit {uid} is in the index but not in the registry", where=uid)
        typing = parse_typing(rec.hla, tables)
        mg = grade(ctx.patient.typing, typing)
        facts = _facts(ctx, int(slot), rec, mg, typing)
        checks = list(unit_checks(facts, ctx.thresholds, ctx.settings, ctx.policy))
        if probability is not None and (facts.graded_by != "coded" or facts.match_8 is None):
            probs = probability(ctx.patient.typing, typing)
            if probs:
                value = ", ".join(f"{k2} {v:.2f}" for k2, v in probs.items())
                checks.append(
                    RuleCheck(
                        "match probability (unresolved typing)",
                        value,
                        "",
                        "info",
                        "NMDP 2007 haplotype frequencies (Maiers 2007) [V]",
                    )
                )
        out.append(
            RankedUnit(
                rank=start_rank + k,
                unit=rec,
                grade=mg.to_dict(),
                tnc_per_kg=facts.tnc_per_kg,
                cd34_per_kg=facts.cd34_per_kg,
                checks=tuple(checks),
                graded_by=facts.graded_by,
            )
        )
    return out


def _final(
    ctx: SearchContext,
    top: int,
    source: UnitSource,
    tables: NomenclatureTables,
    probability: ProbabilityGrader | None,
) -> list[RankedUnit]:
    """The top units after the exact checks: the vectorised filters are conservative (a coded allele list is
    'unresolved' where the exact grade may settle a mismatch), so a candidate whose exact checks fail is
    dropped and the next one taken."""
    want = top
    while True:
        best = top_slots(ctx, want)
        ranked = _ranked(ctx, [int(s) for s in best], source, tables, probability)
        kept = [r for r in ranked if not any(c.verdict == FAIL for c in r.checks)]
        if len(kept) >= top or len(best) < want:
            break
        want *= 2
    for slot in (ctx.index.slot_of(r.unit.unit_id) for r in ranked if r not in kept):
        ctx.mask[slot] = False
    return [replace(r, rank=i) for i, r in enumerate(kept[:top], start=1)]


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
        raise InvalidInputError(f"--top must be at least 1, got {top}", where="--top")
    ctx = prepare(index, patient, tables, policy=policy, settings=settings, today=today)
    results = _final(ctx, top, source, tables, probability)
    th = ctx.thresholds
    n = index.n
    eligible = ctx.mask if not ctx.policy.require_single_dose else _double_mask(ctx, single=False)
    single_ok = eligible & _meets_single(index.tnc[:n], th)
    notes: list[str] = []
    doubles: list[DoubleUnit] = []
    if not single_ok.any():
        op = ">" if th.single_tnc_strict else ">="
        notes.append(
            f"no single unit reaches the single-unit dose ({op} {th.single_tnc:g} x10^7 TNC/kg "
            f"[{ctx.settings[th.single_tnc_name].label}]): double-unit grafts suggested"
        )
        doubles = _doubles(ctx, source, tables)
        if not doubles:
            notes.append("no pair of units meets the double-unit criteria")
    if not results:
        notes.append("no unit passes the hard filters; use --explain UNIT to see why a unit was excluded")
    if ctx.profile.not_assessed:
        notes.append(
            "antibodies at loci outside A, B, C, DRB1 not assessed: "
            + ", ".join(a.specificity for a in ctx.profile.not_assessed)
        )
    exp = explain_unit(ctx, explain, source, tables) if explain else None
    counts = {
        "units": len(index),
        "passing_filters": int(np.count_nonzero(ctx.mask)),
        "graded_exactly": len(ctx.exact_grades),
        "meeting_single_unit_dose": int(np.count_nonzero(single_ok)),
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


def base_mask(index: UnitIndex, g: kernel.Graded, th: DoseThresholds) -> npt.NDArray[np.bool_]:
    """The hard filters every policy applies: live, TNC and CD34+ pre-filters, minimum match, Eurocord
    maximum mismatches (when the policy sets it)."""
    n = index.n
    w = th.weight_kg
    mm8 = kernel.field(g.packed, kernel.MM8)
    mask: npt.NDArray[np.bool_] = (index.flags[:n] & LIVE) != 0
    mask &= index.tnc[:n] > np.float32(th.prefilter_tnc * TNC_UNIT * w)
    mask &= ~(index.cd34[:n] < np.float32(th.prefilter_cd34 * CD34_UNIT * w))
    mask &= mm8 <= th.max_mm8
    if th.eurocord_max_mm is not None:
        mask &= mm8 <= th.eurocord_max_mm
    return mask


def _double_mask(ctx: SearchContext, single: bool = False) -> npt.NDArray[np.bool_]:
    """Hard filters for units of a double graft: the search filters (without the single-unit dose), each unit
    >= the per-unit minimums, and no definite or possible DSA (both units must pass the crossmatch)."""
    idx, s = ctx.index, ctx.settings
    n = idx.n
    w = ctx.patient.weight_kg
    g = ctx.graded
    mask = base_mask(idx, g, ctx.thresholds)
    if single:
        return mask
    mask &= idx.tnc[:n] >= np.float32(s.value("double_each_tnc_min") * TNC_UNIT * w)
    mask &= ~(idx.cd34[:n] < np.float32(s.value("double_each_cd34_min") * CD34_UNIT * w))
    mask &= ~g.dsa_definite()
    if g.dsa_possible is not None:
        mask &= ~g.dsa_possible
    return mask


def _doubles(ctx: SearchContext, source: UnitSource, tables: NomenclatureTables) -> list[DoubleUnit]:
    s = ctx.settings
    w = ctx.patient.weight_kg
    cand = top_slots(ctx, DOUBLE_CANDIDATES, _double_mask(ctx))
    if len(cand) < 2:
        return []
    tnc = ctx.index.tnc[cand].astype(np.float64) / TNC_UNIT / w
    group = ctx.prefix[cand]
    combined_min = s.value("double_combined_tnc_min")
    pairs = [
        (min(group[i], group[j]), tnc[i] + tnc[j], i, j)
        for i in range(len(cand))
        for j in range(i + 1, len(cand))
        if tnc[i] + tnc[j] > combined_min
    ]
    pairs.sort(key=lambda p: (-p[0], -p[1]))
    u2u_min = int(s.value("double_unit_to_unit_min_6"))
    ranked_cache: dict[int, RankedUnit] = {}
    typing_cache: dict[int, HlaTyping] = {}
    out: list[DoubleUnit] = []
    for _, comb, i, j in pairs:
        for k in (i, j):
            if k not in ranked_cache:
                ranked_cache[k] = _ranked(ctx, [int(cand[k])], source, tables, start_rank=0)[0]
                typing_cache[k] = parse_typing(ranked_cache[k].unit.hla, tables)
        u2u = grade(typing_cache[i], typing_cache[j])
        m6 = u2u.match_6.bidirectional
        if u2u_min > 0 and (m6 is None or m6 < u2u_min):
            continue
        a, b = ranked_cache[i], ranked_cache[j]
        cd = None if a.cd34_per_kg is None or b.cd34_per_kg is None else a.cd34_per_kg + b.cd34_per_kg
        checks = (
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
                PASS if a.cd34_per_kg is not None and b.cd34_per_kg is not None else "flag",
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
            RuleCheck(
                "double unit: both units pass the virtual crossmatch",
                "no DSA against either unit",
                f"MFI >= {s.value('dsa_mfi'):g}",
                PASS,
                f"Cutler 2011 [V]; {s['dsa_mfi'].label}",
            ),
        )
        out.append(DoubleUnit(a, b, comb, cd, u2u.to_dict(), checks))
        if len(out) >= DOUBLE_SUGGESTIONS:
            break
    return out


def explain_unit(ctx: SearchContext, unit_id: str, source: UnitSource, tables: NomenclatureTables) -> Explanation:
    """Why ``unit_id`` was excluded (the failed checks) or ranked where it is (who ranks above, and why)."""
    try:
        slot = ctx.index.slot_of(unit_id)
    except NotFoundError:
        return Explanation(unit_id, "not found", None, (), (f"unit {unit_id} is not in the registry",))
    ranked = _ranked(ctx, [slot], source, tables, start_rank=0)[0]
    fails = [c for c in ranked.checks if c.verdict == FAIL]
    if not ctx.mask[slot] or fails:
        lines = [f"excluded: {c.sentence()}" for c in fails] or ["excluded by the hard filters"]
        return Explanation(unit_id, "excluded", None, ranked.checks, tuple(lines))
    m = ctx.mask
    p = ctx.prefix[slot]
    better_prefix = int(np.count_nonzero(m & (ctx.prefix > p)))
    same = m & (ctx.prefix == p)
    better_tnc = int(np.count_nonzero(same & (ctx.tnc_key > ctx.tnc_key[slot])))
    same_tnc = same & (ctx.tnc_key == ctx.tnc_key[slot])
    peers = np.flatnonzero(same_tnc)
    order = _order(ctx, peers) if len(peers) <= 5000 else peers
    pos = int(np.flatnonzero(order == slot)[0]) if slot in order else 0
    rank = better_prefix + better_tnc + pos + 1
    keys_before, _ = _key_parts(ctx.policy)
    lines = [f"ranked {rank} of {int(np.count_nonzero(m))} units passing the filters (policy {ctx.policy.name})"]
    if better_prefix:
        lines.append(
            f"{better_prefix} unit(s) rank above on {', '.join(keys_before) or 'the first keys'} "
            f"(this unit: match {ranked.match_8 if ranked.match_8 is not None else 'unresolved'}/8)"
        )
    if better_tnc:
        lines.append(
            f"{better_tnc} unit(s) with the same {', '.join(keys_before) or 'keys'} have a higher TNC dose "
            f"(this unit {ranked.tnc_per_kg:.2f} x10^7/kg)"
        )
    if pos:
        lines.append(f"{pos} unit(s) with the same keys and dose win on the tie-breakers or remaining keys")
    flags = [c for c in ranked.checks if c.verdict == "flag"]
    lines.extend(f"caution: {c.sentence()}" for c in flags)
    return Explanation(unit_id, "ranked", rank, ranked.checks, tuple(lines))
