"""Why one unit was excluded, is double only, or ranked where it is (``search --explain UNIT``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from cordmatch.errors import NotFoundError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.model import FAIL, Explanation, RankedUnit, RuleCheck
from cordmatch.selection.prepare import SearchContext, key_parts
from cordmatch.selection.rank import final_units, order_slots, ranked_units
from cordmatch.selection.source import ProbabilityGrader, UnitSource

_SINGLE_DOSE_RULES = ("TNC dose, single", "CD34+ dose, single")
#: Deepest rank an explanation states exactly: the search's own list (exact checks, unresolved typings at
#: their probable match) taken this far; a unit further down is said to rank below it.
EXACT_RANK_DEPTH = 200


def explain_unit(
    ctx: SearchContext,
    unit_id: str,
    source: UnitSource,
    tables: NomenclatureTables,
    probability: ProbabilityGrader | None = None,
    listed: Sequence[RankedUnit] = (),
) -> Explanation:
    """Why ``unit_id`` was excluded (the failed checks) or ranked where it is (who ranks above, and why).
    ``probability`` and ``listed``: the search's grader and its listed units, so that the rank stated is the
    rank the search gives (an unresolved typing at its probable match, never its best case)."""
    try:
        slot = ctx.index.slot_of(unit_id)
    except NotFoundError:
        return Explanation(unit_id, "not found", None, (), (f"unit {unit_id} is not in the registry",))
    ranked = ranked_units(ctx, [slot], source, tables, probability, start_rank=0)[0]
    fails = [c for c in ranked.checks if c.verdict == FAIL]
    if ctx.acceptable[slot] and not ctx.mask[slot] and all(c.rule.startswith(_SINGLE_DOSE_RULES) for c in fails):
        return _double_only(unit_id, ranked, fails)
    if not ctx.mask[slot] or fails:
        lines = [f"excluded: {c.sentence()}" for c in fails] or ["excluded by the hard filters"]
        return Explanation(unit_id, "excluded", None, ranked.checks, tuple(lines))
    rank = _search_rank(ctx, unit_id, source, tables, probability, listed)
    return _ranked_explanation(ctx, unit_id, slot, ranked, rank)


def _search_rank(
    ctx: SearchContext,
    unit_id: str,
    source: UnitSource,
    tables: NomenclatureTables,
    probability: ProbabilityGrader | None,
    listed: Sequence[RankedUnit],
) -> int | None:
    """The unit's rank in the search's own list: as listed, else that list taken deeper (on a copy of the
    search's filter mask: the outcome's counts stay those of the search); None below EXACT_RANK_DEPTH."""
    for r in listed:
        if r.unit.unit_id == unit_id:
            return r.rank
    depth = min(int(np.count_nonzero(ctx.mask)), EXACT_RANK_DEPTH)
    if depth <= len(listed):
        return None
    deeper = final_units(replace(ctx, mask=ctx.mask.copy()), depth, source, tables, probability)
    return next((r.rank for r in deeper if r.unit.unit_id == unit_id), None)


def _double_only(unit_id: str, ranked: RankedUnit, fails: list[RuleCheck]) -> Explanation:
    lines = [
        "double only: passes the HLA and antibody rules but is below the single-unit dose, so it is not "
        "ranked as a single graft and gets no single-unit engraftment estimate",
        *(f"below: {c.sentence()}" for c in fails),
    ]
    return Explanation(unit_id, "double only", None, ranked.checks, tuple(lines))


def _ranked_explanation(
    ctx: SearchContext, unit_id: str, slot: int, ranked: RankedUnit, rank: int | None
) -> Explanation:
    """A unit passing the filters: its rank in the search's list and how many units rank above it on each
    key of the vectorised ranking (best-case match for unresolved typings: the exact list may differ)."""
    m = ctx.mask
    p = ctx.prefix[slot]
    better_prefix = int(np.count_nonzero(m & (ctx.prefix > p)))
    same = m & (ctx.prefix == p)
    better_tnc = int(np.count_nonzero(same & (ctx.tnc_key > ctx.tnc_key[slot])))
    same_tnc = same & (ctx.tnc_key == ctx.tnc_key[slot])
    peers = np.flatnonzero(same_tnc)
    order = order_slots(ctx, peers) if len(peers) <= 5000 else peers
    pos = int(np.flatnonzero(order == slot)[0]) if slot in order else 0
    keys_before, _ = key_parts(ctx.policy)
    passing = int(np.count_nonzero(m))
    where = f"ranked {rank}" if rank is not None else f"ranked below {EXACT_RANK_DEPTH}"
    lines = [f"{where} of {passing} units passing the filters (policy {ctx.policy.name})"]
    if ranked.probable_8 is not None:
        lines.append(
            f"its typing is unresolved: ranked as {ranked.probable_8}/8, its probable match, not its best case "
            "(cordmatch safety rule: an unknown is never taken as the best case)"
        )
    elif ranked.match_8 is None:
        lines.append("its typing is unresolved and no match probability was computed: ranked on its best case")
    match = f"{ranked.match_8}/8" if ranked.match_8 is not None else "unresolved"
    if better_prefix:
        lines.append(
            f"{better_prefix} unit(s) rank above on {', '.join(keys_before) or 'the first keys'} at their best "
            f"case (this unit: match {match})"
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
