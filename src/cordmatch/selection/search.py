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
from cordmatch.matching.coded import CODED_LOCI, code_typing
from cordmatch.selection import kernel
from cordmatch.selection.crossmatch import AntibodyProfile, Crossmatch, antigen_members, assess
from cordmatch.selection.epitopes import DRB_SECONDARY, drb1_family
from cordmatch.selection.index import (
    ABO_CODES,
    ABO_KNOWN,
    ABO_SHIFT,
    ACCREDITED,
    LIVE,
    NIMA,
    NOT_CODABLE,
    RBC_DEPLETED,
    SEGMENT,
    UnitIndex,
    code_date,
)
from cordmatch.selection.model import (
    FAIL,
    INFO,
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
    mask: npt.NDArray[np.bool_]  # passes every hard filter, including the single-unit dose: ranked as a single
    acceptable: npt.NDArray[np.bool_]  # passes every hard filter except the single-unit dose
    prefix: npt.NDArray[Any]  # ranking keys before TNC, packed (higher is better; -1 rejected)
    suffix: npt.NDArray[Any]  # ranking keys after TNC, packed
    tnc_key: npt.NDArray[np.float32]
    exact_grades: dict[int, Any]
    today: dt.date
    tables: NomenclatureTables | None = None


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
    reject = (mm8 > th.max_mm8) | (kernel.field(packed, kernel.MM6) > th.max_mm6)
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


_NO_FILTER = DoseThresholds(1.0, 0.0, False, "single_tnc_min", 0.0, 0.0, 0.0, 8, None, 6)


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
    cautions = check_patient_loci(patient.typing)
    del cautions  # reported by search()
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
    if profile.extra:
        _extra_loci(index, profile, g, tables)
    n = index.n
    w = patient.weight_kg
    before, after = _key_parts(spec)
    prefix = _keys(before, g, th, spec.dsa_action == "exclude")
    acceptable = prefix >= 0
    acceptable &= index.tnc[:n] > np.float32(th.prefilter_tnc * TNC_UNIT * w)
    acceptable &= ~(index.cd34[:n] < np.float32(th.prefilter_cd34 * CD34_UNIT * w))
    mask = acceptable & _meets_single(index, g, th) if spec.require_single_dose else acceptable.copy()
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
        acceptable,
        prefix,
        _keys(after, g) if after else np.zeros(n, dtype=np.int32),
        tnc_key,
        exact_grades,
        today or dt.date.today(),
        tables,
    )


def check_patient_loci(typing: HlaTyping) -> list[str]:
    """A search needs the patient typed at A, B and DRB1 (InvalidInputError naming the missing loci);
    returns the cautions for other missing loci (HLA-C)."""
    missing = [f"HLA-{locus}" for locus in ("A", "B", "DRB1") if locus not in typing.loci]
    if missing:
        raise InvalidInputError(
            f"the patient typing lacks {', '.join(missing)}: a search needs HLA-A, -B and -DRB1 typed "
            "(match grades and the 4/6 floor are computed on them)",
            where="--patient",
        )
    if "C" not in typing.loci:
        return ["patient HLA-C not typed: 8/8 counts are unresolved for every unit; type HLA-C before selection"]
    return []


def _extra_loci(index: UnitIndex, profile: AntibodyProfile, g: kernel.Graded, tables: NomenclatureTables) -> None:
    """Antibodies at loci outside the coded ones (DRB3/4/5, DQ, DP): a unit typed there is assessed from its
    full typing; otherwise an antibody to DR51/52/53 is a possible DSA on units whose DRB1 group carries that
    locus (vectorised over the DRB1 genotypes). DQ/DP on untyped units: not assessed (checks only)."""
    n = index.n
    extra_possible = np.zeros(n, dtype=np.bool_)
    drb = [r for r in profile.extra if r.locus in DRB_SECONDARY]
    if drb:
        gt = index.genotypes[CODED_LOCI.index("DRB1")]
        carrier = _drb1_carriers(tables, frozenset().union(*(DRB_SECONDARY[r.locus] for r in drb)))
        by_genotype = carrier[gt.ag[:, 0].astype(np.intp) + 1] | carrier[gt.ag[:, 1].astype(np.intp) + 1]
        by_genotype |= gt.ag[:, 0] < 0  # DRB1 not typed: cannot be inferred
        extra_possible |= np.take(by_genotype, index.gid[2, :n], mode="clip")
    seen: dict[str, Crossmatch] = {}  # units share their DRB1/DRB3/4/5/DQ/DP parts: assess each once
    for slot, gl in index.extra_hla.items():
        key = "^".join(sorted(p for p in gl.split("^") if p.strip().split("*", 1)[0] in _EXTRA_KEY_LOCI))
        if "~" in gl or not key:  # phased across loci: the whole typing
            key = gl
        x = seen.get(key)
        if x is None:
            x = seen[key] = assess(profile.extra, parse_typing(key, tables), tables)
        extra_possible[slot] = bool(x.possible)
        if x.definite and kernel.field(g.packed[slot : slot + 1], kernel.DSA_DEF)[0] < 7:
            g.packed[slot] += np.uint16(1 << kernel.DSA_DEF)
    if g.dsa_possible is not None:
        extra_possible |= g.dsa_possible
    g.dsa_possible = extra_possible & ~g.dsa_definite()


