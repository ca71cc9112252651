"""Simulated patients for coverage: coded as the search codes a typing, haplotypes with their frequencies."""

from __future__ import annotations

import numpy as np

from cordmatch.hla.typing import parse_typing
from cordmatch.matching.coded import code_typing
from cordmatch.sim.coverage_patients import simulate_patients
from cordmatch.sim.patients import generate_patients


def test_patients_are_coded_like_the_parser(tables):  # type: ignore[no-untyped-def]
    sim = simulate_patients(300, 8, "mix", tables)
    raw = generate_patients(300, 8, "mix", tables)
    for k in range(0, 300, 3):
        coded = code_typing(parse_typing(raw[k].hla, tables))
        assert coded is not None
        assert np.array_equal(coded[0], sim.coded.ag[k]) and np.array_equal(coded[1], sim.coded.al[k])
    assert list(sim.coded.population) == [p.population for p in raw]


def test_haplotypes_listed_twice_are_one_with_the_summed_frequency(tables):  # type: ignore[no-untyped-def]
    sim = simulate_patients(50, 3, "CAU", tables)
    table = sim.tables["CAU"]
    assert len(set(table.names)) == len(table.names)
    assert abs(table.freqs.sum() - 1) < 1e-9
    a1_b8_dr3 = table.freqs[table.names.index("A*01:01~B*08:01~C*07:01~DRB1*03:01")]
    assert a1_b8_dr3 > 0.05  # the commonest CAU haplotype (NMDP 2007), not one of its rare duplicates
    for i in range(len(sim.haplotypes)):
        names = [table.names[int(h)].split("~") for h in sim.haplotypes[i]]
        typing = "^".join(f"{x}+{y}" for x, y in zip(*names, strict=True))
        coded = code_typing(parse_typing(typing, tables))
        assert coded is not None and np.array_equal(coded[0], sim.coded.ag[i])
