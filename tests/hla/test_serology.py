"""WHO serology: assignments from rel_dna_ser.txt, relations from rel_ser_ser.txt (issue 10, item 2)."""

from __future__ import annotations

from cordmatch.hla.serology import (
    MATCH,
    MISMATCH,
    RELATED,
    antigen_relation,
    assignment,
    parse_rel_dna_ser,
    parse_rel_ser_ser,
    serologic_name,
)

REL_SER_SER = ["# file: rel_ser_ser.txt", "A;2;;203/210", "B;15;62/63/75/76/77;", "B;16;38/39;", "B;39;;3901/3902"]


def test_assignment_columns_in_order_of_firmness() -> None:
    assert assignment("B", ["62", "", "", ""]) == ("B62", 0)
    assert assignment("A", ["", "0/1", "", ""]) == ("A1", 1)  # low-expression allele: null or A1
    assert assignment("B", ["", "", "15/70", ""]) == ("B15/B70", 2)
    assert assignment("A", ["66", "", "", "26/34"]) == ("A66", 0)  # expert exceptions are not the antigen
    assert assignment("C", ["?", "", "", ""]) is None and assignment("A", ["0", "", "", ""]) is None
    assert serologic_name("C", "7") == "Cw7" and serologic_name("DRB3", "52") == "DR52"


def test_parse_rel_dna_ser() -> None:
    rows = parse_rel_dna_ser(["# version", "B*;15:01:01:01;62;;;", "B*;39:01:01:01;3901;;;", "C*;12:02:01;?;;;"])
    assert rows == {"B*15:01:01:01": ("B62", 0), "B*39:01:01:01": ("B3901", 0), "C*12:02:01": None}


def test_relations() -> None:
    rel = parse_rel_ser_ser(REL_SER_SER)
    assert rel.name_relation("B62", "B63") == MISMATCH
    assert rel.name_relation("B15", "B62") == RELATED  # a broad does not tell the split
    assert rel.name_relation("B3901", "B39") == MATCH  # an associated antigen counts as its parent
    assert rel.name_relation("B3901", "B3902") == MISMATCH
    assert rel.name_relation("B16", "B3901") == RELATED
    assert rel.name_relation("A203", "A210") == MISMATCH
    assert rel.covered("B16") == ["B16", "B38", "B39", "B3901", "B3902"]
    fam = {"B*15": {"B62", "B63"}}
    assert antigen_relation("B15/B70", "B62", rel, fam) == RELATED
    assert antigen_relation("B*15:99", "B63", rel, fam) == RELATED  # a protein without WHO serology
    assert antigen_relation("B*15:99", "B39", rel, fam) == MISMATCH
    assert antigen_relation("B*83:01", "B*15:99", rel, fam) == MISMATCH
    assert antigen_relation("C*16:06", "C*16:01", rel, {}) == RELATED  # unknown serology, one first field


def test_release_serology_api(tables) -> None:  # type: ignore[no-untyped-def]
    sero = {a: tables.serology_of(tables.allele_index[a]) for a in ("B*15:01:01:01", "B*15:17:01:01", "A*02:03:01:01")}
    assert sero == {"B*15:01:01:01": "B62", "B*15:17:01:01": "B63", "A*02:03:01:01": "A203"}
    assert tables.serology_of(tables.allele_index["B*39:01:01:01"]) == "B3901"
    assert tables.serology_of(tables.allele_index["DRB1*14:04:01:01"]) == "DR1404"
    assert tables.serology_of(tables.allele_index["A*01:01:01:02N"]) is None  # null: no antigen
    assert tables.serology_of(tables.allele_index["B*83:01"]) is None  # WHO assigns none ("?")
    assert tables.broad_of("B62") == "B15" and "B63" in tables.splits_of("B15")
    assert tables.parent_of("DR1404") == "DR14" and tables.associated_of("A2") == ("A203", "A210")
    ids = tables.serology_index
    assert tables.antigen_relation(ids["B62"], ids["B63"]) == MISMATCH
    assert tables.antigen_relation(ids["A2"], ids["A203"]) == MATCH


def test_an_allele_match_is_an_antigen_match(tables) -> None:  # type: ignore[no-untyped-def]
    """Serology follows the protein: alleles of one lgx (P group) share one serologic antigen."""
    seen: dict[int, int] = {}
    for i in range(len(tables.alleles)):
        if not tables.allele_null[i]:
            assert seen.setdefault(int(tables.allele_lgx[i]), int(tables.allele_serology[i])) == int(
                tables.allele_serology[i]
            ), tables.alleles[i]
