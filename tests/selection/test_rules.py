"""Rule by rule, on hand-built units: the published orders (NMDP-algo, Eurocord, Dehn 2019, Sanz 2020)."""

from __future__ import annotations

from cordmatch.selection import Antibody, search
from cordmatch.selection.model import FAIL, FLAG
from cordmatch.selection.settings import settings_from_toml
from selection.helpers import TODAY, patient, registry, unit


def ids(outcome):  # type: ignore[no-untyped-def]
    return [r.unit.unit_id for r in outcome.results]


def test_nmdp_match_group_first_then_tnc_descending(tables):  # type: ignore[no-untyped-def]
    units = [
        unit("U8-low", "8", 3.2),
        unit("U7-high", "7", 9.0),
        unit("U7-mid", "7", 6.0),
        unit("U6-top", "6", 20.0),
        unit("U4", "4", 4.0),  # 4/8 but 3/6: below the 4/6 floor
    ]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables), tables, top=10, today=TODAY)
    assert ids(out) == ["U8-low", "U7-high", "U7-mid", "U6-top"]
    assert [r.match_8 for r in out.results] == [8, 7, 7, 6]
    assert all(r.match_6 is not None for r in out.results)  # the 6 count is shown
    exp = search(idx, src, patient(tables), tables, explain="U4", today=TODAY).explanation
    assert exp is not None and exp.status == "excluded"
    assert any("HLA match (6" in line and "3/6" in line for line in exp.lines), exp.lines


def test_prefilters_exclude_low_match_low_tnc_and_low_known_cd34(tables):  # type: ignore[no-untyped-def]
    units = [
        unit("ok", "6", 3.0),
        unit("3of8", "3", 9.0),  # < 4/8 (NMDP-algo)
        unit("tnc-1.5", "8", 1.5),  # TNC must exceed 1.5
        unit("cd34-low", "8", 5.0, cd34_per_kg=0.9),  # known CD34 < 1.0
        unit("cd34-unknown", "7", 3.5, cd34_per_kg=None),  # unknown CD34 is kept (flagged)
    ]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables), tables, today=TODAY)
    assert ids(out) == ["cd34-unknown", "ok"]
    for uid, rule in (("3of8", "HLA match"), ("tnc-1.5", "TNC dose, search"), ("cd34-low", "CD34+ dose, search")):
        exp = search(idx, src, patient(tables), tables, explain=uid, today=TODAY).explanation
        assert exp is not None and exp.status == "excluded"
        assert any(rule in line for line in exp.lines), exp.lines


def test_unresolved_antigen_level_unit_ranks_between_groups(tables):  # type: ignore[no-untyped-def]
    units = [unit("U8", "8", 3.1), unit("XX", "XX", 9.0), unit("U7", "7", 9.5)]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables), tables, today=TODAY)
    assert ids(out) == ["U8", "XX", "U7"]
    xx = out.results[1]
    assert xx.match_8 is None
    assert any(c.verdict == FLAG and "unresolved" in c.value for c in xx.checks)


def test_dose_first_sorts_by_tnc(tables):  # type: ignore[no-untyped-def]
    units = [unit("U8-low", "8", 3.2), unit("U6-high", "6", 9.0), unit("U7-mid", "7", 6.0)]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables), tables, policy="dose-first", today=TODAY)
    assert ids(out) == ["U6-high", "U7-mid", "U8-low"]


def test_eurocord_excludes_more_than_two_mismatches_and_demotes_c_mismatch(tables):  # type: ignore[no-untyped-def]
    units = [
        unit("U7C", "7C", 9.0),
        unit("U7", "7", 4.0),
        unit("U6", "6", 8.0),
        unit("U5", "5", 12.0),
    ]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables, malignant=True), tables, policy="eurocord", today=TODAY)
    assert ids(out) == ["U7", "U7C", "U6"]
    assert any(c.rule == "HLA-C allele mismatches" and c.verdict == FLAG for c in out.results[1].checks)
    exp = search(idx, src, patient(tables, malignant=True), tables, policy="eurocord", explain="U5", today=TODAY)
    assert exp.explanation is not None and exp.explanation.status == "excluded"


def test_eurocord_non_malignant_needs_dose_above_5(tables):  # type: ignore[no-untyped-def]
    units = [unit("five", "8", 5.0), unit("more", "7", 5.5), unit("mal-ok", "8", 2.6)]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables, malignant=False), tables, policy="eurocord", today=TODAY)
    assert ids(out) == ["more"]
    out = search(idx, src, patient(tables, malignant=True), tables, policy="eurocord", today=TODAY)
    assert ids(out) == ["five", "mal-ok", "more"]  # >= 2.5 for malignant disease


