"""The unit report for the transplant centre, read back as text (pdftotext): facts, HLA, counts written
for people, QC checklist with sources and the [V]/[U] legend; the QC values agree with the service's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cordmatch.errors import NotFoundError
from cordmatch.reports import unit_facts
from cordmatch.reports.service import unit_report_pdf
from reports.conftest import actor, demo_din, pdf_text

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


def test_unit_report_reads_as_a_person_needs(bank: Any, tmp_path: Path) -> None:
    din = demo_din(1)
    pdf = unit_report_pdf(bank, actor(bank, "coord"), din)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "unit-report-1.pdf").write_bytes(pdf)
    text = " ".join(pdf_text(pdf, tmp_path).split())
    unit = bank.catalogue.get_unit(actor(bank, "tech"), din)
    for needle in (
        unit.din_labelled, "Demo Public Cord Blood Bank", "FACT-NetCord", "A*02:01+A*01:01",
        "maternal infectious disease markers negative", "TNC (cells) 1.26 x10^9 1.05 x10^9", "3.88 x10^6", "97 %",
        "81 %", "CFU (colonies)", "101", "74 mL", "QC release checklist: all criteria met",
        "[V] seen in a cited source",
        "[U] unverified", "NetCord-FACT", "decision support", "search-desk@bank.invalid",
    ):  # fmt: skip
        assert needle in text, needle
    assert "e+0" not in text and "999999" not in text and "None" not in text
    assert "storage" not in text  # coordinators do not see storage positions


def test_missing_facts_are_said(bank: Any, tmp_path: Path) -> None:
    pdf = unit_report_pdf(bank, actor(bank, "tech"), demo_din(7))  # collected, nothing measured yet
    text = " ".join(pdf_text(pdf, tmp_path).split())
    assert "NOT ALL CRITERIA MET" in text and "MISSING" in text and "not recorded" in text


@pytest.mark.parametrize("n", [1, 2, 5, 6, 7, 8])
def test_qc_values_agree_with_the_service(bank: Any, n: int) -> None:
    tech = actor(bank, "tech")
    din = demo_din(n)
    ours = unit_facts.qc(bank.catalogue.get_unit(tech, din), bank.release.qc_criteria())
    theirs = bank.release.release_check(tech, din)
    assert [(i.key, i.value, i.verdict) for i in ours.items] == [(i.key, i.value, i.verdict) for i in theirs.items]


def test_coordinator_sees_only_listed_units(bank: Any) -> None:
    with pytest.raises(NotFoundError):
        unit_report_pdf(bank, actor(bank, "coord"), demo_din(6))  # quarantine: not listed


def test_bank_contact_as_recorded_or_said_missing(bank: Any) -> None:
    unit = bank.catalogue.get_unit(actor(bank, "coord"), demo_din(1))
    rows = dict(unit_facts.bank(unit, bank.catalogue.list_banks(actor(bank, "coord"))).rows)
    assert "search-desk@bank.invalid" in rows["contact"]
    none = dict(unit_facts.bank(unit.model_copy(update={"bank_contact": None}), []).rows)
    assert none["contact"].startswith("not recorded")
