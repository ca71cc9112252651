"""ISBT 128 bag label of a cord blood unit as one drawing, rendered to PDF or SVG (reportlab graphics).

Layout [U]: a 4 x 4 inch base label in four quadrants (ISBT 128 base label size and quadrant order: DIN
upper left, ABO/Rh upper right, product lower left, dates and facility lower right).
Barcodes are Code 128 with the ISBT 128 data structures:
- DIN (data structure 001): data identifier ``=`` + the 13 DIN characters + 2 flag characters; the flags
  carry the check (ISO 7064 mod 37-2 checksum + 60) [V: JPAC Red Book Annex 2];
- product code (data structure 003): data identifier ``=<`` + the 5-character product description code
  + 1 character type of donation + 2 characters division [V: ISBT 128 product code layout]; the type of
  donation defaults to ``V`` (volunteer allogeneic) and the division to ``00`` [U: the bank sets them];
- blood groups (data structure 002): ``=%`` + ``ggre``, upper right; printed only for a released unit whose
  ABO and RhD are both known (never a default group) [V: ISBT 128 Standard Technical Specification ST-001
  v6.2.2, section 2.4.2 and Table 4 RT005; see label_codes]; blood group labels only for units fully
  tested and suitable for transfusion [V: JPAC Red Book chapter 23, 23.5.2];
- collection date (data structure 006): ``=*`` + ``cyyjjj``, lower right [V: ST-001 v6.2.2 section 2.4.6;
  see label_codes]; the date is the stored collection time's calendar date (UTC) [U].
No expiration date bar code (data structures 004/005): a cryopreserved cord blood unit carries none here.
Text under the blood group and date bar codes is their data content, left aligned with the first bar;
dates are printed in ISO 8601 extended format [V: ST-001 v6.2.2 sections 7.4.2.1 and 7.4.4.2].
The eye-readable DIN shows the flags turned 90 degrees and the check character in a box.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reportlab.graphics import renderPDF, renderSVG
from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import inch, mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from cordmatch.bank.din import check_flag, parse_din
from cordmatch.bank.product_codes import validate_code
from cordmatch.errors import InvalidInputError
from cordmatch.reports import label_codes
from cordmatch.reports.numbers import cells, millilitres
from cordmatch.reports.pdf import fonts
from cordmatch.services.schemas import UnitOut

SIZE = 4 * inch  # label width and height, points
BAR_WIDTH = 0.7  # points per narrow module (0.25 mm)
BAR_HEIGHT = 10 * mm
RELEASED = frozenset({"available", "reserved", "shipped", "infused"})
FORMATS = ("pdf", "svg")
#: Content-Security-Policy for serving the SVG label on its own: the drawing's inline styles, nothing else.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"


@dataclass(frozen=True, slots=True)
class LabelData:
    """What the label prints (all text already checked)."""

    din13: str
    check: str
    flags: str
    product_code: str
    donation_type: str
    division: str
    product_text: str
    abo: str | None
    rh: str | None
    collected: datetime
    bank_name: str
    facility_id: str | None
    volume_ml: float | None
    tnc: float | None
    state: str
    exceptional: bool

    @property
    def din_barcode(self) -> str:
        """``=`` + 13 DIN characters + 2 flag characters (the check flag)."""
        return f"={self.din13}{self.flags}"

    @property
    def product_barcode(self) -> str:
        """``=<`` + product description code + type of donation + division."""
        return f"=<{self.product_code}{self.donation_type}{self.division}"

    @property
    def blood_group_barcode(self) -> str | None:
        """``=%`` + ``ggre``, or None: ABO or RhD unknown, or the unit not released."""
        if self.state not in RELEASED:
            return None
        return label_codes.blood_group_barcode(self.abo, self.rh)

    @property
    def collection_date_barcode(self) -> str | None:
        """``=*`` + ``cyyjjj`` of the collection date, or None outside 2000-2099."""
        return label_codes.collection_date_barcode(self.collected.date())

    @property
    def din_eye(self) -> str:
        """``Z9999 26 000001``: facility, year, sequence."""
        return f"{self.din13[:5]} {self.din13[5:7]} {self.din13[7:]}"

    @property
    def warning(self) -> str | None:
        """The state warning printed across the label, or None for a released unit."""
        if self.state == "discarded":
            return "DISCARDED - DO NOT USE"
        if self.state == "research":
            return "FOR RESEARCH ONLY - NOT FOR TRANSPLANT"
        if self.state not in RELEASED:
            return f"NOT RELEASED ({self.state.upper()}) - NOT FOR TRANSPLANT"
        if self.exceptional:
            return "EXCEPTIONAL RELEASE - SEE UNIT REPORT"
        return None


def label_data(
    unit: UnitOut,
    product_text: str,
    facility_id: str | None = None,
    donation_type: str = "V",
    division: str = "00",
) -> LabelData:
    """The label's content from a unit; the DIN and product code are validated again here."""
    din = parse_din(unit.din)
    code = validate_code(unit.product_code)
    if len(donation_type) != 1 or not donation_type.isalnum():
        raise InvalidInputError("the type of donation is one letter or digit", where="donation_type")
    if len(division) != 2 or not division.isalnum():
        raise InvalidInputError("the division is two letters or digits", where="division")
    pre = unit.measurements.get("pre_cryo") or unit.measurements.get("post_processing")
    return LabelData(
        din13=str(din), check=din.check, flags=check_flag(str(din)), product_code=code,
        donation_type=donation_type.upper(), division=division.upper(), product_text=product_text,
        abo=unit.abo, rh=unit.rh, collected=unit.collected_at, bank_name=unit.bank_name,
        facility_id=facility_id, volume_ml=pre.volume_ml if pre else None, tnc=pre.tnc if pre else None,
        state=unit.state, exceptional=unit.exceptional_release,
    )  # fmt: skip


