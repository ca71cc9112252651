"""PDF building blocks on reportlab: fonts (DejaVu Sans, shipped with matplotlib: no download), styles,
key/value tables, and a document with the decision-support footer and page numbers on every page."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

from cordmatch.reports.unit_facts import Section

FOOTER = "cordmatch: decision support. It explains, people decide."
GREY = colors.HexColor("#555555")
VERDICT_COLOURS = {
    "pass": colors.HexColor("#1b7a3a"),
    "fail": colors.HexColor("#b00020"),
    "missing": colors.HexColor("#9a6700"),
    "flag": colors.HexColor("#9a6700"),
    "info": GREY,
}


@lru_cache(maxsize=1)
def fonts() -> tuple[str, str]:
    """(regular, bold) font names: DejaVu Sans from matplotlib's data (covers accents and symbols), else
    the PDF base fonts."""
    try:
        import matplotlib

        base = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(base / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(base / "DejaVuSans-Bold.ttf")))
        return "DejaVuSans", "DejaVuSans-Bold"
    except Exception:  # pragma: no cover - a matplotlib without its fonts
        return "Helvetica", "Helvetica-Bold"


@lru_cache(maxsize=1)
def styles() -> StyleSheet1:
    regular, bold = fonts()
    sheet = getSampleStyleSheet()
    for name in ("Normal", "BodyText", "Title", "Heading1", "Heading2", "Heading3"):
        sheet[name].fontName = bold if name.startswith(("Title", "Heading")) else regular
    sheet["Title"].fontSize = 16
    sheet["Heading2"].fontSize = 12
    sheet["Heading2"].spaceBefore = 8
    sheet["Heading2"].spaceAfter = 3
    sheet.add(ParagraphStyle("Small", parent=sheet["Normal"], fontSize=7.5, leading=9.5))
    sheet.add(ParagraphStyle("Cell", parent=sheet["Normal"], fontSize=8.5, leading=10.5))
    sheet.add(ParagraphStyle("CellBold", parent=sheet["Cell"], fontName=bold))
    sheet.add(ParagraphStyle("Note", parent=sheet["Normal"], fontSize=8.5, leading=10.5, textColor=GREY))
    return sheet


def para(text: str, style: str = "Cell") -> Paragraph:
    """A paragraph of plain text (escaped: user data never becomes markup)."""
    return Paragraph(escape(text), styles()[style])


def grid(rows: Sequence[Sequence[Any]], widths: Sequence[float], header: bool = True) -> Table:
    """A table of cells (strings become paragraphs, so long values wrap), thin grid, grey header row."""
    body = [[c if isinstance(c, Flowable) else para(str(c), "CellBold" if header and i == 0 else "Cell")
             for c in row] for i, row in enumerate(rows)]  # fmt: skip
    table = Table(body, colWidths=list(widths), repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
    table.setStyle(TableStyle(style))
    return table


def section_table(section: Section, width: float) -> list[Flowable]:
    """A section as a heading and a two-column label/value table."""
    return [para(section.title, "Heading2"), grid(section.rows, (0.38 * width, 0.62 * width), header=False)]


def render(
    story: list[Flowable], title: str, generated: datetime, subject: str = "", pagesize: tuple[float, float] = A4
) -> bytes:
    """The PDF bytes of ``story`` on ``pagesize`` (A4), each page footed with the decision-support line, the time the
    report was made and the page number."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=pagesize, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=18 * mm,
        title=title, author="cordmatch", subject=subject, creator="cordmatch",
    )  # fmt: skip
    regular, _ = fonts()
    stamp = generated.strftime("%Y-%m-%d %H:%M UTC")

    def foot(canvas: Any, d: Any) -> None:
        canvas.saveState()
        canvas.setFont(regular, 7.5)
        canvas.setFillColor(GREY)
        canvas.drawString(15 * mm, 10 * mm, f"{FOOTER}  {title}, made {stamp}")
        canvas.drawRightString(pagesize[0] - 15 * mm, 10 * mm, f"page {d.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=foot, onLaterPages=foot)
    return buffer.getvalue()


def content_width(pagesize: tuple[float, float] = A4) -> float:
    """The width between the margins, points."""
    return float(pagesize[0] - 30 * mm)
