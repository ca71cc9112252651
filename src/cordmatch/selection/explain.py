"""Why one unit was excluded, is double only, or ranked where it is (``search --explain UNIT``)."""

from __future__ import annotations

import numpy as np

from cordmatch.errors import NotFoundError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.model import FAIL, Explanation, RankedUnit, RuleCheck
from cordmatch.selection.prepare import SearchContext, key_parts
from cordmatch.selection.rank import order_slots, ranked_units
from cordmatch.selection.source import UnitSource

_SINGLE_DOSE_RULES = ("TNC dose, single", "CD34+ dose, single")


def explain_unit(ctx: SearchContext, unit_id: str, source: UnitSource, tables: NomenclatureTables) -> Explanation:
    """Why ``unit_id`` was excluded (the failed checks) or ranked where it is (who ranks above, and why)."""
    try:
        slot = ctx.index.slot_of(unit_id)
    except NotFoundError:
        return Explanation(unit_id, "not found", None, (), (f"unit {unit_id} is not in the registry",))
    ranked = ranked_units(ctx, [slot], source, tables, start_rank=0)[0]
    fails = [c for c in ranked.checks if c.verdict == FAIL]
    if ctx.acceptable[slot] and not ctx.mask[slot] and all(c.rule.startswith(_SINGLE_DOSE_RULES) for c in fails):
        return _double_only(unit_id, ranked, fails)
    if not ctx.mask[slot] or fails:
        lines = [f"excluded: {c.sentence()}" for c in fails] or ["excluded by the hard filters"]
        return Explanation(unit_id, "excluded", None, ranked.checks, tuple(lines))
    return _ranked_explanation(ctx, unit_id, slot, ranked)


def _double_only(unit_id: str, ranked: RankedUnit, fails: list[RuleCheck]) -> Explanation:
    lines = [
        "double only: passes the HLA and antibody rules but is below the single-unit dose, so it is not "
        "ranked as a single graft and gets no single-unit engraftment estimate",
        *(f"below: {c.sentence()}" for c in fails),
    ]
    return Explanation(unit_id, "double only", None, ranked.checks, tuple(lines))


def _ranked_explanation(ctx: SearchContext, unit_id: str, slot: int, ranked: RankedUnit) -> Explanation:
    """A unit passing the filters: its rank and how many units rank above it on each key."""
    m = ctx.mask
    p = ctx.prefix[slot]
    better_prefix = int(np.count_nonzero(m & (ctx.prefix > p)))
    same = m & (ctx.prefix == p)
    better_tnc = int(np.count_nonzero(same & (ctx.tnc_key > ctx.tnc_key[slot])))
    same_tnc = same & (ctx.tnc_key == ctx.tnc_key[slot])
    peers = np.flatnonzero(same_tnc)
    order = order_slots(ctx, peers) if len(peers) <= 5000 else peers
    pos = int(np.flatnonzero(order == slot)[0]) if slot in order else 0
    rank = better_prefix + better_tnc + pos + 1
    keys_before, _ = key_parts(ctx.policy)
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