def _code128(data: str, x: float, y: float) -> Group:
    """A Code 128 symbol as drawing shapes (bars as rectangles), lower-left corner at (x, y)."""
    from reportlab.graphics.barcode import createBarcodeDrawing

    drawing = createBarcodeDrawing(
        "Code128", value=data, barWidth=BAR_WIDTH, barHeight=BAR_HEIGHT, humanReadable=False, quiet=True
    )
    group = Group(*drawing.contents)
    group.translate(x, y)
    return group


def draw_label(data: LabelData) -> Drawing:
    """The label drawing (4 x 4 inches)."""
    regular, bold = fonts()
    half = SIZE / 2
    d = Drawing(SIZE, SIZE)
    d.add(Rect(0, 0, SIZE, SIZE, strokeColor=colors.black, fillColor=None, strokeWidth=0.8))
    d.add(Line(half, 0, half, SIZE, strokeColor=colors.grey, strokeWidth=0.4))
    d.add(Line(0, half, SIZE, half, strokeColor=colors.grey, strokeWidth=0.4))
    pad = 2.5 * mm
    # upper left: DIN
    top = SIZE - pad
    d.add(String(pad, top - 8, "Donation Identification Number", fontName=regular, fontSize=6.5))
    d.add(_code128(data.din_barcode, 0, top - 10 - BAR_HEIGHT))
    y = top - 16 - BAR_HEIGHT - 4
    d.add(String(pad, y, data.din_eye, fontName=bold, fontSize=11))
    x = pad + stringWidth(data.din_eye, bold, 11) + 2
    flag_group = Group(String(0, 0, data.flags, fontName=regular, fontSize=6))
    flag_group.translate(x + 6, y - 1)
    flag_group.rotate(90)
    d.add(flag_group)
    d.add(Rect(x + 8, y - 2.5, 12, 14, strokeColor=colors.black, fillColor=None, strokeWidth=0.8))
    d.add(String(x + 14, y, data.check, fontName=bold, fontSize=11, textAnchor="middle"))
    d.add(String(pad, y - 12, f"{data.bank_name}", fontName=regular, fontSize=6.5))
    d.add(String(pad, y - 20, f"facility (FIN) {data.facility_id or data.din13[:5]}", fontName=regular, fontSize=6.5))
    _draw_blood_group(d, data, half, top)
    # lower left: product
    top2 = half - pad
    d.add(String(pad, top2 - 8, "Product", fontName=regular, fontSize=6.5))
    d.add(_code128(data.product_barcode, 0, top2 - 10 - BAR_HEIGHT))
    y2 = top2 - 16 - BAR_HEIGHT - 4
    d.add(String(pad, y2, f"{data.product_code} {data.donation_type} {data.division}", fontName=bold, fontSize=10))
    for i, line in enumerate(_wrap(data.product_text, 38)[:3]):
        d.add(String(pad, y2 - 11 - 8 * i, line, fontName=regular, fontSize=7))
    _draw_dates(d, data, half, top2)
    if data.warning:
        size = 9.0
        while stringWidth(data.warning, bold, size) > SIZE - 4 * pad and size > 5:
            size -= 0.5
        d.add(Rect(pad, half - 9, SIZE - 2 * pad, 16, fillColor=colors.white, strokeColor=colors.red, strokeWidth=1.2))
        d.add(String(SIZE / 2, half - 4, data.warning, fontName=bold, fontSize=size, fillColor=colors.red,
                     textAnchor="middle"))  # fmt: skip
    return d


