"""The per-unit half of a search: order the passing slots (ranking keys, then the tie-breakers), run the
exact checks on the best ones and keep the final list (:func:`final_units`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.errors import NotFoundError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping, parse_typing
from cordmatch.matching import grade
from cordmatch.matching.coded import CODED_LOCI
from cordmatch.selection import kernel
from cordmatch.selection.crossmatch import Crossmatch, antigen_members, assess
from cordmatch.selection.index import (
    ABO_CODES,
    ABO_KNOWN,
    ABO_NAMES,
    ABO_SHIFT,
    ACCREDITED,
    NIMA,
    NOT_CODABLE,
    RBC_DEPLETED,
    SEGMENT,
    code_date,
)
from cordmatch.selection.model import FAIL, INFO, RankedUnit, RuleCheck, UnitRecord
from cordmatch.selection.prepare import SearchContext, key_parts
from cordmatch.selection.rules import CD34_UNIT, TNC_UNIT, UnitFacts, abo_relation, age_in_years, unit_checks
from cordmatch.selection.source import ProbabilityGrader, UnitSource


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
    return order_slots(ctx, cand)[:n_top]


def _tie_bits(ctx: SearchContext, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    idx = ctx.index
    f = idx.flags[slots].astype(np.int64)
    # vectorised: a tied band may hold many units; only units with a recorded NIMA need the Python check
    nima = np.zeros(len(slots), dtype=np.int64)
    for k in np.flatnonzero((f & NIMA) > 0):
        nima[k] = _nima_match(ctx, int(slots[k])) is True
    pa = ctx.patient.abo
    abo = np.zeros(len(slots), dtype=np.int64)
    if pa in ABO_CODES:
        abo = (((f & ABO_KNOWN) > 0) & (((f >> ABO_SHIFT) & 3) == ABO_CODES[pa])).astype(np.int64)
    newer = idx.collected[slots].astype(np.int64)  # later date = larger
    bits = (
        (nima << 5)
        | (((f & ACCREDITED) > 0).astype(np.int64) << 4)
        | (((f & RBC_DEPLETED) > 0).astype(np.int64) << 3)
        | (abo << 2)
        | (((f & SEGMENT) > 0).astype(np.int64) << 1)
    )
    return bits * 65536 + newer


def order_slots(ctx: SearchContext, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``slots`` in rank order: keys before TNC, TNC, keys after TNC, tie-breakers, exact TNC, registry order."""
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
    tables = ctx.tables
    unit_ags = {int(m) for a in ag_u.ravel() if a >= 0 for m in (antigen_members(tables, int(a)) if tables else [a])}
    missing = set()
    for locus in ("A", "B", "DRB1"):
        lt = typing.loci.get(locus)
        if lt is None:
            continue
        for pos in lt.alternatives[0]:
            missing |= set(pos.antigens) - unit_ags
    return bool(missing) and missing <= nima


def _abo(ctx: SearchContext, slot: int) -> str | None:
    f = int(ctx.index.flags[slot])
    unit = ABO_NAMES[(f >> ABO_SHIFT) & 3] if f & ABO_KNOWN else None
    return abo_relation(ctx.patient.abo, unit)


def _c_mismatches(mg: Any) -> int:
    lg = mg.loci.get("C")
    v = None if lg is None else lg.allele.bidirectional
    return int(v or 0)


def _facts(
    ctx: SearchContext, slot: int, record: UnitRecord, mg: Any, typing: HlaTyping, in_double: bool = False
) -> UnitFacts:
    idx = ctx.index
    w = ctx.patient.weight_kg
    g = ctx.graded
    packed = g.packed[slot : slot + 1]
    tables = ctx.tables
    assert tables is not None
    if idx.flags[slot] & NOT_CODABLE:
        x = ctx.profile.typing_names(typing, tables)
        graded_by = "exact" if slot in ctx.exact_grades else "genotype alternatives"
    else:
        ag, al = idx.codes(slot)
        coded = ctx.profile.coded_names(ag, al, tables)
        other = assess(ctx.profile.extra, typing, tables)
        x = Crossmatch(
            coded.definite + other.definite, coded.possible + other.possible, coded.not_assessed + other.not_assessed
        )
        graded_by = "coded"
    cd34 = float(idx.cd34[slot])
    return UnitFacts(
        match_8=mg.match_8.bidirectional,
        match_6=mg.match_6.bidirectional,
        certain_mm8=int(kernel.field(packed, kernel.MM8)[0]),
        c_mismatches=_c_mismatches(mg),
        tnc_per_kg=float(idx.tnc[slot]) / TNC_UNIT / w,
        cd34_per_kg=None if np.isnan(cd34) else cd34 / CD34_UNIT / w,
        dsa_definite=x.definite,
        dsa_possible=x.possible,
        nima_match=_nima_match(ctx, slot),
        abo_relation=_abo(ctx, slot),
        age_years=age_in_years(code_date(int(idx.collected[slot])), ctx.today),
        record=record,
        graded_by=graded_by,
        certain_mm6=int(kernel.field(packed, kernel.MM6)[0]),
        mm6_worst=int(g.mm6_worst()[slot]) if g.packed.shape[0] > slot else 0,
        dsa_not_assessed=x.not_assessed,
        dsa_below=ctx.profile.below_names(typing, tables) if ctx.profile.below else (),
        in_double=in_double,
        untyped_loci=tuple(locus for locus in CODED_LOCI if locus not in typing.loci),
    )


