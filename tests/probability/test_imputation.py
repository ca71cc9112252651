"""Genotype imputation: exact cases worked by hand, floor, notes, no estimate, mixtures, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cordmatch.hla.typing import parse_typing
from cordmatch.probability.imputation import constraints_from_gl, constraints_from_typing, impute
from cordmatch.probability.simulate import sample_people, typing_gl


def run(gl: str, index, tables, population: str = "TOY", **kw):  # type: ignore[no-untyped-def]
    return impute(constraints_from_typing(parse_typing(gl, tables), tables, index.loci), index, population, **kw)


def test_antigen_pair_posterior_by_hand(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    # A*01:01+A*02:01 only. Compatible pairs: {h1,h2} 2*.4*.3=.24, {h1,h3} 2*.4*.2=.16,
    # {h4,h2} 2*.1*.3=.06, {h4,h3} 2*.1*.2=.04; total .50.
    post = run("A*01:01+A*02:01", toy_index, tables)
    got = {post.genotype_gl(i): round(float(post.probabilities[i]), 10) for i in range(post.size)}
    assert got == {
        "A*01:01+A*02:01^C*07:01+C*07:02^B*07:02+B*08:01^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02": 0.48,
        "A*01:01+A*02:01^C*07:01+C*07:01^B*08:01+B*08:01^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02": 0.32,
        "A*01:01+A*02:01^C*07:02+C*07:02^B*07:02+B*07:02^DRB1*15:01+DRB1*15:01^DQB1*06:02+DQB1*06:02": 0.12,
        "A*01:01+A*02:01^C*07:01+C*07:02^B*07:02+B*08:01^DRB1*15:01+DRB1*15:01^DQB1*06:02+DQB1*06:02": 0.08,
    }
    assert post.likelihood == pytest.approx(0.5)
    assert list(post.probabilities) == sorted(post.probabilities, reverse=True)


def test_homozygous_typing_by_hand(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    # A*02:01+A*02:01: {h2,h2} .09, {h2,h3} .12, {h3,h3} .04 -> .36, .48, .16.
    post = run("A*02:01+A*02:01", toy_index, tables)
    assert sorted(np.round(post.probabilities, 10)) == [0.16, 0.36, 0.48]


def test_phases_that_give_the_same_unphased_genotype_are_summed(tables) -> None:  # type: ignore[no-untyped-def]
    from cordmatch.probability.frequencies import parse_frequency_lines
    from cordmatch.probability.index import build_index

    lines = [
        "Haplo,Freq",
        "A*01:01~C*07:01~B*08:01~DRB1*03:01~DQB1*02:01,0.4",
        "A*02:01~C*07:02~B*07:02~DRB1*15:01~DQB1*06:02,0.3",
        "A*01:01~C*07:01~B*07:02~DRB1*03:01~DQB1*02:01,0.2",
        "A*02:01~C*07:02~B*08:01~DRB1*15:01~DQB1*06:02,0.1",
    ]
    idx = build_index([("PH", parse_frequency_lines(lines))], tables)
    post = run("A*01:01+A*02:01^B*08:01+B*07:02", idx, tables, "PH")
    assert post.size == 1 and post.probabilities[0] == pytest.approx(1.0)
    assert post.likelihood == pytest.approx(2 * 0.4 * 0.3 + 2 * 0.2 * 0.1)


def test_two_locus_typing_and_untyped_loci_marginalised(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    # A*01:01+A*02:01^B*08:01+B*07:02: {h1,h2} .24 and {h4,h3} .04 -> 6/7 and 1/7.
    post = run("A*01:01+A*02:01^B*08:01+B*07:02", toy_index, tables)
    assert post.probabilities.tolist() == pytest.approx([6 / 7, 1 / 7])
    assert "DRB1*03:01+DRB1*15:01" in post.genotype_gl(0)
    assert "DRB1*15:01+DRB1*15:01" in post.genotype_gl(1)


def test_ambiguous_typing_and_genotype_alternatives(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    a = run("A*01:01/A*02:01+A*02:01", toy_index, tables)
    b = run("A*01:01+A*02:01|A*02:01+A*02:01", toy_index, tables)
    assert a.size == b.size
    assert np.allclose(a.probabilities, b.probabilities)
    # likelihood = P(A1A2) + P(A2A2) = .5 + .25
    assert a.likelihood == pytest.approx(0.75)


def test_floor_for_an_allele_absent_from_the_set(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    post = run("A*01:01+A*03:01", toy_index, tables, floor=1e-4)
    assert post.ok
    assert post.floored == ("A*03:01",)
    assert any("floor frequency 0.0001" in n for n in post.notes)
    # A*03:01 rides on copies of every haplotype: pairs {h1 or h4, copy of hX}: posterior of the
    # h1-bearing genotypes = .4/(.4+.1) = .8 of the mass.
    assert all("A*01:01+A*03:01" in post.genotype_gl(i) for i in range(post.size))
    assert post.likelihood == pytest.approx(2 * 0.5 * 1e-4)


def test_loci_outside_the_set_are_ignored_with_a_note(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    post = run("A*01:01+A*02:01^DPB1*04:01+DPB1*04:01", toy_index, tables)
    assert post.ok and post.size == 4
    assert post.notes == ("DPB1 is not in the haplotype frequency set: ignored",)


def test_no_compatible_genotype_is_an_explicit_no_estimate(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    # C*07:01 only rides with B*08:01 (h1, h3): no class I block carries C*07:01 with B*07:02.
    post = run("C*07:01+C*07:01^B*07:02+B*07:02", toy_index, tables)
    assert not post.ok
    assert post.reason and "fits the typing" in post.reason
    assert post.to_dict()["estimate"] is False


def test_class_blocks_combined_when_no_whole_haplotype_pair_fits(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    # DRB1*03:01 only rides with B*08:01 (h1): no whole-haplotype pair fits B*07:02 homozygous.
    gl = "B*07:02+B*07:02^DRB1*03:01+DRB1*03:01"
    assert not run(gl, toy_index, tables, split_blocks=False).ok
    # Blocks: class I with B*07:02: h2 (.3), h4 (.1); class II with DRB1*03:01: h1 (.4).
    # Synthetic s1 = .12, s2 = .04: {s1,s1} .0144, {s1,s2} .0096, {s2,s2} .0016 -> .5625, .375, .0625.
    post = run(gl, toy_index, tables)
    assert post.ok
    assert post.probabilities.tolist() == pytest.approx([0.5625, 0.375, 0.0625])
    assert post.likelihood == pytest.approx(0.0256)
    assert "A*02:01+A*02:01" in post.genotype_gl(0)
    assert any("class I" in n for n in post.notes)


def test_population_mix_is_a_mixture_of_genotype_distributions(tables) -> None:  # type: ignore[no-untyped-def]
    from cordmatch.probability.frequencies import parse_frequency_lines
    from cordmatch.probability.index import build_index

    h = ["A*01:01~C*07:01~B*08:01~DRB1*03:01~DQB1*02:01", "A*02:01~C*07:02~B*07:02~DRB1*15:01~DQB1*06:02"]
    p1 = parse_frequency_lines(["Haplo,Freq", f"{h[0]},0.5", f"{h[1]},0.5"])
    p2 = parse_frequency_lines(["Haplo,Freq", f"{h[0]},0.9", f"{h[1]},0.1"])
    idx = build_index([("P1", p1), ("P2", p2)], tables)
    # A*01:01+A*01:01 or A*01:01+A*02:01 (ambiguous second position)
    gl = "A*01:01+A*01:01/A*02:01"
    post = run(gl, idx, tables, {"P1": 0.5, "P2": 0.5})
    # P1: homo .25, het .5; P2: homo .81, het .18. Mixed: homo .53, het .34 -> .53/.87
    homo = next(post.probabilities[i] for i in range(post.size) if "A*01:01+A*01:01" in post.genotype_gl(i))
    assert homo == pytest.approx(0.53 / 0.87)


def test_unknown_population_is_a_typed_error(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    from cordmatch.probability.index import UnknownPopulationError

    with pytest.raises(UnknownPopulationError, match="known: TOY"):
        run("A*01:01+A*02:01", toy_index, tables, "EUR")


def test_block_cache_gives_the_same_constraints(index, tables) -> None:  # type: ignore[no-untyped-def]
    gl = "B*08:XX+B*07:XX^A*01:XX+A*02:XX^DPB1*04:01+DPB1*04:01"
    key, c = constraints_from_gl(gl, tables, index.loci, None, {})
    full = constraints_from_typing(parse_typing(gl, tables), tables, index.loci)
    assert key.startswith("A*01:XX+A*02:XX^")
    assert set(c.loci) == set(full.loci) == {"A", "B"}
    assert c.notes == full.notes
    p1, p2 = impute(c, index, "CAU"), impute(full, index, "CAU")
    assert np.allclose(p1.probabilities, p2.probabilities)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), pop=st.sampled_from(["AFA", "API", "CAU", "HIS"]))
def test_true_genotype_is_always_in_the_posterior_of_its_masked_typing(index, tables, seed, pop) -> None:  # type: ignore[no-untyped-def]
    truth = sample_people(index, pop, 3, np.random.default_rng(seed))
    for g in truth:
        gl = typing_gl(index, g, antigen_loci=("A", "B", "C"), loci=("A", "B", "C", "DRB1"))
        post = impute(constraints_from_gl(gl, tables, index.loci)[1], index, pop)
        assert post.ok
        assert post.probabilities.sum() == pytest.approx(1.0)
        assert (np.diff(post.probabilities) <= 1e-15).all()
        hit = (post.codes == g[None]).all(axis=(1, 2))
        assert hit.sum() == 1
