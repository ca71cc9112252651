"""Virtual crossmatch per unit: DR51/52/53 (DRB3/4/5, inferred from DRB1 when untyped), DQ/DP (not assessed
when untyped), antibody forms labs report (allele, first field, serology incl. Cw, Bw4/Bw6), sub-threshold."""

from __future__ import annotations

import datetime as dt

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.hla.typing import parse_typing
from cordmatch.selection import Antibody, DictSource, Patient, UnitRecord, parse_antibodies, search
from cordmatch.selection.crossmatch import AntibodyProfile, assess, resolve
from cordmatch.selection.model import FAIL, FLAG, PASS
from cordmatch.selection.records import build_index
from cordmatch.selection.settings import settings_from_toml

TODAY = dt.date(2026, 1, 1)
# a patient without DRB3/4/5 (DR1, DR8 haplotypes): antibodies to DR51/52/53 are plausible
PATIENT = "A*02:01+A*01:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*01:01+DRB1*08:01"
CLASS_I = "A*02:01+A*01:01^B*08:01+B*07:02^C*07:01+C*07:02"


def _unit(uid: str, class_ii: str, tnc_per_kg: float = 5.0) -> UnitRecord:
    return UnitRecord(
        uid,
        f"{CLASS_I}^{class_ii}",
        tnc=tnc_per_kg * 1e7 * 10,
        cd34=2.0 * 1e5 * 10,
        abo="O",
        rh="+",
        bank="B",
        accredited=True,
        collection_date=dt.date(2020, 1, 1),
    )


def _search(tables, units, antibodies, **kw):  # type: ignore[no-untyped-def]
    idx = build_index(units, tables)
    src = DictSource({u.unit_id: u for u in units})
    p = Patient(parse_typing(PATIENT, tables), 10.0, antibodies=antibodies)
    return search(idx, src, p, tables, top=20, today=TODAY, **kw)


def _dsa(r):  # type: ignore[no-untyped-def]
    return [c for c in r.checks if c.rule.startswith("donor-specific")]


def test_dr53_typed_inferred_and_absent(tables):  # type: ignore[no-untyped-def]
    units = [
        _unit("dr4-untyped", "DRB1*01:01+DRB1*04:01"),  # DRB1*04 carries DR53: possible
        _unit("dr8", "DRB1*01:01+DRB1*08:01", 4.0),  # no DRB4 on DR1/DR8 haplotypes: none
        _unit("dr4-typed", "DRB1*01:01+DRB1*04:01^DRB4*01:01+DRB4*01:01"),  # typed DRB4: definite
    ]
    out = _search(tables, units, (Antibody("DR53", 6000.0),))
    ids = [r.unit.unit_id for r in out.results]
    assert ids == ["dr8", "dr4-untyped"]  # possible DSA ranks after none; definite excluded
    assert [c.verdict for c in _dsa(out.results[0])] == [PASS]
    possible = _dsa(out.results[1])
    assert possible[0].verdict == FLAG and "possible DSA, type DRB3/4/5" in possible[0].value
    assert "DR53 (MFI 6000)" in possible[0].value
    exp = _search(tables, units, (Antibody("DR53", 6000.0),), explain="dr4-typed").explanation
    assert exp is not None and exp.status == "excluded"
    assert any("DR53 (MFI 6000)" in line for line in exp.lines)


@pytest.mark.parametrize(
    ("spec", "carrier"),
    [("DR52", "DRB1*01:01+DRB1*13:01"), ("DR51", "DRB1*01:01+DRB1*15:01"), ("DRB3*01:01", "DRB1*03:01+DRB1*01:01")],
)
def test_dr51_dr52_inferred_from_drb1(tables, spec, carrier):  # type: ignore[no-untyped-def]
    out = _search(
        tables, [_unit("carrier", carrier), _unit("none", "DRB1*01:01+DRB1*08:01", 4.0)], (Antibody(spec, 3000.0),)
    )
    by_id = {r.unit.unit_id: r for r in out.results}
    assert "possible DSA, type DRB3/4/5" in _dsa(by_id["carrier"])[0].value
    assert _dsa(by_id["none"])[0].value == "none"


