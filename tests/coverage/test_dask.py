"""Dask distribution: the same answer in-process and on a LocalCluster of 1 or 2 workers (kept small)."""

from __future__ import annotations

import numpy as np

from cordmatch.coverage.engine import CoverageIndex, DoseRule
from cordmatch.io.cluster import ClusterSpec
from cordmatch.selection.settings import default_settings
from cordmatch.services.coverage import antigen_relation, run_coverage
from cordmatch.sim.coverage_patients import simulate_patients


def test_same_answer_on_one_and_two_workers(tables, small_registry):  # type: ignore[no-untyped-def]
    s = default_settings()
    dose = DoseRule.from_settings(s, s.policy("nmdp"))
    pats = simulate_patients(50, 9, "mix", tables).coded
    cidx = CoverageIndex.from_unit_index(small_registry, relation=antigen_relation(tables))
    local = run_coverage(cidx, pats, dose)
    one = run_coverage(cidx, pats, dose, ClusterSpec(workers=1), chunk=16)
    two = run_coverage(cidx, pats, dose, ClusterSpec(workers=2), chunk=16)
    for other in (one, two):
        assert np.array_equal(local.count, other.count)
        assert np.array_equal(local.count_dose, other.count_dose)  # type: ignore[arg-type]
        assert np.array_equal(local.double, other.double)  # type: ignore[arg-type]
        assert other.population == local.population


def test_local_workers_keep_the_default_trim_threshold() -> None:
    import os

    from cordmatch.io.cluster import open_client

    with open_client(ClusterSpec(workers=1)) as client:
        values = client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
    assert values and all(v is None for v in values.values())
