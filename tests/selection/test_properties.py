"""Properties of the search (hypothesis) on small generated registries."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cordmatch.hla.typing import parse_typing
from cordmatch.matching import grade
from cordmatch.matching.coded import code_typing, grade_coded
from cordmatch.selection import search
from cordmatch.selection.model import FAIL, UnitRecord
from cordmatch.selection.settings import default_settings
from selection.helpers import HLA, TODAY, patient, registry, unit

MATCHES = sorted(HLA)
unit_spec = st.tuples(
    st.sampled_from(MATCHES),
    st.floats(min_value=1.0, max_value=12.0, allow_nan=False),
    st.one_of(st.none(), st.floats(min_value=0.5, max_value=4.0, allow_nan=False)),
    st.booleans(),
)
cfg = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def build(specs, tables):  # type: ignore[no-untyped-def]
    units = [unit(f"U{i}", m, tnc, cd34, accredited=acc) for i, (m, tnc, cd34, acc) in enumerate(specs)]
    return units, *registry(units, tables)


@cfg
@given(specs=st.lists(unit_spec, min_size=1, max_size=12), policy=st.sampled_from(["nmdp", "dose-first", "eurocord"]))
def test_every_result_satisfies_every_hard_filter(tables, specs, policy):  # type: ignore[no-untyped-def]
    _, idx, src = build(specs, tables)
    out = search(idx, src, patient(tables, malignant=True), tables, policy=policy, top=20, today=TODAY)
    for r in out.results:
        assert not [c for c in r.checks if c.verdict == FAIL], r.reasons()
        assert r.tnc_per_kg > 1.5
        assert r.cd34_per_kg is None or r.cd34_per_kg >= 1.0
        if r.match_8 is not None:
            assert r.match_8 >= 4
    for d in out.double_units:
        assert d.combined_tnc_per_kg > 3.5
        assert d.first.tnc_per_kg >= 1.5 and d.second.tnc_per_kg >= 1.5


@cfg
@given(specs=st.lists(unit_spec, min_size=1, max_size=10), worse=unit_spec)
def test_adding_a_worse_unit_never_changes_the_top_result(tables, specs, worse):  # type: ignore[no-untyped-def]
    units, idx, src = build(specs, tables)
    before = search(idx, src, patient(tables), tables, top=1, today=TODAY)
    if not before.results:
        return
    top = before.results[0]
    m, tnc, cd34, acc = worse
    # make it worse: a lower match group, or the same group with a TNC dose a whole tie band lower (within a
    # band the tie-breakers decide, by design)
    band = default_settings().value("tie_band_tnc")
    extra = unit("W", m, min(tnc, top.tnc_per_kg - band - 0.01), cd34, accredited=acc)
    e_match = grade(parse_typing(HLA["8"], tables), parse_typing(extra.hla, tables)).match_8.bidirectional
    if (e_match or 0) > (top.match_8 or 0) or (e_match is None) != (top.match_8 is None):
        return
    idx2, src2 = registry([*units, extra], tables)
    after = search(idx2, src2, patient(tables), tables, top=1, today=TODAY)
    assert after.results[0].unit.unit_id == top.unit.unit_id


@lru_cache(maxsize=1)
def _sim(tables):  # type: ignore[no-untyped-def]
    from cordmatch.sim.patients import generate_patients
    from cordmatch.sim.registry import generate_registry

    chunks = list(generate_registry(3000, 5, "mix", tables))
    return chunks, generate_patients(6, 5, "mix", tables)


def test_search_grades_equal_single_pair_grading(tables):  # type: ignore[no-untyped-def]
    from cordmatch.io.parquet_registry import ParquetRegistry  # noqa: F401  (adapter used by the CLI)
    from cordmatch.selection.index import UnitIndex
    from cordmatch.selection.model import Patient
    from cordmatch.selection.records import columns_from_records
    from cordmatch.selection.search import prepare

    chunks, patients = _sim(tables)
    idx = UnitIndex(tables.release)
    hla: dict[str, str] = {}
    for c in chunks:
        # the selection's own coding of the GL strings (as for the bank store); the sim's precomputed codes
        # are checked against their GL strings in test_sim_registry_codes_agree_with_their_gl_strings
        records = [UnitRecord(str(u), g, 1e9) for u, g in zip(c.cols.unit_id, c.hla, strict=True)]
        cols, typings = columns_from_records(records, tables)
        idx.add(cols, typings)
        hla.update(zip(c.cols.unit_id, c.hla, strict=True))
    rng = np.random.default_rng(0)
    for sp in patients:
        p = Patient(parse_typing(sp.hla, tables), sp.weight_kg)
        ctx = prepare(idx, p, tables, today=TODAY)
        m8, m6 = ctx.graded.match_8(), ctx.graded.match_6()
        p_ag, p_al = code_typing(p.typing)  # type: ignore[misc]
        for slot in rng.choice(idx.n, size=80, replace=False):
            uid = idx.unit_id(int(slot))
            ut = parse_typing(hla[uid], tables)
            coded = code_typing(ut)
            if coded is not None:  # the vectorised contract: equal to grade_coded for every codable unit
                gc = grade_coded(p_ag, p_al, *coded, tables.coded_relation)
                assert int(m8[slot]) == int(gc.match_8) and int(m6[slot]) == int(gc.match_6), hla[uid]
            if "/" in hla[uid]:
                # an allele list within one antigen codes as 'allele unknown': the coded count may be
                # unresolved where grade() settles a mismatch (conservative); never the other way round
                g8 = grade(p.typing, ut).match_8.bidirectional
                assert m8[slot] < 0 or int(m8[slot]) == g8
                continue
            g = grade(p.typing, ut)
            upper8 = 8 - int(ctx.graded.mm8()[slot])
            for k, (mine, exact) in enumerate(
                ((m8[slot], g.match_8.bidirectional), (m6[slot], g.match_6.bidirectional))
            ):
                if mine < 0 and exact is not None and coded is not None:
                    # an antigen-set code (A*66:XX = A25|A26|A10|A34|A66) leaves the coded count unresolved
                    # where grade() settles it (conservative, as grade_coded): never the other way round
                    assert int((gc.match_8, gc.match_6)[k]) < 0 and (k == 1 or exact <= upper8), hla[uid]
                    continue
                assert (None if mine < 0 else int(mine)) == exact, hla[uid]
        # the ambiguous units (genotype alternatives) too
        for slot in np.unique(idx.alt_owner)[:40]:
            uid = idx.unit_id(int(slot))
            assert "/" not in hla[uid]
            g = grade(p.typing, parse_typing(hla[uid], tables))
            assert (None if m8[slot] < 0 else int(m8[slot])) == g.match_8.bidirectional, hla[uid]
            assert (None if m6[slot] < 0 else int(m6[slot])) == g.match_6.bidirectional, hla[uid]


def test_sim_registry_codes_agree_with_their_gl_strings(tables):  # type: ignore[no-untyped-def]
    chunks, _ = _sim(tables)
    for c in chunks:
        for k in range(len(c.hla)):
            if c.cols.exact[k]:
                continue
            coded = code_typing(parse_typing(c.hla[k], tables))
            assert coded is not None, c.hla[k]
            assert (coded[0] == c.cols.ag[k]).all() and (coded[1] == c.cols.al[k]).all(), c.hla[k]
