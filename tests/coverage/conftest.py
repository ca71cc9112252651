"""Helpers for the coverage tests: coded patients from GL strings, small registries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from cordmatch.coverage.engine import CoveragePatients
from cordmatch.hla.typing import parse_typing
from cordmatch.matching.coded import code_typing
from cordmatch.selection.crossmatch import AntibodyProfile
from cordmatch.selection.model import Antibody

PATIENT = "A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"


def coded_patients(
    tables,  # type: ignore[no-untyped-def]
    typings: Sequence[str],
    weights: Sequence[float] | None = None,
    antibodies: Sequence[Sequence[tuple[str, float]]] | None = None,
    malignant: Sequence[int] | None = None,
) -> CoveragePatients:
    ags, als, profiles = [], [], []
    for i, gl in enumerate(typings):
        coded = code_typing(parse_typing(gl, tables))
        assert coded is not None, gl
        ags.append(coded[0])
        als.append(coded[1])
        abs_ = tuple(Antibody(s, m) for s, m in (antibodies[i] if antibodies else ()))
        profiles.append(AntibodyProfile.build(abs_, tables, 1000.0) if abs_ else None)
    n = len(typings)
    return CoveragePatients(
        np.stack(ags),
        np.stack(als),
        np.array(weights if weights is not None else [20.0] * n, dtype=np.float64),
        np.array(malignant if malignant is not None else [1] * n, dtype=np.int8),
        profiles,
        ["CAU"] * n,
    )


@pytest.fixture(scope="session")
def small_registry(tables):  # type: ignore[no-untyped-def]
    """3,000 simulated units (mix), coded once per session."""
    from cordmatch.selection.index import UnitIndex
    from cordmatch.sim.registry import generate_registry

    index = UnitIndex(release=tables.release, capacity=3000)
    for chunk in generate_registry(3000, 11, "mix", tables):
        index.add(chunk.cols)
    return index
