"""Grade a patient against a donor or cord blood unit, per locus and per position, with reasons.

Semantics (docs/adr/0002-grading-semantics.md):
- *allele match*: same protein in the antigen recognition site, i.e. the same lgx (P group at two
  fields); *antigen match*: the same WHO serologic antigen (an associated antigen counts as its parent,
  a broad and its split are related: not a certain mismatch); *unresolved*: the typing is too low to tell.
- A position's value at a level is the set of ids its expressed alleles have there. Two positions match
  when every pair of values is the same (allele: one lgx; antigen: the WHO relation says same), mismatch
  when every pair differs, and are unresolved else.
- Directional counts over positions: GvH counts the patient positions whose value the donor certainly
  lacks, HvG the donor positions the patient certainly lacks; bidirectional is the larger. A locus with
  one null position counts as homozygous for the other, so a one-sided homozygous mismatch counts once,
  in one direction only. Any position the typing cannot settle makes the count ``None``.
- Genotype alternatives (``|``) are graded one by one; a count is given only when all agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np

from cordmatch.hla.loci import GRADED_LOCI, MATCH_6_LOCI, MATCH_8_LOCI
from cordmatch.hla.serology import MATCH, MISMATCH
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import GenotypePair, HlaTyping, LocusTyping, Position
from cordmatch.matching.model import (
    ALLELE_MATCH,
    ANTIGEN_MATCH_ALLELE_MISMATCH,
    ANTIGEN_MISMATCH,
    UNRESOLVED,
    Comparison,
    DirectionalCounts,
    LocusGrade,
    MatchCount,
    MatchGrade,
    PositionGrade,
)

LEVELS = ("antigen", "allele")


def _presented(pair: GenotypePair) -> list[Position]:
    """Positions whose antigens are presented: a null position copies the other (homozygous)."""
    p1, p2 = pair
    if p1.is_null and p2.is_null:
        return []
    if p1.is_null:
        return [p2, p2]
    if p2.is_null:
        return [p1, p1]
    return [p1, p2]


def _directional(src: Sequence[Position], tgt: Sequence[Position], level: str) -> int | None:
    """Positions of ``src`` whose value ``tgt`` certainly lacks; None when any is unsettled.

    Allele level compares lgx ids; antigen level compares serologic antigens through the WHO relation
    (``tables.serology_relation``: same, related through a broad, different).
    """
    if level == "antigen" and src:
        return _directional_antigen(src, tgt)
    tgt_sets = [p.values(level) for p in tgt]
    union: set[int] = set().union(*tgt_sets) if tgt_sets else set()
    singles = {next(iter(s)) for s in tgt_sets if len(s) == 1}
    count = 0
    for p in src:
        s = p.values(level)
        if s <= singles:
            continue
        if s.isdisjoint(union):
            count += 1
        else:
            return None
    return count


def _relations(tables: NomenclatureTables, a: frozenset[int], b: frozenset[int]) -> set[int]:
    """The WHO relations of every antigen pair of two positions (a set of MATCH / RELATED / MISMATCH)."""
    rel = tables.serology_relation
    if len(a) == 1 and len(b) == 1:  # the common case: one antigen each
        return {int(rel[next(iter(a)), next(iter(b))])}
    return {int(r) for r in np.unique(rel[np.ix_(sorted(a), sorted(b))])}


def _directional_antigen(src: Sequence[Position], tgt: Sequence[Position]) -> int | None:
    tables = src[0].tables
    targets = [p.antigens for p in tgt if p.antigens]
    count = 0
    for p in src:
        if not p.antigens:
            continue
        found = [_relations(tables, p.antigens, t) for t in targets]
        # present: one target position is certainly the same antigen, whichever the position is
        if any(r == {MATCH} for r in found):
            continue
        if all(r == {MISMATCH} for r in found):
            count += 1
        else:
            return None
    return count


def _compare(a: frozenset[int], b: frozenset[int]) -> Comparison:
    if len(a) == 1 and a == b:
        return Comparison.MATCH
    if a.isdisjoint(b):
        return Comparison.MISMATCH
    return Comparison.UNRESOLVED


def _compare_antigens(p: Position, d: Position) -> Comparison:
    """match when every antigen pair is the same antigen, mismatch when every pair differs, else unresolved."""
    if not p.antigens or not d.antigens:
        return Comparison.MISMATCH
    found = _relations(p.tables, p.antigens, d.antigens)
    if found == {MATCH}:
        return Comparison.MATCH
    if found == {MISMATCH}:
        return Comparison.MISMATCH
    return Comparison.UNRESOLVED


def _names(ids: frozenset[int], names: list[str], limit: int = 3) -> str:
    shown = sorted(names[i] for i in ids)
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


def _position_grade(p: Position, d: Position) -> PositionGrade:
    t = p.tables
    ag = _compare_antigens(p, d)
    al = Comparison.MISMATCH if ag == Comparison.MISMATCH else _compare(p.proteins, d.proteins)
    pl, dl = p.label, d.label
    if p.is_null or d.is_null:
        side = "patient" if p.is_null else "donor"
        note = f"{side} allele {pl if p.is_null else dl} is null (not expressed): locus counted as homozygous"
    else:
        note = ""
    if al == Comparison.MATCH:
        grade = ALLELE_MATCH
        protein = _names(p.proteins, t.lgx_names)
        reason = f"same protein in the antigen recognition site (P group {protein})"
    elif ag == Comparison.MATCH and al == Comparison.MISMATCH:
        grade = ANTIGEN_MATCH_ALLELE_MISMATCH
        reason = (
            f"same antigen {_names(p.antigens, t.serology_names)}, different proteins "
            f"({_names(p.proteins, t.lgx_names)} vs {_names(d.proteins, t.lgx_names)})"
        )
    elif ag == Comparison.MISMATCH:
        grade = ANTIGEN_MISMATCH
        reason = (
            f"different antigens ({_names(p.antigens, t.serology_names)} vs {_names(d.antigens, t.serology_names)})"
        )
    else:
        grade = UNRESOLVED
        low = [
            f"{who} {lab} may be {len(pos.proteins)} proteins"
            for who, lab, pos in (("patient", pl, p), ("donor", dl, d))
            if len(pos.proteins) > 1
        ]
        if ag == Comparison.UNRESOLVED and len(p.antigens) == 1 and len(d.antigens) == 1:
            reason = (
                f"{_names(p.antigens, t.serology_names)} and {_names(d.antigens, t.serology_names)} are related "
                "through a broad antigen (WHO rel_ser_ser): the typing does not tell whether they are the same split"
            )
        elif ag == Comparison.MATCH:
            reason = f"antigen match ({_names(p.antigens, t.serology_names)}); allele level unresolved: " + "; ".join(
                low
            )
        else:
            reason = "typing too low to tell the antigen: " + "; ".join(
                f"{who} {lab} may be {_names(pos.antigens, t.serology_names)}"
                for who, lab, pos in (("patient", pl, p), ("donor", dl, d))
                if len(pos.antigens) > 1
            )
    if note:
        reason = f"{reason}; {note}"
    return PositionGrade(pl, dl, grade, ag, al, reason)


_SCORE = {ALLELE_MATCH: 0, ANTIGEN_MATCH_ALLELE_MISMATCH: 2, UNRESOLVED: 1, ANTIGEN_MISMATCH: 4}


def _best_pairing(pg: GenotypePair, dg: GenotypePair) -> tuple[PositionGrade, PositionGrade]:
    pp, dp = _presented(pg) or list(pg), _presented(dg) or list(dg)
    straight = (_position_grade(pp[0], dp[0]), _position_grade(pp[1], dp[1]))
    crossed = (_position_grade(pp[0], dp[1]), _position_grade(pp[1], dp[0]))

    def score(pair: tuple[PositionGrade, PositionGrade]) -> int:
        return sum(_SCORE[g.grade] for g in pair)

    return crossed if score(crossed) < score(straight) else straight


def _merge(grades: list[PositionGrade]) -> PositionGrade:
    """One position's grade across genotype alternatives: kept where they agree, else unresolved."""
    first = grades[0]
    if all(g.grade == first.grade for g in grades):
        return first

    def agreed(values: set[Comparison]) -> Comparison:
        return values.pop() if len(values) == 1 else Comparison.UNRESOLVED

    seen = ", ".join(sorted({f"{g.patient} vs {g.donor}: {g.grade}" for g in grades}))
    return PositionGrade(
        "|".join(sorted({g.patient for g in grades})),
        "|".join(sorted({g.donor for g in grades})),
        UNRESOLVED,
        agreed({g.antigen for g in grades}),
        agreed({g.allele for g in grades}),
        f"genotype alternatives disagree ({seen})",
    )


