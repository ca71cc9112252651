"""The order of names inside a ``/`` list: py-ard's field order, names it ranks equal by their text, never
the order a set happened to give (which changes with the process's hash seed)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from cordmatch.hla.reduction import compare_names, ordered_list, ordered_names, reduce_gl


def test_fields_are_compared_as_numbers() -> None:
    names = ["A*01:02", "A*01:01:01:02", "A*01:10", "A*01:01:01:01", "A*01:9", "A*01:01:02"]
    assert ordered_names(names) == ["A*01:01:01:01", "A*01:01:01:02", "A*01:01:02", "A*01:02", "A*01:9", "A*01:10"]


def test_names_py_ard_ranks_equal_are_ordered_by_text() -> None:
    # py-ard ignores expression suffixes when it sorts: these pairs are equal to it
    assert ordered_names(["A*02:03:01Q", "A*02:03:02", "A*02:03:01"]) == ["A*02:03:01", "A*02:03:01Q", "A*02:03:02"]
    assert ordered_names(["C*04:09:01N", "C*04:09:01L", "C*04:09:01"]) == ["C*04:09:01", "C*04:09:01L", "C*04:09:01N"]
    assert ordered_list("A*25:01Q/A*25:02/A*25:01") == "A*25:01/A*25:01Q/A*25:02"


def test_serology_by_number_and_nothing_lost() -> None:
    assert ordered_list("B62/B15/B70") == "B15/B62/B70"
    assert ordered_list("") == ""
    assert ordered_list("A*01:01") == "A*01:01"
    assert ordered_list("A*01:01|A*02:01/A*03:01|A*01:01/A*02:01", "|") == "A*01:01|A*01:01/A*02:01|A*02:01/A*03:01"


_FIELD = st.integers(min_value=1, max_value=120).map(lambda n: f"{n:02d}")
_ALLELES = st.builds(
    lambda locus, fields, suffix: f"{locus}*{':'.join(fields)}{suffix}",
    st.sampled_from(["A", "B", "C", "DRB1", "DPB1"]),
    st.lists(_FIELD, min_size=2, max_size=4),
    st.sampled_from(["", "", "", "N", "L", "Q", "S"]),
)


@given(st.lists(_ALLELES, max_size=30, unique=True), st.randoms(use_true_random=False))
def test_any_permutation_gives_the_same_list(names: list[str], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(names)
    rnd.shuffle(shuffled)
    out = ordered_names(names)
    assert ordered_names(shuffled) == out
    assert ordered_names(set(names)) == out
    assert sorted(out) == sorted(names)
    for a, b in pairwise(out):
        # py-ard's order where it decides, the text where it does not
        assert compare_names(a, b) < 0 or (compare_names(a, b) == 0 and a < b)


@given(st.lists(st.text(alphabet="AB*:0129/NQ", max_size=12), max_size=12), st.randoms(use_true_random=False))
def test_any_text_any_permutation(names: list[str], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(names)
    rnd.shuffle(shuffled)
    assert ordered_names(shuffled) == ordered_names(names)
    assert sorted(ordered_names(names)) == sorted(names)


def test_reduced_lists_do_not_depend_on_set_order(tables) -> None:  # type: ignore[no-untyped-def]
    """A GL list's reductions are gathered in a set; the answer is the same for any input order."""
    one = reduce_gl("A*02:03:01:06Q/A*02:03:02/A*02:03:01:01", "exon", tables)
    two = reduce_gl("A*02:03:01:01/A*02:03:02/A*02:03:01:06Q", "exon", tables)
    assert one == two == "A*02:03:01/A*02:03:01Q/A*02:03:02"
