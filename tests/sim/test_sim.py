"""Synthetic registry and patients: determinism, coding equal to parsing, distributions, Parquet round trip."""

from __future__ import annotations

import numpy as np
import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.hla.typing import parse_typing
from cordmatch.matching.coded import code_typing
from cordmatch.sim.haplotypes import load_haplotypes
from cordmatch.sim.patients import generate_patients
from cordmatch.sim.registry import generate_registry


def test_haplotypes_mapped_to_current_release(tables):  # type: ignore[no-untyped-def]
    for pop in ("CAU", "AFA", "API", "HIS"):
        hs = load_haplotypes(pop, tables)
        assert len(hs.names) > 1000 and abs(hs.freqs.sum() - 1) < 1e-9
        assert hs.dropped_freq < 0.02  # names unknown to the release or null alleles
        for name in hs.names[0]:
            assert tables.name_id(name) is not None


def test_registry_is_deterministic_and_coded_like_the_parser(tables):  # type: ignore[no-untyped-def]
    a = list(generate_registry(1200, 42, "mix", tables))
    b = list(generate_registry(1200, 42, "mix", tables))
    assert a[0].hla == b[0].hla and np.array_equal(a[0].cols.tnc, b[0].cols.tnc)
    c = a[0]
    for i in range(0, 1200, 7):
        coded = code_typing(parse_typing(c.hla[i], tables))
        assert (coded is None) == bool(c.cols.exact[i]), c.hla[i]
        if coded is not None:
            assert np.array_equal(coded[0], c.cols.ag[i]) and np.array_equal(coded[1], c.cols.al[i])
    tnc = c.cols.tnc
    assert tnc.min() >= 9e8 and 1.0e9 < np.median(tnc) < 1.7e9
    frac = np.nanmedian(c.cols.cd34 / tnc)
    assert 0.002 < frac < 0.005
    with pytest.raises(InvalidInputError, match="unknown population"):
        list(generate_registry(10, 1, "EUR", tables))


def test_patients(tables):  # type: ignore[no-untyped-def]
    ps = generate_patients(40, 3, "CAU", tables)
    assert ps == generate_patients(40, 3, "CAU", tables)
    assert all(p.weight_kg > 0 for p in ps)
    assert any(p.antibodies for p in ps)
    for p in ps[:5]:
        assert code_typing(parse_typing(p.hla, tables)) is not None


def test_parquet_round_trip(tables, tmp_path):  # type: ignore[no-untyped-def]
    from cordmatch.services.registry import open_registry, write_registry

    target = str(tmp_path / "reg.parquet")
    rows = write_registry(target, generate_registry(800, 9, "HIS", tables), tables.release)
    assert rows == 800
    idx, src = open_registry(target, tables)
    assert len(idx) == 800
    uid = idx.unit_id(5)
    rec = src.records([uid])[uid]
    assert rec.unit_id == uid and rec.tnc > 0
    coded = code_typing(parse_typing(rec.hla, tables))
    if coded is not None:
        ag, _ = idx.codes(5)
        assert np.array_equal(np.sort(ag, axis=1), np.sort(coded[0], axis=1))
    empty = str(tmp_path / "empty.parquet")
    assert write_registry(empty, iter(()), tables.release) == 0
    idx0, _ = open_registry(empty, tables)
    assert len(idx0) == 0