def test_dq_untyped_is_not_assessed_never_none(tables):  # type: ignore[no-untyped-def]
    units = [
        _unit("dq-untyped", "DRB1*01:01+DRB1*08:01"),
        _unit("dq7", "DRB1*01:01+DRB1*08:01^DQB1*03:01+DQB1*05:01"),
        _unit("dq-clean", "DRB1*01:01+DRB1*08:01^DQB1*02:01+DQB1*05:01"),
    ]
    out = _search(tables, units, (Antibody("DQB1*03:01", 4000.0),))
    by_id = {r.unit.unit_id: r for r in out.results}
    assert "dq7" not in by_id  # typed and carrying it: excluded
    untyped = _dsa(by_id["dq-untyped"])
    assert untyped[0].verdict == FLAG and untyped[0].value.startswith("not assessed")
    assert "not typed at DQB1" in untyped[0].value
    assert _dsa(by_id["dq-clean"])[0].value == "none"
    assert any("DQ or DP" in n for n in out.notes)


def test_first_field_and_cw_forms(tables):  # type: ignore[no-untyped-def]
    abs_ = parse_antibodies("specificity,mfi\nA*02,5000\nCw7,3000\n")
    assert [a.specificity for a in abs_] == ["A*02", "Cw7"]
    profile = AntibodyProfile.build(abs_, tables, 1000)
    typing = parse_typing("A*02:05+A*03:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*01:01+DRB1*04:01", tables)
    x = assess(profile.active, typing, tables)
    assert x.definite == ("A*02 (MFI 5000)", "Cw7 (MFI 3000)")
    other = parse_typing("A*03:01+A*01:01^B*08:01+B*44:02^C*04:01+C*05:01^DRB1*01:01+DRB1*04:01", tables)
    assert assess(profile.active, other, tables).definite == ()


@pytest.mark.parametrize(
    ("typing", "bw4", "bw6"),
    [
        ("A*01:01+A*02:01^B*44:02+B*08:01", "definite", "definite"),  # B44 Bw4, B8 Bw6
        ("A*24:02+A*02:01^B*08:01+B*07:02", "definite", "definite"),  # A24 carries Bw4
        ("A*01:01+A*02:01^B*08:01+B*07:02", "none", "definite"),
        ("A*01:01+A*02:01^B*15:01+B*15:01", "none", "definite"),  # B62 is Bw6
        ("A*01:01+A*02:01^B*15:17+B*15:17", "definite", "none"),  # B63 is Bw4 (exception of B*15)
        ("A*01:01+A*02:01^B*15:XX+B*15:XX", "possible", "definite"),  # antigen level: B62 or B63 ...
        ("A*01:01+A*02:01^B*44:XX+B*44:XX", "definite", "possible"),  # B44 mostly Bw4 (B*44:06 is Bw6)
    ],
)
def test_public_epitopes_bw4_bw6(tables, typing, bw4, bw6):  # type: ignore[no-untyped-def]
    t = parse_typing(typing, tables)
    for spec, want in (("Bw4", bw4), ("Bw6", bw6)):
        x = assess(tuple(resolve(Antibody(spec, 5000.0), tables)), t, tables)
        got = "definite" if x.definite else "possible" if x.possible else "none"
        assert got == want, (spec, typing, x)


def test_bw4_vectorised_search_agrees(tables):  # type: ignore[no-untyped-def]
    units = [
        UnitRecord("bw4", "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*01:01+DRB1*08:01", 5e8, 2e6),
        UnitRecord("bw6", "A*02:01+A*01:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*01:01+DRB1*08:01", 4e8, 2e6),
    ]
    out = _search(tables, units, parse_antibodies("Bw4,9000\n"))
    assert [r.unit.unit_id for r in out.results] == ["bw6"]
    relaxed = settings_from_toml('[policies.nmdp]\ndsa_action = "flag"\n')
    out = _search(tables, units, parse_antibodies("Bw4,9000\n"), settings=relaxed)
    assert [r.unit.unit_id for r in out.results] == ["bw6", "bw4"]
    assert any(c.verdict == FLAG and "Bw4 (MFI 9000)" in c.value for c in _dsa(out.results[1]))