def ranked_units(
    ctx: SearchContext,
    slots: Sequence[int],
    source: UnitSource,
    tables: NomenclatureTables,
    probability: ProbabilityGrader | None = None,
    start_rank: int = 1,
    in_double: bool = False,
) -> list[RankedUnit]:
    """The units at ``slots`` with their exact grade and every rule check (ranks from ``start_rank``)."""
    ids = [ctx.index.unit_id(int(s)) for s in slots]
    records = source.records(ids)
    out: list[RankedUnit] = []
    for k, (slot, uid) in enumerate(zip(slots, ids, strict=True)):
        rec = records.get(uid)
        if rec is None:
            raise NotFoundError(f"unit {uid} is in the index but not in the registry", where=uid)
        typing = parse_typing(rec.hla, tables)
        mg = grade(ctx.patient.typing, typing)
        facts = _facts(ctx, int(slot), rec, mg, typing, in_double)
        checks = list(unit_checks(facts, ctx.thresholds, ctx.settings, ctx.policy))
        probable: int | None = None
        if probability is not None and (facts.graded_by != "coded" or facts.match_8 is None):
            probs = probability(ctx.patient.typing, typing)
            if probs:
                value = ", ".join(f"{k2} {v:.2f}" for k2, v in probs.items())
                checks.append(
                    RuleCheck(
                        "match probability (unresolved typing)",
                        value,
                        "",
                        INFO,
                        "NMDP 2007 haplotype frequencies (Maiers 2007) [V]",
                    )
                )
                if facts.match_8 is None:
                    probable = probable_match_8(probs, 8 - facts.certain_mm8)
                    checks.append(
                        RuleCheck(
                            "ranking of an unresolved typing",
                            f"ranked as {probable}/8, its probable match (median of the match distribution in the "
                            f"patient's population), not its best case {8 - facts.certain_mm8}/8",
                            "",
                            INFO,
                            "cordmatch safety rule: an unknown is never taken as the best case",
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
                probable_8=probable,
            )
        )
    return out


def probable_match_8(probs: Mapping[str, float], upper: int) -> int:
    """The median 8-allele match of an unresolved unit from P(8/8) and P(>=7/8) (<= 6 otherwise), capped at
    its best case ``upper``."""
    p8, p7 = probs.get("P(8/8)", 0.0), probs.get("P(>=7/8)", 0.0)
    m = 8 if p8 >= 0.5 else 7 if p7 >= 0.5 else 6
    return min(m, upper)


def _component_weight(names: list[str], component: str) -> int:
    """Multiplier of one component in a packed ranking key (see :func:`_key_lut`)."""
    weight = 1
    for name in reversed(names):
        if name == component:
            return weight
        weight *= 32 if name == "match" else 2 if name == "c_match" else 4
    return 0


def _probable_keys(ctx: SearchContext, r: RankedUnit, slot: int) -> tuple[float, ...]:
    """Ranking key of a ranked unit (higher first), its match component taken from its probable match."""
    prefix, suffix = int(ctx.prefix[slot]), int(ctx.suffix[slot])
    if r.probable_8 is not None:
        before, after = key_parts(ctx.policy)
        mm = int(kernel.field(ctx.graded.packed[slot : slot + 1], kernel.MM8)[0])
        unsure = int(kernel.field(ctx.graded.packed[slot : slot + 1], kernel.UNSURE8)[0] > 0)
        old = max(0, min(31, 2 * (8 - mm) - unsure + 1))
        new = max(0, min(31, 2 * r.probable_8 - 1 + 1))  # just below a resolved unit of that count
        prefix -= (old - new) * _component_weight(before, "match") if "match" in before else 0
        suffix -= (old - new) * _component_weight(after, "match") if "match" in after else 0
    ties = int(_tie_bits(ctx, np.array([slot], dtype=np.int64))[0])
    return (prefix, float(ctx.tnc_key[slot]), suffix, ties, float(ctx.index.tnc[slot]), -slot)


def final_units(
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
        ranked = ranked_units(ctx, [int(s) for s in best], source, tables, probability)
        kept = [r for r in ranked if not any(c.verdict == FAIL for c in r.checks)]
        if any(r.probable_8 is not None for r in kept):
            # unresolved typings ranked by their probable match: they can only move down, so the list is final
            # once its last unit ranks at or above the best case of every unit not fetched yet
            slot_of = {r.unit.unit_id: int(s) for r, s in zip(ranked, best, strict=True)}
            keys = {r.unit.unit_id: _probable_keys(ctx, r, slot_of[r.unit.unit_id]) for r in kept}
            kept.sort(key=lambda r: keys[r.unit.unit_id], reverse=True)
            done = len(best) < want or (
                len(kept) >= top
                and keys[kept[top - 1].unit.unit_id]
                >= _probable_keys(ctx, replace(ranked[-1], probable_8=None), int(best[-1]))
            )
        else:
            done = len(kept) >= top or len(best) < want
        if done:
            break
        want *= 2
    for r, slot in zip(ranked, best, strict=True):
        if any(c.verdict == FAIL for c in r.checks):
            ctx.mask[int(slot)] = False
    return [replace(r, rank=i) for i, r in enumerate(kept[:top], start=1)]
