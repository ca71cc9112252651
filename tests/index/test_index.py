"""Search index: incremental add and withdraw, memory per unit, per-locus grading equal to grade_coded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cordmatch.errors import ConflictError, NotFoundError
from cordmatch.matching.coded import grade_coded
from cordmatch.selection import kernel
from cordmatch.selection.index import LIVE, UnitColumns, UnitIndex


def columns(ids, ag, al, tnc=2e9):  # type: ignore[no-untyped-def]
    n = len(ids)
    return UnitColumns(
        list(ids),
        ag,
        al,
        np.full(n, tnc, np.float32),
        np.full(n, np.nan, np.float32),
        np.full(n, LIVE, np.uint16),
        np.zeros(n, np.uint16),
        np.zeros(n, np.bool_),
    )


codes = st.integers(min_value=-1, max_value=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    p=st.lists(codes, min_size=16, max_size=16),
    units=st.lists(st.lists(codes, min_size=16, max_size=16), min_size=1, max_size=30),
)
def test_kernel_equals_grade_coded(p, units):  # type: ignore[no-untyped-def]
    """Random coded typings (antigen ids 0-5, allele ids derived so equal alleles share an antigen)."""

    def split(v):  # type: ignore[no-untyped-def]
        a = np.array(v[:8], dtype=np.int16).reshape(4, 2)
        a = np.where(a < 0, 0, a).astype(np.int16)
        raw = np.array(v[8:], dtype=np.int16).reshape(4, 2)
        al = np.where(raw < 0, -1, a * 10 + raw % 3).astype(np.int16)
        # a locus is either typed (both positions) or not
        untyped = np.array(v[:4]) == -1
        a[untyped] = -1
        al[untyped] = -1
        return a, al

    p_ag, p_al = split(p)
    pairs = [split(u) for u in units]
    u_ag = np.stack([x[0] for x in pairs])
    u_al = np.stack([x[1] for x in pairs])
    idx = UnitIndex()
    idx.add(columns([f"U{i}" for i in range(len(units))], u_ag, u_al))
    g = kernel.grade_index(idx, p_ag, p_al)
    ref = grade_coded(p_ag, p_al, u_ag, u_al)
    assert np.array_equal(g.match_8(), ref.match_8)
    assert np.array_equal(g.match_6(), ref.match_6)
    c_ref = ref.locus_allele_mismatches[:, 2]
    assert np.array_equal(g.c_mismatch()[c_ref >= 0], c_ref[c_ref >= 0] > 0)


def test_add_withdraw_reuse_and_memory() -> None:
    rng = np.random.default_rng(1)
    n = 5000
    ag = rng.integers(0, 8, (n, 4, 2)).astype(np.int16)  # few distinct genotypes, as in a real registry
    al = (ag * 7 + rng.integers(0, 2, (n, 4, 2))).astype(np.int16)
    ag[:, 2], al[:, 2] = ag[:, 1], al[:, 1]  # C in linkage with B, as in real haplotypes
    idx = UnitIndex(capacity=n)
    idx.add(columns([f"U{i}" for i in range(n)], ag, al))
    assert len(idx) == n
    assert idx.bytes_per_unit() <= 64
    with pytest.raises(ConflictError):
        idx.add(columns(["U3"], ag[:1], al[:1]))
    assert idx.withdraw(["U3", "U7", "missing"]) == 2
    assert len(idx) == n - 2
    with pytest.raises(NotFoundError):
        idx.slot_of("U3")
    slots = idx.add(columns(["N1", "N2", "N3"], ag[:3], al[:3]))
    assert sorted(slots[:2].tolist()) == [3, 7]  # withdrawn slots reused first
    assert idx.n == n + 1
    got = idx.codes(int(slots[0]))
    assert np.array_equal(np.sort(got[0], axis=1), np.sort(ag[0], axis=1))
    assert idx.tnc[idx.n :].size == idx.tnc.size - idx.n  # capacity grows geometrically, not per unit


def test_withdrawn_units_are_never_found(tables):  # type: ignore[no-untyped-def]
    from cordmatch.selection import search
    from selection.helpers import TODAY, patient, registry, unit

    idx, src = registry([unit("a", "8", 5.0), unit("b", "7", 5.0)], tables)
    idx.withdraw(["a"])
    out = search(idx, src, patient(tables), tables, today=TODAY)
    assert [r.unit.unit_id for r in out.results] == ["b"]
    idx.withdraw(["b"])
    from cordmatch.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="empty"):
        search(idx, src, patient(tables), tables, today=TODAY)
