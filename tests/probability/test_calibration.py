"""Calibration of P(8/8) on simulated people (a modest deterministic sample; the full run is in
docs/validation/probability.md, produced by benchmarks/probability_validation.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cordmatch.probability.calibration import calibrate, true_8_of_8


@pytest.mark.slow
def test_predicted_p8_matches_observed_share_in_every_bin_with_enough_pairs(index, tables) -> None:  # type: ignore[no-untyped-def]
    result = calibrate(index, tables, "CAU", people=40_000, seed=2026)
    tested = [b for b in result.bins if b.tested]
    assert result.pairs > 5000
    assert len(tested) >= 5, "too few bins hold enough pairs to test"
    for b in tested:
        assert abs(b.observed - b.mean_predicted) <= 0.05, b
    # Calibration in the large over all pairs (pairs are independent: disjoint within groups).
    mean_p = float(result.predicted.mean())
    se = float(np.sqrt((result.predicted * (1 - result.predicted)).sum()) / result.pairs)
    assert abs(result.observed.mean() - mean_p) <= max(0.02, 3 * se)


def test_true_8_of_8_reads_nulls_as_not_expressed() -> None:
    loci = ("A", "C", "B", "DRB1", "DQB1")
    a = np.zeros((1, 5, 2), dtype=np.int32)
    a[0, :, 0] = 10
    a[0, :, 1] = 20
    b = a.copy()
    assert true_8_of_8(a, b, loci).tolist() == [True]
    b[0, 0, 1] = 30  # A mismatch
    assert true_8_of_8(a, b, loci).tolist() == [False]
    b[0, 0, 1] = 21  # the same lgx as 20, null: presents A 10, 10 against 10, 20: HvG 1
    assert true_8_of_8(a, b, loci).tolist() == [False]
    b = a.copy()
    b[0, 4, 1] = 99  # DQB1 is not in the 8 count
    assert true_8_of_8(a, b, loci).tolist() == [True]
