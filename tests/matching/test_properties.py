"""Properties of grading: self-match, direction symmetry, order independence, coded == exact."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cordmatch.hla.typing import parse_typing
from cordmatch.matching import grade
from cordmatch.matching.coded import code_typing, grade_coded

POOL = {
    "A": [
        "A*01:01",
        "A*02:01",
        "A*02:03",
        "A*02:05",
        "A*02:09",
        "A*02:10",
        "A*03:01",
        "A*11:01",
        "A*24:02",
        "A*24:03",
        "A*02:XX",
        "A*01:11N",
        "A2",
        "A24",
    ],
    "B": [
        "B*07:02",
        "B*07:03",
        "B*08:01",
        "B*15:01",
        "B*15:17",
        "B*15:29",
        "B*35:01",
        "B*39:01",
        "B*39:02",
        "B*39:06",
        "B*40:01",
        "B*40:05",
        "B*44:02",
        "B*44:03",
        "B*44:XX",
        "B*15:01:01:02N",
        "B15",
        "B39",
    ],
    "C": ["C*03:04", "C*04:01", "C*05:01", "C*07:01", "C*07:02", "C*04:09N", "C*07:XX"],
    "DRB1": [
        "DRB1*01:01",
        "DRB1*03:01",
        "DRB1*04:01",
        "DRB1*04:04",
        "DRB1*15:01",
        "DRB1*04:XX",
        "DRB1*15:01/DRB1*15:02",
    ],
    "DQB1": ["DQB1*02:01", "DQB1*03:01", "DQB1*03:02", "DQB1*06:02"],
}
TWO_FIELD = {
    k: [a for a in v if "*" in a and "XX" not in a and not a.endswith("N") and "/" not in a] for k, v in POOL.items()
}


@st.composite
def typings(draw: st.DrawFn, pool: dict[str, list[str]] = POOL) -> dict[str, tuple[str, str]]:
    loci = draw(st.lists(st.sampled_from(sorted(pool)), min_size=1, max_size=len(pool), unique=True))
    return {locus: (draw(st.sampled_from(pool[locus])), draw(st.sampled_from(pool[locus]))) for locus in loci}


def gl(t: dict[str, tuple[str, str]], rng: random.Random | None = None) -> str:
    loci = list(t)
    if rng:
        rng.shuffle(loci)
    blocks = []
    for locus in loci:
        a, b = t[locus]
        if rng and rng.random() < 0.5:
            a, b = b, a
        if rng and "/" in a:
            parts = a.split("/")
            rng.shuffle(parts)
            a = "/".join(parts)
        blocks.append(f"{a}+{b}")
    return "^".join(blocks)


def counts(r) -> tuple:  # type: ignore[no-untyped-def]
    per_locus = tuple(
        (k, v.typed, v.allele.gvh, v.allele.hvg, v.antigen.gvh, v.antigen.hvg) for k, v in sorted(r.loci.items())
    )
    return (r.match_6.to_dict(), r.match_8.to_dict(), per_locus)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(t=typings(TWO_FIELD))
def test_a_typing_against_itself_is_a_full_match(tables, t) -> None:  # type: ignore[no-untyped-def]
    p = parse_typing(gl(t), tables)
    r = grade(p, p)
    for lg in r.loci.values():
        assert lg.allele.bidirectional == 0 and lg.antigen.bidirectional == 0
    if all(locus in t for locus in ("A", "B", "C", "DRB1")):
        assert r.match_8.bidirectional == 8 and r.match_6.bidirectional == 6


@SETTINGS
@given(p=typings(), d=typings())
def test_gvh_of_p_d_equals_hvg_of_d_p(tables, p, d) -> None:  # type: ignore[no-untyped-def]
    pt, dt = parse_typing(gl(p), tables), parse_typing(gl(d), tables)
    r1, r2 = grade(pt, dt), grade(dt, pt)
    for locus, lg in r1.loci.items():
        other = r2.loci[locus]
        assert (lg.allele.gvh, lg.allele.hvg) == (other.allele.hvg, other.allele.gvh)
        assert (lg.antigen.gvh, lg.antigen.hvg) == (other.antigen.hvg, other.antigen.gvh)
    assert r1.match_8.gvh == r2.match_8.hvg and r1.match_6.gvh == r2.match_6.hvg
    assert r1.match_8.bidirectional == r2.match_8.bidirectional


@SETTINGS
@given(p=typings(), d=typings(), seed=st.integers(0, 10_000))
def test_order_of_alleles_and_loci_does_not_change_the_grade(tables, p, d, seed) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    r1 = grade(parse_typing(gl(p), tables), parse_typing(gl(d), tables))
    r2 = grade(parse_typing(gl(p, rng), tables), parse_typing(gl(d, rng), tables))
    assert counts(r1) == counts(r2)
    assert sorted(pg.grade for lg in r1.loci.values() for pg in lg.positions) == sorted(
        pg.grade for lg in r2.loci.values() for pg in lg.positions
    )


@SETTINGS
@given(p=typings(), d=typings())
def test_coded_grading_equals_exact_grading(tables, p, d) -> None:  # type: ignore[no-untyped-def]
    pt, dt = parse_typing(gl(p), tables), parse_typing(gl(d), tables)
    pc, dc = code_typing(pt), code_typing(dt)
    if pc is None or dc is None:
        return
    c = grade_coded(pc[0], pc[1], dc[0], dc[1], tables.coded_relation)
    r = grade(pt, dt)

    def v(x: int | None) -> int:
        return -1 if x is None else x

    assert (int(c.match_8), int(c.match_8_gvh), int(c.match_8_hvg)) == (
        v(r.match_8.bidirectional),
        v(r.match_8.gvh),
        v(r.match_8.hvg),
    )
    assert (int(c.match_6), int(c.match_6_gvh), int(c.match_6_hvg)) == (
        v(r.match_6.bidirectional),
        v(r.match_6.gvh),
        v(r.match_6.hvg),
    )


def test_coded_broadcasts_one_patient_over_many_units(tables) -> None:  # type: ignore[no-untyped-def]
    p = code_typing(parse_typing("A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01", tables))
    units = [
        "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01",
        "A*02:05+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01",
        "A*02:01+A*02:01^B*08:01+B*44:02^DRB1*03:01+DRB1*04:01",
    ]
    coded = [code_typing(parse_typing(u, tables)) for u in units]
    assert p is not None and all(c is not None for c in coded)
    ag = np.stack([c[0] for c in coded if c])
    al = np.stack([c[1] for c in coded if c])
    out = grade_coded(p[0], p[1], ag, al)
    assert out.match_8.tolist() == [8, 7, -1]
    assert out.match_6.tolist() == [6, 6, 5]
