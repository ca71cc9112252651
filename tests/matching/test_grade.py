"""Position grades and reasons on known cases from the IMGT/HLA release."""

from __future__ import annotations

from cordmatch.hla.typing import parse_typing
from cordmatch.matching import grade
from cordmatch.matching.model import (
    ALLELE_MATCH,
    ANTIGEN_MATCH_ALLELE_MISMATCH,
    ANTIGEN_MISMATCH,
    UNRESOLVED,
)

BASE = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"


def g(tables, patient: str, donor: str):  # type: ignore[no-untyped-def]
    return grade(parse_typing(patient, tables), parse_typing(donor, tables))


def test_position_grades_and_reasons(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, BASE, BASE.replace("A*02:01", "A*02:05").replace("B*44:02", "B*35:01"))
    a = {p.patient: p for p in r.loci["A"].positions}
    assert a["A*02:01"].grade == ANTIGEN_MATCH_ALLELE_MISMATCH
    assert "A*02:05" in a["A*02:01"].reason and "A*02" in a["A*02:01"].reason
    assert a["A*01:01"].grade == ALLELE_MATCH
    b = {p.patient: p for p in r.loci["B"].positions}
    assert b["B*44:02"].grade == ANTIGEN_MISMATCH
    assert "B44" in b["B*44:02"].reason and "B35" in b["B*44:02"].reason  # WHO serologic antigens


def test_best_pairing_is_chosen_whatever_the_written_order(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, "A*02:01+A*01:01^B*08:01+B*44:02", "A*01:01+A*02:01^B*44:02+B*08:01")
    assert all(p.grade == ALLELE_MATCH for lg in r.loci.values() for p in lg.positions)


def test_xx_is_unresolved_at_allele_level_with_reason(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, BASE, BASE.replace("DRB1*04:01", "DRB1*04:XX"))
    pos = {p.patient: p for p in r.loci["DRB1"].positions}["DRB1*04:01"]
    assert pos.grade == UNRESOLVED and pos.antigen == "match" and pos.allele == "unresolved"
    assert "DRB1*04:XX" in pos.reason
    assert r.match_8.bidirectional is None and "DRB1" in (r.match_8.reason or "")


def test_null_allele_is_explained(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, BASE, BASE.replace("A*01:01", "A*01:11N"))
    assert "A*01:11N" in (r.loci["A"].note or "") and "null" in (r.loci["A"].note or "")
    assert r.loci["A"].allele.gvh == 1 and r.loci["A"].allele.hvg == 0


def test_both_null_positions_express_nothing(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, "A*02:01+A*01:01", "A*01:11N+A*01:15N")
    assert r.loci["A"].allele.gvh == 2 and r.loci["A"].allele.hvg == 0


def test_locus_typed_on_one_side_is_named(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, BASE + "^DQB1*02:01+DQB1*03:02", BASE)
    assert r.loci["DQB1"].typed == "patient only"
    assert any("DQB1" in w and "patient only" in w for w in r.warnings)
    assert r.match_8.bidirectional == 8  # DQB1 is not in the 8 count


def test_dqb1_and_dpb1_graded_when_both_typed(tables) -> None:  # type: ignore[no-untyped-def]
    extra = "^DQB1*02:01+DQB1*03:02^DPB1*04:01+DPB1*02:01"
    r = g(tables, BASE + extra, BASE + extra.replace("DPB1*02:01", "DPB1*03:01"))
    assert r.loci["DQB1"].allele.bidirectional == 0
    assert r.loci["DPB1"].allele.bidirectional == 1


def test_genotype_alternatives_agreeing_give_a_count(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, "A*02:01+A*01:01", "A*02:01+A*01:01|A*02:09+A*01:01")
    assert r.loci["A"].allele.bidirectional == 0


def test_genotype_alternatives_disagreeing_give_none(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, "A*02:01+A*01:01", "A*02:01+A*01:01|A*02:05+A*01:01")
    assert r.loci["A"].allele.bidirectional is None
    assert r.loci["A"].antigen.bidirectional == 0


def test_to_dict_keeps_the_cli_contract(tables) -> None:  # type: ignore[no-untyped-def]
    d = g(tables, BASE, BASE).to_dict()
    for key in ("match_6", "match_8"):
        assert set(d[key]) >= {"bidirectional", "gvh", "hvg"}
    assert set(d["loci"]["A"]) >= {"gvh_mismatches", "hvg_mismatches", "positions"}


def test_disagreeing_alternatives_mark_the_position_unresolved(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, "A*02:01+A*01:01", "A*02:01+A*01:01|A*02:05+A*01:01")
    grades = sorted(p.grade for p in r.loci["A"].positions)
    assert grades == [ALLELE_MATCH, UNRESOLVED]
    unresolved = next(p for p in r.loci["A"].positions if p.grade == UNRESOLVED)
    assert unresolved.antigen == "match" and "A*02:05" in unresolved.reason
    assert "grade differently" in (r.loci["A"].note or "")


def test_agreeing_alternatives_keep_their_grades(tables) -> None:  # type: ignore[no-untyped-def]
    r = g(tables, "A*02:01+A*01:01", "A*02:01+A*01:01|A*02:09+A*01:01")
    assert all(p.grade == ALLELE_MATCH for p in r.loci["A"].positions)
    assert r.loci["A"].note is None


def test_a_serologic_typing_is_never_a_certain_mismatch_with_an_allele_of_its_antigen(tables) -> None:  # type: ignore[no-untyped-def]
    """Every WHO antigen of rel_ser_ser.txt (broad, split, associated) against alleles of itself, its splits
    and its associated antigens: the antigen level is a match or unresolved, never a certain mismatch."""
    import random

    from cordmatch.hla.names import locus_of
    from cordmatch.hla.typing import parse_typing

    rng = random.Random(7)
    rels = tables.relations
    names = sorted({*rels.splits, *rels.associated, *rels.broad_of, *rels.parent_of})
    by_antigen: dict[str, list[str]] = {}
    for i, a in enumerate(tables.alleles):
        if a.count(":") == 1 or a.count(":") == 3:
            sero = tables.serology_of(i)
            if sero and "/" not in sero:
                by_antigen.setdefault(sero, []).append(a)
    checked = 0
    for name in names:
        if not tables.is_known(name) or name.startswith("Dw"):
            continue
        locus = locus_of(name)
        for covered in rels.covered(name):
            alleles = by_antigen.get(covered, [])
            for allele in rng.sample(alleles, min(2, len(alleles))):
                g = grade(parse_typing(f"{name}+{name}", tables), parse_typing(f"{allele}+{allele}", tables))
                ag = g.loci[locus].antigen
                assert ag.gvh != 2 and ag.hvg != 2, (name, allele, ag)
                checked += 1
    assert checked > 150
