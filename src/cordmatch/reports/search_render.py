"""Lay out a :class:`~cordmatch.reports.search_report.SearchReport`: PDF (reportlab, A4 landscape) and
an HTML print view (a self-contained page: inline styles and an inline SVG plot, nothing loaded)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, KeepTogether, Paragraph, Spacer

from cordmatch.reports.pdf import VERDICT_COLOURS, content_width, grid, para, render, styles
from cordmatch.reports.search_report import SearchReport, curve_image

PAGE = landscape(A4)


def _verdict(v: str) -> Paragraph:
    from reportlab.lib.styles import ParagraphStyle

    style = ParagraphStyle("v", parent=styles()["CellBold"], textColor=VERDICT_COLOURS.get(v))
    return Paragraph(v.upper(), style)


def _pairs(rows: list[tuple[str, str]], width: float) -> Flowable:
    return grid(rows, (0.25 * width, 0.75 * width), header=False)


def render_pdf(report: SearchReport) -> bytes:
    """The report as PDF bytes."""
    w = content_width(PAGE)
    story: list[Flowable] = [
        para(report.title, "Title"),
        para("Decision support: cordmatch ranks and explains; the transplant physician decides.", "Note"),
        Spacer(1, 4),
        _pairs(report.header, w),
        para("Patient", "Heading2"),
        _pairs(report.patient, w),
        para("Anti-HLA antibodies", "Heading2"),
        _pairs(report.antibodies, w),
        para("Search criteria", "Heading2"),
        _pairs(report.criteria, w),
        para("Ranked units", "Heading2"),
    ]
    if report.units:
        head = ["#", "unit", "8/8", "6/6", "TNC x10^7/kg", "CD34+ x10^5/kg", "ABO/Rh", "bank",
                "engrafted by day 42 (estimate)", "cautions"]  # fmt: skip
        rows: list[list[Any]] = [head]
        for u in report.units:
            rows.append([str(u.rank), u.unit_id, u.match_8, u.match_6, u.tnc, u.cd34, u.abo, u.bank, u.p42,
                         "; ".join(u.cautions) or "none"])  # fmt: skip
        fr = (0.03, 0.11, 0.08, 0.05, 0.07, 0.07, 0.06, 0.12, 0.09, 0.32)
        story.append(grid(rows, [f * w for f in fr]))
    else:
        story.append(para("No unit passes the hard filters.", "Cell"))
    probs = [(f"#{u.rank} {u.unit_id}", u.probability) for u in report.units if u.probability]
    if probs:
        story += [
            para("Match probabilities (units with unresolved typing)", "Heading2"),
            _pairs([(a, b or "") for a, b in probs], w),
        ]
    image = curve_image(report, "png")
    if image is not None:
        img = Image(io.BytesIO(image), width=190 * mm, height=114 * mm)
        story += [KeepTogether([para("Estimated neutrophil engraftment", "Heading2"), img])]
    if report.doubles:
        story.append(para("Double-unit grafts", "Heading2"))
        for k, d in enumerate(report.doubles, start=1):
            story.append(_pairs([(f"double {k}", d.units), ("combined TNC", d.combined_tnc),
                                 ("combined CD34+ x10^5/kg", d.combined_cd34), ("unit to unit", d.unit_to_unit)],
                                w))  # fmt: skip
            story.append(_checks(d.checks, w))
    story.append(para("Reasons, unit by unit", "Heading2"))
    for u in report.units:
        story += [para(f"#{u.rank} {u.unit_id}", "Heading3"), _checks(u.checks, w)]
    if report.explain:
        story += [para("Explanation asked for", "Heading2"), *[para(line, "Cell") for line in report.explain]]
    story.append(para("Thresholds in force, with their sources", "Heading2"))
    rows = [["threshold", "what", "value", "unit", "source"]]
    rows += [[t["name"], t["description"], t["value"], t["unit"], f"{t['source']} [{t['status']}]"]
             for t in report.thresholds]  # fmt: skip
    story.append(grid(rows, [f * w for f in (0.18, 0.3, 0.08, 0.12, 0.32)]))
    story.append(para("Notes and legend", "Heading2"))
    story += [para(n, "Cell") for n in report.notes]
    return render(story, "search report", _when(report), subject="cord blood unit search", pagesize=PAGE)


def _checks(checks: list[dict[str, str]], w: float) -> Flowable:
    rows: list[list[Any]] = [["verdict", "rule", "value", "threshold", "source"]]
    rows += [[_verdict(c["verdict"]), c["rule"], c["value"], c["threshold"], c["source"]] for c in checks]
    return grid(rows, [f * w for f in (0.07, 0.22, 0.3, 0.15, 0.26)])


def _when(report: SearchReport) -> datetime:
    return datetime.strptime(report.generated, "%Y-%m-%d %H:%M UTC")


_ENV = Environment(loader=PackageLoader("cordmatch.reports", "templates"), autoescape=select_autoescape())


#: The print view's own Content-Security-Policy: no script at all, nothing from anywhere, its inline styles
#: and the plot (a data: image) only.
PRINT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def render_html(report: SearchReport) -> str:
    """The report as a self-contained HTML print view (inline CSS; the plot as a data: SVG image)."""
    import base64

    svg = curve_image(report, "svg")
    plot = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii") if svg else None
    return _ENV.get_template("search_report.html").render(report=report, plot=plot)