def _grade_locus(p: LocusTyping, d: LocusTyping) -> LocusGrade:
    counts: dict[str, DirectionalCounts] = {}
    notes: list[str] = []
    for level in LEVELS:
        gvh_vals: set[int | None] = set()
        hvg_vals: set[int | None] = set()
        for pg, dg in product(p.alternatives, d.alternatives):
            pp, dp = _presented(pg), _presented(dg)
            gvh_vals.add(_directional(pp, dp, level))
            hvg_vals.add(_directional(dp, pp, level))
        gvh = next(iter(gvh_vals)) if len(gvh_vals) == 1 else None
        hvg = next(iter(hvg_vals)) if len(hvg_vals) == 1 else None
        counts[level] = DirectionalCounts(gvh, hvg)
    pairings = [_best_pairing(pg, dg) for pg, dg in product(p.alternatives, d.alternatives)]
    positions = pairings[0]
    if len({tuple(g.grade for g in pr) for pr in pairings}) > 1:
        notes.append(f"{len(p.alternatives)} x {len(d.alternatives)} genotype alternatives grade differently")
        positions = (_merge([pr[0] for pr in pairings]), _merge([pr[1] for pr in pairings]))
    for who, typing in (("patient", p), ("donor", d)):
        for pair in typing.alternatives:
            for pos, other in (pair, pair[::-1]):
                if pos.is_null and not other.is_null:
                    notes.append(
                        f"{who} {pos.label} is a null allele (not expressed): "
                        f"{p.locus} counted as homozygous {other.label}"
                    )
    return LocusGrade(p.locus, "both", counts["allele"], counts["antigen"], positions, "; ".join(notes) or None)


