"""Probabilities stay inside [0, 1] (issue 10: identical typings printed p_8_of_8 1.0000000000000002)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cordmatch.probability.match import MatchProbability, unit_interval

SAME = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=12))
def test_sums_of_probabilities_stay_in_the_unit_interval(ps: list[float]) -> None:
    total = sum(p / len(ps) for p in ps) * (1 + 1e-15)
    assert 0.0 <= unit_interval(total) <= 1.0


def test_at_least_is_clamped() -> None:
    mp = MatchProbability("CAU", {}, {}, [0.0] * 8 + [0.7000000000000001, 0.30000000000000004], [0.0] * 6 + [1.0])
    mp.match_8 = [0.0] * 8 + [1.0000000000000002]
    assert mp.at_least_8(8) == 1.0 and mp.to_dict()["p_8_of_8"] == 1.0


def test_identical_typings_print_exactly_one(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(["match-probability", "--patient", SAME, "--donor", SAME, "--population", "CAU", "--json"])
    assert code == 0, err
    data = json.loads(out)
    for key in ("p_8_of_8", "p_at_least_7_of_8", "p_6_of_6", "p_at_least_5_of_6"):
        assert 0.0 <= data[key] <= 1.0
    assert data["p_8_of_8"] == 1.0
    assert all(0.0 <= p <= 1.0 for p in [*data["match_8"].values(), *data["match_6"].values()])
    code, out, _ = run_cli(["match-probability", "--patient", SAME, "--donor", SAME, "--population", "CAU"])
    assert code == 0 and "1.0000" in out and "1.0000000000000002" not in out
