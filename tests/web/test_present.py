"""Words and numbers for people: cell counts, messages without permission ids, CLI flags or URLs, and the
search outcome as table rows whose cautions never hide a failed, flagged or unknown fact."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cordmatch.web import present


def test_cells_and_numbers_have_no_float_noise() -> None:
    assert present.cells(1050000000.0) == "1.05 ×10⁹"
    assert present.cells(2159999999.9999995) == "2.16 ×10⁹"
    assert present.cells(9.999e8) == "1 ×10⁹"
    assert present.cells(6.84e6) == "6.84 ×10⁶"
    assert present.cells(None) == "—" and present.cells(0) == "0"
    assert present.number(96.0) == "96" and present.number(12.345) == "12.35" and present.number(None) == "—"
    assert present.number(1.05e9) == "1.05 ×10⁹" and present.number("B neg") == "B neg"


@given(st.floats(min_value=1e4, max_value=1e13, allow_nan=False))
def test_cells_never_print_e_notation_or_long_digits(value: float) -> None:
    text = present.cells(value)
    assert "e+" not in text and "e-" not in text and len(text) <= 12


def test_machine_notation_becomes_plain() -> None:
    assert present.machine_to_human("TNC before cryopreservation (cells) >= 900000000.0") == (
        "TNC before cryopreservation (cells) ≥ 9 ×10⁸"
    )
    assert present.machine_to_human("5.25 x10^7/kg (threshold > 1.5)") == "5.25 ×10⁷/kg (threshold > 1.5)"
    assert (
        present.machine_to_human("IOM 2005 (8-9 x 10^8) [V]; (>= 40-50 mL)") == "IOM 2005 (8-9 ×10⁸) [V]; (≥ 40-50 mL)"
    )
    # identifiers are left alone: HLA names, DINs, dates
    for text in ("A*24:02:01:01+A*03:01:01:02N", "Z999926000006U", "2026-11-29", "127.0.0.1"):
        assert present.machine_to_human(text) == text


def test_messages_in_the_users_words() -> None:
    assert present.human_message("coord with role coordinator may not unit.read") == (
        "Your role (coordinator) may not view units."
    )
    note = present.human_message("no unit passes the hard filters; use --explain UNIT to see why a unit was excluded")
    assert "--" not in note and '"Explain a unit"' in note
    bad = "weight: Input should be greater than 0 For further information visit https://errors.pydantic.dev/2.9/v"
    assert "http" not in present.human_message(bad)
    assert present.human_message("hla_gl: unknown allele A*99:99") == "HLA typing: unknown allele A*99:99"
    assert present.field_label("hla_gl") == "HLA typing" and present.field_label("collection.tnc") == "collection TNC"
    assert present.field_label("--weight") == "Weight (kg)"


def _check(rule: str, value: str, verdict: str, threshold: str = "", source: str = "X [V]") -> dict[str, str]:
    return {"rule": rule, "value": value, "threshold": threshold, "verdict": verdict, "source": source}


def test_cautions_show_every_fail_flag_and_unknown() -> None:
    checks = [
        _check("HLA match (8 alleles, bidirectional)", "unresolved (at most 7/8)", "flag"),
        _check("donor-specific antibodies (virtual crossmatch)", "A*02:01 (MFI 5000)", "fail"),
        _check("red cells", "RBC replete", "flag"),
        _check("CD34+ dose", "not recorded", "flag"),
        _check("unit age", "collection date unknown", "info"),
        _check("NIMA match (tie-breaker)", "NIMA not recorded", "info"),
        _check("ABO", "unit ?: patient or unit ABO unknown", "info"),
        _check("attached segment", "present", "pass"),
        _check("HLA match (6: A, B antigen; DRB1 allele)", "n/a", "info"),
    ]
    badges = {(c.text, c.level) for c in present.cautions(checks)}
    assert ("HLA unresolved: confirm typing", "warn") in badges
    assert ("DSA: A*02:01", "bad") in badges
    assert ("RBC replete", "warn") in badges and ("CD34+ not recorded", "warn") in badges
    assert ("collection date unknown", "unknown") in badges
    assert ("ABO unknown", "unknown") in badges and ("6/6 count unknown", "unknown") in badges
    assert not any("NIMA" in t for t, _ in badges) and not any("segment" in t for t, _ in badges)
    # the unit's ABO is unknown: shown even when the patient's ABO was not given
    assert any(c.text == "ABO unknown" for c in present.cautions(checks, patient_abo_known=False))


def test_result_row_reads_the_engraftment_estimate_and_age() -> None:
    r = {
        "rank": 2, "unit_id": "Z999926000003", "match_8": {"bidirectional": 4}, "match_6": {"bidirectional": None},
        "tnc_per_kg": 6.754, "cd34_per_kg": None, "unit": {"bank": "B", "accredited": False, "abo": "AB", "rh": "-"},
        "checks": [_check("unit age", "3.3 years", "pass"),
                   _check("estimated neutrophil engraftment", "median day 26 (day 19-37); P(engraft by day 42) 84%",
                          "info")],
    }  # fmt: skip
    row = present.result_row(r)
    assert (row.rank, row.match_8, row.match_6, row.tnc, row.cd34) == ("2", "4/8", "?/6", "6.75", "—")
    assert (row.abo, row.age, row.p42, row.median) == ("AB-", "3.3 y", "84%", "median day 26")
    assert row.bank == "B (not accredited)" and row.plot_query.endswith("m6=")


def test_indication_in_one_line_with_details() -> None:
    notes = [
        "indication: AML CR1 low risk (paediatric): ASTCT N (not generally recommended; ASTCT-table [V]); more",
        "indication: AML CR2 (paediatric): ASTCT S (standard of care; ASTCT-table [V]); more",
        "no unit passes the hard filters; use --explain UNIT to see why a unit was excluded",
    ]
    indication, rest = present.split_notes(notes)
    assert indication is not None and len(indication.details) == 2
    assert indication.summary == "2 settings match the diagnosis; ASTCT categories: N, S"
    assert len(rest) == 1 and "--explain" not in rest[0]


def test_audit_actions_in_words() -> None:
    assert present.action_words("unit.state.received") == "moved to received"
    assert present.action_words("unit.measure.pre_cryo") == "pre cryo counts recorded"
    assert present.action_words("unit.release") == "released (QC checklist passed)"
    assert present.action_words("something.new") == "something.new"


def test_an_unresolved_count_shows_its_estimated_probability() -> None:
    r = {"rank": 1, "unit_id": "U1", "match_8": {"bidirectional": None}, "match_6": {"bidirectional": None},
         "tnc_per_kg": 4.0, "checks": [_check("match probability (unresolved typing)",
                                              "P(8/8) 0.42, P(>=7/8) 0.90, P(6/6) 0.50", "info")]}  # fmt: skip
    row = present.result_row(r)
    assert row.match_8 == "?/8 (P(8/8) 42%)" and row.match_6 == "?/6"
    assert present.result_row({**r, "checks": []}).match_8 == "?/8"