def _summary(
    loci: dict[str, LocusGrade],
    spec: tuple[tuple[str, str], ...],
    out_of: int,
    patient: HlaTyping,
    donor: HlaTyping,
) -> MatchCount:
    missing = [
        f"{locus} not typed for {'patient' if locus not in patient else 'donor'}"
        for locus, _ in spec
        if locus not in loci or loci[locus].typed != "both"
    ]
    if missing:
        return MatchCount(out_of, None, None, None, "; ".join(missing))
    counts = [(locus, level, loci[locus].allele if level == "allele" else loci[locus].antigen) for locus, level in spec]
    unresolved = [
        f"{locus} not resolved at {level} level" for locus, level, c in counts if c.gvh is None or c.hvg is None
    ]

    def matched(values: list[int | None]) -> int | None:
        return None if any(v is None for v in values) else out_of - sum(v for v in values if v is not None)

    return MatchCount(
        out_of,
        matched([c.bidirectional for _, _, c in counts]),
        matched([c.gvh for _, _, c in counts]),
        matched([c.hvg for _, _, c in counts]),
        "; ".join(unresolved) or None,
    )


def grade(patient: HlaTyping, donor: HlaTyping) -> MatchGrade:
    """Grade ``patient`` against ``donor`` (a donor or a cord blood unit)."""
    loci: dict[str, LocusGrade] = {}
    warnings: list[str] = [f"patient: {w}" for w in patient.warnings] + [f"donor: {w}" for w in donor.warnings]
    order = [lc for lc in GRADED_LOCI] + sorted((set(patient.loci) | set(donor.loci)) - set(GRADED_LOCI))
    empty = DirectionalCounts(None, None)
    for locus in order:
        in_p, in_d = locus in patient.loci, locus in donor.loci
        if in_p and in_d:
            loci[locus] = _grade_locus(patient.loci[locus], donor.loci[locus])
        elif in_p or in_d:
            side = "patient only" if in_p else "donor only"
            note = f"{locus} typed for {side}: not graded"
            warnings.append(note)
            loci[locus] = LocusGrade(locus, side, empty, empty, (), note)
    return MatchGrade(
        match_6=_summary(loci, MATCH_6_LOCI, 6, patient, donor),
        match_8=_summary(loci, MATCH_8_LOCI, 8, patient, donor),
        loci=loci,
        warnings=tuple(warnings),
    )
