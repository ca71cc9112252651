"""The ISBT 128 bag label: its Code 128 barcodes decode back (zbarimg) to the DIN data structure
(``=`` + 13 characters + check flag), the product code (``=<`` + code + donation type + division), the
blood groups (``=%`` + ``ggre``, released units with a known group only) and the collection date
(``=*`` + ``cyyjjj``); its text reads back (pdftotext); a unit not released says so across the label."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cordmatch.bank.din import check_flag, parse_din
from cordmatch.errors import InvalidInputError, PermissionDeniedError
from cordmatch.reports.service import unit_label
from reports.conftest import actor, barcodes, demo_din, need_tools, pdf_png, pdf_text

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


#: Blood group codes, ISBT 128 ST-001 v6.2.2 Table 4 [RT005] (intended use not specified), by hand.
GG = {("O", "neg"): "95", ("O", "pos"): "51", ("A", "neg"): "06", ("A", "pos"): "62",
      ("B", "neg"): "17", ("B", "pos"): "73", ("AB", "neg"): "28", ("AB", "pos"): "84"}  # fmt: skip


def _date_code(day: date) -> str:
    """``=*`` + century 0 + year in the century + day of the year (hand formula, 2000-2099)."""
    assert 2000 <= day.year <= 2099
    return f"=*0{day.year - 2000:02d}{(day - date(day.year, 1, 1)).days + 1:03d}"


def _save(name: str, data: bytes) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)


@pytest.mark.parametrize("n", [1, 6])
def test_pdf_label_barcodes_decode_to_isbt_data_structures(bank: Any, tmp_path: Path, n: int) -> None:
    din = demo_din(n)
    tech = actor(bank, "tech")
    pdf = unit_label(bank, tech, din, "pdf")
    _save(f"label-{n}.pdf", pdf)
    unit = bank.catalogue.get_unit(tech, din)
    date_code = _date_code(unit.collected_at.date())
    decoded = set(barcodes(pdf_png(pdf, tmp_path)))
    text = pdf_text(pdf, tmp_path)
    parsed = parse_din(din)
    assert f"{parsed.facility} {parsed.year:02d} {parsed.sequence:06d}" in text
    assert parsed.check in text and "Z0001 V 00" in text
    assert date_code[2:] in text and unit.collected_at.strftime("%Y-%m-%d") in text
    if n == 6:  # quarantine (B, RhD negative): not released, so no blood group bar code
        assert (unit.abo, unit.rh) == ("B", "neg")
        assert decoded == {f"={din}{check_flag(din)}", "=<Z0001V00", date_code}
        assert "NOT RELEASED (QUARANTINE) - NOT FOR TRANSPLANT" in text
        assert "no blood group bar code: not released" in text
    else:  # available, A RhD positive
        assert (unit.abo, unit.rh) == ("A", "pos")
        assert decoded == {f"={din}{check_flag(din)}", "=<Z0001V00", "=%6200", date_code}
        assert "NOT RELEASED" not in text and "Rh D POSITIVE" in text and "6200" in text


@pytest.mark.browser
def test_svg_label_barcodes_decode(bank: Any, tmp_path: Path, browser: Any) -> None:
    """The SVG, rendered by Debian's chromium (the pages' browser), decodes to the same data."""
    import shutil

    need_tools()
    if shutil.which("/usr/bin/chromium") is None:
        pytest.skip("MISSING /usr/bin/chromium: the SVG label is not rendered")
    from cordmatch.reports.label import SVG_CSP

    din = demo_din(2)
    svg = unit_label(bank, actor(bank, "director"), din, "svg", donation_type="0", division="A1")
    _save("label-2.svg", svg)
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    page_file = tmp_path / "label.svg"
    page_file.write_bytes(svg)
    png = tmp_path / "label-svg.png"
    page = browser.new_page(viewport={"width": 400, "height": 400}, device_scale_factor=3)
    # served as the label routes serve it: with its own Content-Security-Policy
    page.route(
        "http://label.test/label.svg",
        lambda route: route.fulfill(
            status=200, body=svg, headers={"Content-Type": "image/svg+xml", "Content-Security-Policy": SVG_CSP}
        ),
    )
    page.goto("http://label.test/label.svg")
    page.screenshot(path=str(png))
    page.close()
    unit = bank.catalogue.get_unit(actor(bank, "director"), din)
    assert (unit.abo, unit.rh) == ("B", "pos")
    assert set(barcodes(png)) == {f"={din}{check_flag(din)}", "=<Z00010A1", "=%7300",
                                  _date_code(unit.collected_at.date())}  # fmt: skip


def test_label_is_for_bank_staff_only(bank: Any) -> None:
    with pytest.raises(PermissionDeniedError, match="bank staff"):
        unit_label(bank, actor(bank, "coord"), demo_din(1), "pdf")


@pytest.mark.parametrize(("kw", "where"), [({"donation_type": "VV"}, "donation_type"),
                                           ({"division": "0"}, "division")])  # fmt: skip
def test_bad_label_fields_are_named(bank: Any, kw: dict[str, str], where: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        unit_label(bank, actor(bank, "tech"), demo_din(1), "pdf", **kw)
    assert exc.value.where == where


def test_unknown_format_is_refused(bank: Any) -> None:
    with pytest.raises(InvalidInputError, match="PDF or SVG"):
        unit_label(bank, actor(bank, "tech"), demo_din(1), "png")


def _unit(din: str, code: str, **over: Any) -> Any:
    from cordmatch.services.schemas import UnitOut

    now = datetime(2026, 5, 1, 8, tzinfo=UTC)
    data = {"din": din, "din_labelled": din, "product_code": code, "bank_code": "B", "bank_name": "Bank",
            "accreditation": "none", "state": "available", "version": 1, "collected_at": now, "registered_at": now,
            "collection_volume_ml": None, "abo": None, "rh": None, "idm_result": None, "idm_markers": None,
            "sterility": None, "hb_screen": None, "segments": 0, "storage": None, "nima_gl": None,
            "red_cell_depleted": None, "exceptional_release": False, "exceptional_reason": None,
            "released_at": None, "hla_gl": None}  # fmt: skip
    data.update(over)
    return UnitOut(**data)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fin=st.from_regex(r"[A-Z][0-9]{4}", fullmatch=True),
    year=st.integers(0, 99),
    seq=st.integers(1, 999_999),
    code=st.from_regex(r"[A-Z][0-9A-Z]{4}", fullmatch=True),
)
@example(fin="Z9999", year=26, seq=3, code="E0398")  # check character '*' (flag 96)
def test_any_din_and_product_code_decode_back(tmp_path: Path, fin: str, year: int, seq: int, code: str) -> None:
    """Whatever the DIN (check '*' or flag 96 included) and product code, the barcodes carry exactly the
    ISBT 128 data structures."""
    from cordmatch.bank.din import issue_din
    from cordmatch.reports.label import label_data, render_label

    need_tools()
    din = str(issue_din(fin, year, seq))
    pdf = render_label(label_data(_unit(din, code), "test product"), "pdf")
    png = pdf_png(pdf, tmp_path, name=f"l{fin}{year}{seq}")
    # collected 2026-05-01: day 31 + 28 + 31 + 30 + 1 = 121; ABO and Rh unknown: no blood group bar code
    assert set(barcodes(png)) == {f"={din}{check_flag(din)}", f"=<{code}V00", "=*026121"}


def _render(tmp_path: Path, name: str, **over: Any) -> tuple[set[str], str]:
    """The decoded barcodes and the text of a label of a made-up unit (``over``: UnitOut fields)."""
    from cordmatch.bank.din import issue_din
    from cordmatch.reports.label import label_data, render_label

    need_tools()
    din = str(issue_din("Z9999", 26, 7))
    pdf = render_label(label_data(_unit(din, "Z0001", **over), "test product"), "pdf")
    found = set(barcodes(pdf_png(pdf, tmp_path, name=name)))
    assert f"={din}{check_flag(din)}" in found and "=<Z0001V00" in found
    return found, pdf_text(pdf, tmp_path)


@pytest.mark.parametrize(("abo", "rh"), list(GG))
def test_every_blood_group_decodes_back(tmp_path: Path, abo: str, rh: str) -> None:
    found, text = _render(tmp_path, f"g{abo}{rh}", abo=abo, rh=rh)
    assert {b for b in found if b.startswith("=%")} == {f"=%{GG[abo, rh]}00"}
    assert f"{GG[abo, rh]}00" in text and ("Rh D POSITIVE" if rh == "pos" else "Rh D NEGATIVE") in text


@pytest.mark.parametrize(("abo", "rh"), [(None, "pos"), ("O", None), (None, None)])
def test_unknown_group_prints_no_blood_group_barcode(tmp_path: Path, abo: str | None, rh: str | None) -> None:
    found, text = _render(tmp_path, "unknown", abo=abo, rh=rh)
    assert not any(b.startswith("=%") for b in found)
    assert "ABO/Rh NOT TESTED" in text


@pytest.mark.parametrize("state", ["quarantine", "discarded", "research", "collected"])
def test_unit_not_released_has_no_blood_group_barcode(tmp_path: Path, state: str) -> None:
    found, text = _render(tmp_path, state, abo="O", rh="neg", state=state)
    assert not any(b.startswith("=%") for b in found)
    assert "=*026121" in found and "Rh D NEGATIVE" in text


def test_collection_before_2000_prints_the_date_without_barcode(tmp_path: Path) -> None:
    """The century digit is verified for 2000-2099 only: an older unit gets its date in text, no bar code."""
    found, text = _render(tmp_path, "old", collected_at=datetime(1998, 3, 2, 8, tzinfo=UTC), abo="A", rh="pos")
    assert not any(b.startswith("=*") for b in found) and "=%6200" in found
    assert "1998-03-02" in text
