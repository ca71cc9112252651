"""Peer suites turned into our own rows (tests/validation/peer_*.csv): Anthony Nolan Atlas's antigen-match
scoring features and py-ard's behave features. Each row holds cordmatch's expected answer, the peer's, and
why they differ where they do (docs/adr/0002-grading-semantics.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cordmatch.hla.reduction import reduce_gl
from cordmatch.hla.typing import parse_typing
from cordmatch.matching import grade

HERE = Path(__file__).parent.parent / "validation"
GRADING = list(csv.DictReader((HERE / "peer_cases.csv").open()))
NOMENCLATURE = list(csv.DictReader((HERE / "peer_nomenclature_cases.csv").open()))


def _int(v: str) -> int | None:
    return int(v) if v.strip() else None


@pytest.mark.parametrize("case", GRADING, ids=[c["case"] for c in GRADING])
def test_atlas_antigen_match_cases(case: dict[str, str], tables) -> None:  # type: ignore[no-untyped-def]
    assert case["source"].startswith("Anthony-Nolan/Atlas ")
    assert case["agreement"] == "agrees" or case["why"].strip(), "a difference from the peer must say why"
    g = grade(parse_typing(case["patient"], tables), parse_typing(case["donor"], tables))
    lg = g.loci[case["locus"]]
    got = (lg.antigen.gvh, lg.antigen.hvg)
    assert got == (_int(case["antigen_gvh"]), _int(case["antigen_hvg"])), case["case"]
    assert (lg.allele.gvh, lg.allele.hvg) == (_int(case["allele_gvh"]), _int(case["allele_hvg"])), case["case"]
    if case["peer_expected"].startswith("locus score count"):  # positions matched at allele level
        assert lg.allele.bidirectional is not None
        assert 2 - lg.allele.bidirectional == int(case["peer_expected"].rsplit(" ", 1)[1])
    elif case["agreement"] == "agrees":  # the peer's verdict in our terms
        if case["peer_expected"] == "match":
            assert got == (0, 0)
        elif case["peer_expected"] == "mismatch":
            assert None not in got and min(got) > 0  # type: ignore[type-var]
    else:
        assert got != (0, 0) or case["locus"] == "C"  # where we differ we never claim more than the peer


@pytest.fixture(scope="module")
def ard():  # type: ignore[no-untyped-def]
    from cordmatch.imgt.cache import cache_dir
    from cordmatch.imgt.pyard_db import init_pyard
    from cordmatch.imgt.release import RELEASE

    return init_pyard(cache_dir(release=RELEASE), RELEASE)


@pytest.mark.parametrize("case", NOMENCLATURE, ids=[f"{c['input']} {c['level']}" for c in NOMENCLATURE])
def test_py_ard_feature_cases(case: dict[str, str], tables, ard) -> None:  # type: ignore[no-untyped-def]
    assert case["source"].startswith("nmdp-bioinformatics/py-ard tests/features/")
    ours = reduce_gl(case["input"], case["level"], tables)
    assert ours == case["expected"]
    assert ours == ard.redux(case["input"], case["level"])  # the installed py-ard on the shipped release
    if case["agreement"] == "agrees":
        assert ours == case["peer_expected"]
    else:
        assert case["why"].strip()