_EXTRA_KEY_LOCI = frozenset({"DRB1", "DRB3", "DRB4", "DRB5", "DQB1", "DQA1", "DPB1", "DPA1"})


def _drb1_carriers(tables: NomenclatureTables, families: frozenset[str]) -> npt.NDArray[np.bool_]:
    """Antigen ids (+1 shifted) of DRB1 antigens whose alleles belong to the given first-field groups."""
    out = np.zeros(len(tables.serology_names) + 1, dtype=np.bool_)
    for a, name in enumerate(tables.alleles):
        if name.startswith("DRB1*") and drb1_family(name) in families:
            out[int(tables.allele_serology[a]) + 1] = True
    for k, members in enumerate(tables.serology_sets):  # an antigen set (DRB1*04:XX-like) carries it if any member does
        out[tables.serology_real + k + 1] = bool(out[[x + 1 for x in members]].any())
    return out


def _meets_single(index: UnitIndex, g: kernel.Graded, th: DoseThresholds) -> npt.NDArray[np.bool_]:
    """Units one of which is enough: TNC at the single-unit minimum (higher for >= 2 mismatches of 6 at
    worst, Barker 2010) and, when recorded, CD34+ at the single-unit minimum."""
    n = index.n
    w = th.weight_kg
    tnc = index.tnc[:n]
    thr = np.float32(th.single_tnc * TNC_UNIT * w)
    out: npt.NDArray[np.bool_] = tnc > thr if th.single_tnc_strict else tnc >= thr
    if th.single_tnc_mismatched > th.single_tnc:
        out &= ~g.mismatched6() | (tnc >= np.float32(th.single_tnc_mismatched * TNC_UNIT * w))
    out &= ~(index.cd34[:n] < np.float32(th.single_cd34 * CD34_UNIT * w))
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
        x = profile.typing_names(typing, tables)
        definite, possible = x.definite, x.possible or x.not_assessed
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
    from cordmatch.selection.index import ABO_KNOWN, ABO_NAMES, ABO_SHIFT

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


def _ranked(
    ctx: SearchContext,
    slots: Sequence[int],
    source: UnitSource,
    tables: NomenclatureTables,
    probability: ProbabilityGrader | None = None,
    start_rank: int = 1,
    in_double: bool = False,
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
        before, after = _key_parts(ctx.policy)
        mm = int(kernel.field(ctx.graded.packed[slot : slot + 1], kernel.MM8)[0])
        unsure = int(kernel.field(ctx.graded.packed[slot : slot + 1], kernel.UNSURE8)[0] > 0)
        old = max(0, min(31, 2 * (8 - mm) - unsure + 1))
        new = max(0, min(31, 2 * r.probable_8 - 1 + 1))  # just below a resolved unit of that count
        prefix -= (old - new) * _component_weight(before, "match") if "match" in before else 0
        suffix -= (old - new) * _component_weight(after, "match") if "match" in after else 0
    ties = int(_tie_bits(ctx, np.array([slot], dtype=np.int64))[0])
    return (prefix, float(ctx.tnc_key[slot]), suffix, ties, float(ctx.index.tnc[slot]), -slot)


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
    notes: list[str] = check_patient_loci(patient.typing)
    results = _final(ctx, top, source, tables, probability)
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
        from cordmatch.selection.doubles import suggest_doubles

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
    exp = explain_unit(ctx, explain, source, tables) if explain else None
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


def explain_unit(ctx: SearchContext, unit_id: str, source: UnitSource, tables: NomenclatureTables) -> Explanation:
    """Why ``unit_id`` was excluded (the failed checks) or ranked where it is (who ranks above, and why)."""
    try:
        slot = ctx.index.slot_of(unit_id)
    except NotFoundError:
        return Explanation(unit_id, "not found", None, (), (f"unit {unit_id} is not in the registry",))
    ranked = _ranked(ctx, [slot], source, tables, start_rank=0)[0]
    fails = [c for c in ranked.checks if c.verdict == FAIL]
    if (
        ctx.acceptable[slot]
        and not ctx.mask[slot]
        and all(c.rule.startswith(("TNC dose, single", "CD34+ dose, single")) for c in fails)
    ):
        lines = [
            "double only: passes the HLA and antibody rules but is below the single-unit dose, so it is not "
            "ranked as a single graft and gets no single-unit engraftment estimate",
            *(f"below: {c.sentence()}" for c in fails),
        ]
        return Explanation(unit_id, "double only", None, ranked.checks, tuple(lines))
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