def test_sub_threshold_antibodies_reported_as_info(tables):  # type: ignore[no-untyped-def]
    out = _search(tables, [_unit("u", "DRB1*01:01+DRB1*04:01^DRB4*01:01+DRB4*01:01")], (Antibody("DR53", 700.0),))
    r = out.results[0]
    assert _dsa(r)[0].value == "none"
    below = [c for c in r.checks if c.rule.startswith("antibodies below")]
    assert below and below[0].verdict == "info" and "DR53 (MFI 700)" in below[0].value


def test_unknown_antibody_names_are_refused_with_the_line(tables):  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError) as err:
        AntibodyProfile.build(parse_antibodies("A*02,5000\nB*999,3000\n"), tables, 1000)
    assert "line 2" in str(err.value.where)
    with pytest.raises(InvalidInputError):
        parse_antibodies("Bw5x,100\n")


def test_dsa_against_double_units_is_checked(tables):  # type: ignore[no-untyped-def]
    units = [_unit("a", "DRB1*01:01+DRB1*04:01", 2.0), _unit("b", "DRB1*01:01+DRB1*08:01", 2.0)]
    units.append(_unit("c", "DRB1*01:01+DRB1*08:01", 1.9))
    out = _search(tables, units, (Antibody("DR53", 6000.0),))
    assert not out.results
    assert out.double_units
    for d in out.double_units:  # "a" possibly carries DR53: never in a double graft
        assert "a" not in {d.first.unit.unit_id, d.second.unit.unit_id}
        assert all(c.verdict != FAIL for u in (d.first, d.second) for c in u.checks)


def test_double_graft_says_when_dq_is_not_assessed(tables):  # type: ignore[no-untyped-def]
    units = [_unit("a", "DRB1*01:01+DRB1*08:01", 2.0), _unit("b", "DRB1*01:01+DRB1*08:01^DQB1*02:01+DQB1*05:01", 2.0)]
    out = _search(tables, units, (Antibody("DQB1*03:01", 4000.0),))
    assert not out.results and out.double_units
    xm = next(c for c in out.double_units[0].checks if c.rule.endswith("virtual crossmatch"))
    assert xm.verdict == FLAG and "a: not assessed" in xm.value and "b:" not in xm.value


@pytest.mark.parametrize(("spec", "want"), [("A2", "excluded"), ("A*02:01", "possible"), ("A*02", "excluded")])
def test_antigen_set_coded_units(tables, spec, want):  # type: ignore[no-untyped-def]
    # A*02:XX is coded as the antigen set A2|A203|A210: an antibody to A2 (with its associated antigens) or to
    # the whole A*02 family hits it for certain; an allele antibody only possibly
    xx = UnitRecord("xx", "A*02:XX+A*01:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*01:01+DRB1*08:01", 9e8, 2e6)
    ok = UnitRecord("ok", "A*03:01+A*01:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*01:01+DRB1*08:01", 4e8, 2e6)
    out = _search(tables, [xx, ok], (Antibody(spec, 5000.0),))
    ids = [r.unit.unit_id for r in out.results]
    if want == "excluded":
        assert ids == ["ok"]
    else:
        assert ids == ["ok", "xx"]
        assert _dsa(out.results[1])[0].value.startswith("possible")


@pytest.mark.parametrize(
    ("spec", "unit_b", "want"),
    [
        # a unit that may carry the antigen is a DSA (as a first-field typing was): excluded, never only flagged
        ("B62", "B15+B8", "definite"),
        ("B62", "B*15:XX+B*08:01", "definite"),
        ("B62", "B*15:01+B*08:01", "definite"),  # B*15:01 is B62
        ("B62", "B*15:17+B*08:01", "none"),  # B*15:17 is B63: a sibling split, not B62
        ("B15", "B*15:01+B*08:01", "definite"),  # the broad covers its splits
    ],
)
def test_who_serology_relations_in_the_crossmatch(tables, spec, unit_b, want):  # type: ignore[no-untyped-def]
    profile = AntibodyProfile.build((Antibody(spec, 5000.0),), tables, 1000)
    x = assess(profile.active, parse_typing(unit_b, tables), tables)
    got = "definite" if x.definite else "possible" if x.possible else "none"
    assert got == want