def _bars_left(data: str) -> float:
    """The left quiet zone of a Code 128 symbol drawn by :func:`_code128`: where its first bar starts, points."""
    from reportlab.graphics.barcode.code128 import Code128

    return float(Code128(data, barWidth=BAR_WIDTH, quiet=True).lquiet)


def _coded(d: Drawing, code: str, x: float, y: float, content: str) -> None:
    """A Code 128 symbol with its bottom at ``y`` and its data content under it, aligned with the first bar."""
    regular, _ = fonts()
    d.add(_code128(code, x, y))
    d.add(String(x + _bars_left(code), y - 8, content, fontName=regular, fontSize=7))


def _draw_blood_group(d: Drawing, data: LabelData, half: float, top: float) -> None:
    """Upper right: the blood group bar code (released units with a known group only) and the group in large
    text, or why there is no bar code."""
    regular, bold = fonts()
    pad = 2.5 * mm
    centre = half + half / 2
    d.add(String(half + pad, top - 8, "ABO / Rh(D)", fontName=regular, fontSize=6.5))
    code = data.blood_group_barcode
    if code:
        _coded(d, code, half, top - 10 - BAR_HEIGHT, code[2:])
    if not (data.abo and data.rh):
        d.add(String(centre, top - 70, "ABO/Rh NOT TESTED", fontName=bold, fontSize=11, textAnchor="middle"))
        return
    d.add(String(centre, top - 84, data.abo, fontName=bold, fontSize=36, textAnchor="middle"))
    rh = {"pos": "Rh D POSITIVE", "neg": "Rh D NEGATIVE"}.get(data.rh, f"Rh D {data.rh.upper()}")
    d.add(String(centre, top - 98, rh, fontName=bold, fontSize=11, textAnchor="middle"))
    if not code:
        why = "not released" if data.state not in RELEASED else "group not coded"
        d.add(String(centre, top - 110, f"no blood group bar code: {why}", fontName=regular, fontSize=6.5,
                     textAnchor="middle"))  # fmt: skip


def _draw_dates(d: Drawing, data: LabelData, half: float, top2: float) -> None:
    """Lower right: the collection date bar code, then the collection date, volume, cells and state."""
    regular, bold = fonts()
    x3 = half + 2.5 * mm
    d.add(String(x3, top2 - 8, "Collection date", fontName=regular, fontSize=6.5))
    code = data.collection_date_barcode
    if code:
        _coded(d, code, half, top2 - 10 - BAR_HEIGHT, code[2:])
    rows = [
        ("Collected", data.collected.strftime("%Y-%m-%d")),
        ("Volume (before cryopreservation)", millilitres(data.volume_ml)),
        ("TNC (before cryopreservation)", cells(data.tnc)),
        ("Unit state", data.state),
    ]
    y0 = top2 - 58
    for i, (label, value) in enumerate(rows):
        d.add(String(x3, y0 - 16 * i, label, fontName=regular, fontSize=6.5))
        d.add(String(x3, y0 - 8 - 16 * i, value, fontName=bold, fontSize=8))


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    if line:
        lines.append(line)
    return lines


def render_label(data: LabelData, fmt: str) -> bytes:
    """The label as ``pdf`` or ``svg`` bytes."""
    if fmt not in FORMATS:
        raise InvalidInputError(f"a label is written as PDF or SVG, not {fmt!r}", where="format")
    drawing = draw_label(data)
    if fmt == "pdf":
        return bytes(renderPDF.drawToString(drawing, title=f"ISBT 128 label {data.din13}"))
    return str(renderSVG.drawToString(drawing)).encode("utf-8")