def test_dsa_excluded_by_default_flagged_when_a_centre_relaxes_it(tables):  # type: ignore[no-untyped-def]
    units = [unit("dsa", "7", 9.0), unit("clean", "7C", 4.0)]  # only "7" carries A*02:05
    idx, src = registry(units, tables)
    strong = (Antibody("A*02:05", 8000.0),)
    out = search(idx, src, patient(tables, antibodies=strong), tables, today=TODAY)
    assert ids(out) == ["clean"]  # Dehn 2019: avoid units with DSA
    exp = search(idx, src, patient(tables, antibodies=strong), tables, explain="dsa", today=TODAY).explanation
    assert exp is not None and exp.status == "excluded"
    assert any("A*02:05 (MFI 8000)" in line for line in exp.lines), exp.lines  # the MFI is shown
    relaxed = settings_from_toml('[policies.nmdp]\ndsa_action = "flag"\n')
    out = search(idx, src, patient(tables, antibodies=strong), tables, settings=relaxed, today=TODAY)
    assert ids(out) == ["clean", "dsa"]  # flagged and ranked after DSA-negative units
    dsa = next(c for c in out.results[1].checks if c.rule.startswith("donor-specific"))
    assert dsa.verdict == FLAG and "A*02:05" in dsa.value
    out = search(idx, src, patient(tables, antibodies=strong, malignant=True), tables, policy="eurocord", today=TODAY)
    assert ids(out) == ["clean"]
    weak = (Antibody("A*02:05", 500.0),)  # below the default MFI threshold: reported on the unit (info)
    out = search(idx, src, patient(tables, antibodies=weak), tables, today=TODAY)
    assert ids(out) == ["dsa", "clean"]
    below = [c for c in out.results[0].checks if c.rule.startswith("antibodies below")]
    assert below and below[0].verdict == "info" and "A*02:05 (MFI 500)" in below[0].value
    assert not any(c.rule.startswith("antibodies below") for c in out.results[1].checks)
    antigen = (Antibody("A2", 5000.0),)  # antigen-level specificity hits both (A*02 antigen)
    out = search(idx, src, patient(tables, antibodies=antigen), tables, settings=relaxed, today=TODAY)
    assert len(out.results) == 2
    assert all(any(c.verdict == FLAG and c.rule.startswith("donor") for c in r.checks) for r in out.results)


def test_tie_breakers_on_equal_dose(tables):  # type: ignore[no-untyped-def]
    units = [
        unit("replete", "7", 5.0, rbc_depleted=False),
        unit("not-accredited", "7", 5.0, accredited=False),
        unit("best", "7", 5.0),
        unit("no-segment", "7", 5.0, attached_segment=False),
    ]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables), tables, today=TODAY)
    assert ids(out) == ["best", "no-segment", "replete", "not-accredited"]


def test_nima_match_breaks_a_tie(tables):  # type: ignore[no-untyped-def]
    # a 4/6 unit lacking the patient's A2 and B8 antigens; 4/6 needs TNC >= 5.0 as a single unit
    units = [unit("plain", "4/6", 5.0), unit("nima", "4/6", 5.0, nima="A*02:01^B*08:01^DRB1*03:01")]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables), tables, today=TODAY)
    assert ids(out) == ["nima", "plain"]
    assert any(c.rule.startswith("NIMA") and c.value == "yes" for c in out.results[0].checks)


def test_double_units_only_when_no_single_unit_reaches_the_dose(tables):  # type: ignore[no-untyped-def]
    units = [
        unit("a", "7", 2.0),
        unit("b", "6", 1.9),
        unit("c", "8", 1.6, cd34_per_kg=1.2),
        unit("tiny", "8", 1.4),  # below the per-unit minimum
        unit("dsa", "8", 2.5),
    ]
    idx, src = registry(units, tables)
    abs_ = (Antibody("B*44:02", 6000.0),)  # hits every unit carrying B*44:02 except "b" (B*44:03)
    out = search(idx, src, patient(tables, antibodies=()), tables, today=TODAY)
    assert out.double_units, out.notes
    first = out.double_units[0]
    pair = {first.first.unit.unit_id, first.second.unit.unit_id}
    assert "tiny" not in pair
    assert first.combined_tnc_per_kg > 3.5
    assert first.unit_to_unit["match_8"]["bidirectional"] is not None
    assert all(c.verdict != FAIL for c in first.checks)
    # with a DSA against B*44:02 only "b" passes the crossmatch: no pair
    out = search(idx, src, patient(tables, antibodies=abs_), tables, today=TODAY)
    assert all("b" in {d.first.unit.unit_id, d.second.unit.unit_id} for d in out.double_units)
    assert not out.double_units
    # a unit reaching the single-unit dose: no double units
    idx2, src2 = registry([*units, unit("big", "6", 3.0)], tables)
    assert not search(idx2, src2, patient(tables), tables, today=TODAY).double_units


def test_explain_ranked_lower(tables):  # type: ignore[no-untyped-def]
    units = [unit("U8", "8", 3.2), unit("U7a", "7", 9.0), unit("U7b", "7", 6.0)]
    idx, src = registry(units, tables)
    exp = search(idx, src, patient(tables), tables, explain="U7b", today=TODAY).explanation
    assert exp is not None and exp.status == "ranked" and exp.rank == 3
    text = " ".join(exp.lines)
    assert "1 unit(s) rank above" in text and "higher TNC dose" in text
    missing = search(idx, src, patient(tables), tables, explain="nope", today=TODAY).explanation
    assert missing is not None and missing.status == "not found"


def test_every_check_carries_a_source_label(tables):  # type: ignore[no-untyped-def]
    idx, src = registry([unit("U8", "8", 3.2)], tables)
    out = search(idx, src, patient(tables), tables, today=TODAY)
    for c in out.results[0].checks:
        assert c.source and c.verdict in ("pass", "fail", "flag", "info")
    assert any("[V]" in c.source for c in out.results[0].checks)
    assert any("[U]" in c.source for c in out.results[0].checks)  # the DSA MFI threshold is a centre setting
