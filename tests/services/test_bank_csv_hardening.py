"""CSV hardening: exports neutralise spreadsheet formulas (and import them back unchanged); over-long
cells and implausible numbers are issues with line and field, never a crash or a partial import."""

from __future__ import annotations

import csv
import io

import pytest

from cordmatch.services.bank_csv import CsvImportError, export_units_csv, import_units_csv, neutralise
from services.test_bank_csv import HEADER, line

from .conftest import World


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\t=x", "\r=x"])
def test_formula_starts_are_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert neutralise("T9") == "T9" and neutralise("") == ""


def test_exported_formulas_are_inert_and_import_back(world: World) -> None:
    svc, tech = world.svc, world.tech
    text = HEADER + "\n" + line(tank='=HYPERLINK("x")', rack="-R1", box="@B", slot="+1")
    import_units_csv(svc, tech, text)
    out = export_units_csv(svc, tech)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["tank"] == '\'=HYPERLINK("x")' and rows[0]["rack"] == "'-R1" and rows[0]["slot"] == "'+1"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), row
    unit = svc.catalogue.get_unit(tech, "G123498000101")
    assert unit.storage is not None and unit.storage.tank == '=HYPERLINK("x")'


def test_overlong_cells_and_implausible_numbers_are_line_issues(world: World) -> None:
    svc, tech = world.svc, world.tech
    text = (HEADER + "\n" + line(hla_gl="A*01:01" * 1000)
            + line(din="G123498000102", slot="2", collection_tnc="1e308")
            + line(din="G123498000103", slot="3", collection_volume_ml="5000")
            + line(din="G123498000104", slot="4", segments=str(2**70)))  # fmt: skip
    with pytest.raises(CsvImportError) as exc:
        import_units_csv(svc, tech, text)
    fields = {(i.line, i.field) for i in exc.value.issues}
    assert (2, "hla_gl") in fields and (3, "collection_tnc") in fields and (4, "collection_volume_ml") in fields
    assert any(i.line == 5 and "segments" in i.field for i in exc.value.issues), exc.value.issues
    huge = HEADER + "\n" + line(hla_gl="x" * 200_000)  # beyond the csv module's own field limit
    with pytest.raises(CsvImportError) as exc2:
        import_units_csv(svc, tech, huge)
    assert exc2.value.issues[0].line == 2
    assert svc.catalogue.list_units(tech).total == 0


@pytest.mark.parametrize("text", ["\r0", "a\rb,c\n", '"unclosed\n', "din\r\n\r"])
def test_unreadable_csv_is_an_import_error(world: World, text: str) -> None:
    with pytest.raises(CsvImportError) as exc:
        import_units_csv(world.svc, world.tech, text)
    assert exc.value.issues[0].line >= 1
