"""A build's answers do not depend on the hash seed: every ``/`` list the tables store is in the stable
order of :func:`cordmatch.hla.reduction.ordered_names` (py-ard leaves names it ranks equal in set order)."""

from __future__ import annotations

import pytest

from cordmatch.hla.reduction import ordered_list
from cordmatch.hla.tables import split_blob
from cordmatch.imgt.build import STORED_LEVELS


@pytest.mark.parametrize("level", STORED_LEVELS)
def test_every_stored_list_is_in_stable_order(tables, level: str) -> None:  # type: ignore[no-untyped-def]
    texts = split_blob(tables.level_blobs[level])
    out_of_order = [t for t in texts if "/" in t and ordered_list(t) != t]
    assert not out_of_order, f"{len(out_of_order)} {level} lists out of order, e.g. {out_of_order[0][:200]}"
    assert len(set(texts)) == len(texts)  # one text per answer: no list stored twice in two orders


def test_ties_are_ordered_by_text(tables) -> None:  # type: ignore[no-untyped-def]
    both = {"A*02:03:01", "A*02:03:01Q"}
    listed = [t.split("/") for t in split_blob(tables.level_blobs["exon"]) if both <= set(t.split("/"))]
    assert listed
    for names in listed:
        assert names.index("A*02:03:01") < names.index("A*02:03:01Q")
