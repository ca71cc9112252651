"""Indications table: free-text lookup, categories with sources, investigational uses never as treatment."""

from __future__ import annotations

import json
import tomllib
from copy import deepcopy

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.outcomes.indications import (
    ASTCT_CATEGORIES,
    EBMT_CATEGORIES,
    INVESTIGATIONAL,
    LISTED,
    NOT_LISTED,
    build_table,
    load_indications,
    lookup_indication,
    normalise,
    read_indications_text,
)

#: The trials the project guide's domain notes (section 8, investigational uses of cord blood) cite; kept here so
#: that the test needs nothing outside the repository.
DOMAIN_MD_TRIALS = frozenset({"NCT01354483", "NCT01471613", "NCT03694613", "NCT03979742", "NCT04440670", "NCT05138276"})


@pytest.mark.parametrize(
    ("query", "expected_ids"),
    [
        ("AML", {"aml-cr1-low", "aml-cr1-intermediate", "aml-cr1-high", "aml-cr2", "aml-not-in-remission"}),
        ("acute myeloid leukaemia", {"aml-cr1-low", "aml-cr1-intermediate", "aml-cr1-high", "aml-cr2",
                                     "aml-not-in-remission"}),
        ("Acute Myeloid Leukemia", {"aml-cr1-low", "aml-cr1-intermediate", "aml-cr1-high", "aml-cr2",
                                    "aml-not-in-remission"}),
        ("aml cr2", {"aml-cr2"}),
        ("sickle cell", {"sickle-cell"}),
        ("Sickle-cell anaemia", {"sickle-cell"}),
        ("thalassemia", {"thalassaemia"}),
        ("severe aplastic anemia", {"saa"}),
        ("Hurler", {"hurler"}),
        ("Hodgkin's lymphoma", {"hodgkin-cr1", "hodgkin-relapse"}),
        ("non-Hodgkin lymphoma", {"nhl-cr1-high"}),
        ("JMML", {"jmml"}),
        ("  scid ", {"scid"}),
    ],
)  # fmt: skip
def test_lookup_by_name_synonym_and_spelling(query: str, expected_ids: set[str]) -> None:
    result = lookup_indication(query)
    assert result.status == LISTED
    assert {i.id for i in result.indications} == expected_ids
    assert not result.investigational


def test_lookup_reports_categories_with_sources() -> None:
    (row,) = lookup_indication("AML CR2").indications
    assert (row.astct, row.ebmt) == ("S", "S")
    assert row.astct_source == "ASTCT-table" and row.ebmt_source == "EBMT 2022"
    (scd,) = lookup_indication("sickle cell disease").indications
    assert (scd.astct, scd.ebmt, scd.ebmt_grade, scd.astct_status) == ("", "CO", "II", "U")
    text = " ".join(lookup_indication("sickle cell").explanations)
    assert "EBMT 2022" in text and "CO/II" in text and "not in the retrieved" in text


def test_categories_match_domain_table() -> None:
    expected = {
        "aml-cr1-low": ("N", "GNR"), "aml-cr1-intermediate": ("C", ""), "aml-cr1-high": ("S", "CO"),
        "all-cr1-high": ("S", "CO"), "all-cr3": ("C", "CO"), "cml-cp": ("C", "CO"), "jmml": ("S", "CO"),
        "hodgkin-cr1": ("N", "GNR"), "hodgkin-relapse": ("C", "CO"), "saa": ("S", "CO"),
        "fanconi": ("R", "CO"), "scid": ("", "S"), "x-ald": ("", "CO"), "hurler": ("", "S"),
    }  # fmt: skip
    table = {i.id: i for i in load_indications().indications}
    for key, (astct, ebmt) in expected.items():
        assert (table[key].astct, table[key].ebmt) == (astct, ebmt), key


def test_unknown_disease_is_not_listed_not_an_error() -> None:
    result = lookup_indication("diabetes mellitus type 2")
    assert result.status == NOT_LISTED
    assert not result.indications and not result.investigational
    assert "not listed" in result.explanations[0]
    assert json.loads(json.dumps(result.to_dict()))["status"] == "not_listed"


@pytest.mark.parametrize("bad", ["", "   ", "--", "!!"])
def test_empty_diagnosis_is_invalid(bad: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        lookup_indication(bad)
    assert info.value.where == "diagnosis"


@pytest.mark.parametrize(
    ("query", "use_id", "ncts"),
    [
        ("spinal cord injury", "spinal-cord-injury", {"NCT01354483", "NCT01471613", "NCT03979742"}),
        ("SCI", "spinal-cord-injury", {"NCT01354483", "NCT01471613", "NCT03979742"}),
        ("sepsis", "sepsis", {"NCT03694613"}),
        ("bloodstream infection", "sepsis", {"NCT03694613"}),
        ("bronchopulmonary dysplasia", "bpd", {"NCT04440670"}),
        ("necrotising enterocolitis", "nec", {"NCT05138276"}),
        ("HIE", "hie", {"NCT02612155", "NCT02551003", "NCT01649648"}),
        ("cerebral palsy", "cerebral-palsy", {"NCT01147653", "NCT01988584"}),
        ("autism", "autism", set()),
        ("autism spectrum disorder", "autism", set()),
    ],
)
def test_investigational_uses_are_labelled_never_treatment(query: str, use_id: str, ncts: set[str]) -> None:
    result = lookup_indication(query)
    assert result.status == INVESTIGATIONAL
    assert not result.indications
    (use,) = result.investigational
    assert use.id == use_id
    assert {t.nct for t in use.trials} == ncts
    data = use.to_dict()
    assert data["label"] == "INVESTIGATIONAL" and data["is_treatment"] is False
    text = " ".join(result.explanations)
    assert "INVESTIGATIONAL" in text and "not a treatment" in text


def test_no_investigational_use_is_in_the_indications() -> None:
    table = load_indications()
    names = " ".join(normalise(i.name + " " + " ".join(i.synonyms)) for i in table.indications)
    for word in ("spinal", "sepsis", "septic", "bronchopulmonary", "enterocolitis", "encephalopathy"):
        assert word not in names
    for use in table.investigational:
        assert "treatment" not in use.summary.lower() or "not" in use.summary.lower()


def test_every_nct_in_domain_md_is_in_the_table() -> None:
    listed = {t.nct for u in load_indications().investigational for t in u.trials}
    assert listed >= DOMAIN_MD_TRIALS


def test_table_values_are_valid() -> None:
    table = load_indications()
    assert len(table.indications) >= 20 and len(table.investigational) == 7
    for i in table.indications:
        assert i.astct in ASTCT_CATEGORIES or (i.astct == "" and i.astct_status == "U")
        assert i.ebmt in EBMT_CATEGORIES or (i.ebmt == "" and i.ebmt_status == "U")
        assert i.cord_blood_role


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw["disease"][0].__setitem__("astct", "X"),
        lambda raw: raw["disease"][0].__setitem__("ebmt", "MAYBE"),
        lambda raw: raw["disease"][0].__setitem__("ebmt_grade", "IV"),
        lambda raw: raw["investigational"][0]["trials"][0].__setitem__("nct", "NCT123"),
    ],
)
def test_bad_data_is_rejected(mutate: object) -> None:
    raw = deepcopy(tomllib.loads(read_indications_text()))
    mutate(raw)  # type: ignore[operator]
    with pytest.raises(InvalidInputError):
        build_table(raw)
