"""The unit report for a transplant centre (PDF): unit facts, HLA, processing counts, QC release
checklist with every threshold's source, infectious disease markers, CFU, viability, volumes and the bank.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reportlab.platypus import Flowable, Spacer

from cordmatch.bank.qc import Criterion, ReleaseDecision
from cordmatch.reports import unit_facts
from cordmatch.reports.numbers import LEGEND, number, threshold_text
from cordmatch.reports.pdf import VERDICT_COLOURS, content_width, grid, para, render, section_table
from cordmatch.services.schemas import BankOut, UnitOut


def _value(v: Any) -> str:
    if v is None or v == "":
        return "not recorded"
    if isinstance(v, int | float) and not isinstance(v, bool):
        return number(v)
    return str(v)


def qc_table(decision: ReleaseDecision, width: float) -> Flowable:
    """Every release criterion: criterion, recorded value, verdict (coloured), source."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph

    from cordmatch.reports.pdf import styles

    rows: list[list[Any]] = [["criterion", "recorded", "verdict", "source"]]
    for item in decision.items:
        style = ParagraphStyle("v", parent=styles()["CellBold"], textColor=VERDICT_COLOURS.get(item.verdict))
        rows.append([threshold_text(item.text), _value(item.value), Paragraph(item.verdict.upper(), style),
                     item.source])  # fmt: skip
    return grid(rows, (0.34 * width, 0.2 * width, 0.12 * width, 0.34 * width))


def unit_report(
    unit: UnitOut,
    criteria: Sequence[Criterion],
    banks: Sequence[BankOut],
    product: str | None,
    generated: datetime,
) -> bytes:
    """The PDF bytes of one unit's report."""
    width = content_width()
    decision = unit_facts.qc(unit, criteria)
    story: list[Flowable] = [
        para(f"Cord blood unit {unit.din_labelled}", "Title"),
        para(
            "Unit report for the transplant centre. Decision support: the bank's records as of the time "
            "below; the transplant physician decides. A fact never recorded is written 'not recorded'.",
            "Note",
        ),
        Spacer(1, 4),
    ]
    for section in unit_facts.sections(unit, banks, product):
        story += section_table(section, width)
    story += [
        para("Processing and QC counts ('-': not measured at that stage)", "Heading2"),
        grid(unit_facts.counts_grid(unit), (0.2 * width, *(0.2 * width,) * 4)),
    ]
    verdict = "all criteria met" if decision.passed else "NOT ALL CRITERIA MET"
    if unit.exceptional_release:
        verdict += f"; EXCEPTIONAL RELEASE: {unit.exceptional_reason or 'reason not recorded'}"
    story += [
        para(f"QC release checklist: {verdict}", "Heading2"),
        qc_table(decision, width),
        Spacer(1, 3),
        para(f"Sources: {LEGEND} Thresholds are the bank's configured release criteria.", "Note"),
    ]
    return render(story, f"unit report {unit.din_labelled}", generated, subject="cord blood unit report")
