from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from cordmatch.services.bank_csv import COLUMNS, CsvImportError, export_units_csv, import_units_csv
from cordmatch.store.models import AuditRow, Unit

from .conftest import World, to_available

HEADER = ",".join(COLUMNS)


def line(**kw: str) -> str:
    base = {
        "din": "G123498000101",
        "product_code": "X0001",
        "bank_code": "BANK1",
        "collected_at": "2026-05-30T08:15:00+02:00",
        "collection_volume_ml": "88",
        "collection_tnc": "1.5e9",
        "pre_cryo_tnc": "1.3e9",
        "hla_gl": "A*01:01+A*02:01^B*07:02+B*08:01",
        "abo": "O",
        "rh": "neg",
        "segments": "2",
        "red_cell_depleted": "true",
        "tank": "T9",
        "rack": "R1",
        "box": "B1",
        "slot": "1",
    }
    base.update(kw)
    out = io.StringIO()
    csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n").writerow({c: base.get(c, "") for c in COLUMNS})
    return out.getvalue()


def counts(world: World) -> tuple[int, int]:
    with world.svc.store.transaction() as s:
        return (s.execute(select(func.count(Unit.id))).scalar_one(),
                s.execute(select(func.count(AuditRow.id))).scalar_one())  # fmt: skip


def test_import_then_export_round_trip(world: World) -> None:
    text = HEADER + "\n" + line() + line(din="G123498000102", slot="2", hla_gl="A*03:01+A*11:01")
    result = import_units_csv(world.svc, world.tech, text)
    assert result.imported == 2
    unit = world.svc.catalogue.get_unit(world.tech, "G123498000101")
    assert unit.state == "collected" and unit.abo == "O" and unit.rh == "neg" and unit.segments == 2
    assert unit.measurements["pre_cryo"].tnc == 1.3e9 and unit.collection_volume_ml == 88
    exported = export_units_csv(world.svc, world.tech)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["din"] for r in rows} == {"G123498000101", "G123498000102"}
    r = next(r for r in rows if r["din"] == "G123498000101")
    assert r["hla_gl"] == "A*01:01+A*02:01^B*07:02+B*08:01" and r["pre_cryo_tnc"] == "1300000000"
    assert r["collected_at"] == "2026-05-30T06:15:00+00:00" and r["red_cell_depleted"] == "true"


def test_bad_rows_report_every_line_and_write_nothing(world: World) -> None:
    to_available(world)  # occupies T1/R1/B1/1 and DIN G123498654321
    before = counts(world)
    text = (
        HEADER
        + "\n"
        + "\n".join(
            s.rstrip("\n")
            for s in [
                line(),  # line 2: fine
                line(din="G123498000102X", slot="2"),  # 3: wrong check char
                line(din="G123498000103", slot="3", collection_tnc="-5"),  # 4: negative count
                line(din="G123498000104", slot="4", collected_at="2030-01-01T00:00:00Z"),  # 5: future
                line(din="G123498654321", slot="5"),  # 6: DIN already stored
                line(din="G123498000106", tank="T1", slot="1"),  # 7: slot taken in the store
                line(din="G123498000101", slot="7"),  # 8: DIN twice in file
                line(din="G123498000108", slot="1"),  # 9: slot twice in file
                line(din="G123498000109", slot="9", abo="Q"),  # 10: bad ABO
                line(din="G123498000110", slot="10", hla_gl="A*01:01+"),  # 11: bad GL
                line(din="G123498000111", slot="11", collection_tnc="lots"),  # 12: not a number
            ]
        )
    )
    with pytest.raises(CsvImportError) as exc:
        import_units_csv(world.svc, world.tech, text)
    got = {(i.line, i.field) for i in exc.value.issues}
    assert {(3, "DIN"), (4, "collection_tnc"), (5, "collected_at"), (8, "din"), (9, "storage"),
            (10, "abo"), (11, "hla_gl"), (12, "collection_tnc")} <= got  # fmt: skip
    assert "line 3" in str(exc.value) and "nothing written" in str(exc.value)
    assert counts(world) == before
    # the database checks run once the file itself is clean
    text2 = HEADER + "\n" + line() + line(din="G123498654321", slot="5") + line(din="G123498000106", tank="T1")
    with pytest.raises(CsvImportError) as exc:
        import_units_csv(world.svc, world.tech, text2)
    assert {(i.line, i.field) for i in exc.value.issues} == {(3, "din"), (4, "storage")}
    assert counts(world) == before


MALFORMED = [
    ("", "missing columns"),
    ("din,colour\n", "unknown columns"),
    (HEADER + "\n", "no units"),
    (HEADER + "\n" + line().rstrip("\n") + ",extra\n", "more values than columns"),
    (HEADER + "\n" + line(state="available"), "start as collected"),
    (HEADER + "\n" + line(box=""), "storage position needs"),
]


def test_malformed_files(world: World) -> None:
    for text, fragment in MALFORMED:
        with pytest.raises(CsvImportError) as exc:
            import_units_csv(world.svc, world.tech, text)
        assert fragment in exc.value.report(), fragment
        assert counts(world)[0] == 0
