"""Fixtures for the probability tests: the shipped index and a hand-made toy index."""

from __future__ import annotations

import pytest

from cordmatch.probability.frequencies import parse_frequency_lines
from cordmatch.probability.index import HaplotypeIndex, build_index

#: Worked by hand in docs/validation/probability.md (section "Exact small cases").
TOY_LINES = [
    "Haplo,Freq",
    "A*01:01~C*07:01~B*08:01~DRB1*03:01~DQB1*02:01,0.4",  # h1
    "A*02:01~C*07:02~B*07:02~DRB1*15:01~DQB1*06:02,0.3",  # h2
    "A*02:01~C*07:01~B*08:01~DRB1*15:01~DQB1*06:02,0.2",  # h3
    "A*01:01~C*07:02~B*07:02~DRB1*15:01~DQB1*06:02,0.1",  # h4
]


@pytest.fixture(scope="session")
def toy_index(tables) -> HaplotypeIndex:  # type: ignore[no-untyped-def]
    parsed = parse_frequency_lines(TOY_LINES, source="toy.csv")
    return build_index([("TOY", parsed)], tables)


@pytest.fixture(scope="session")
def index(tables) -> HaplotypeIndex:  # type: ignore[no-untyped-def]
    from cordmatch.io.frequency_sets import load_index

    return load_index(tables=tables)
