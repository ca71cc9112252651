"""Bulk registration (CSV import): the stored units and the audit trail equal those of one registration at a
time, the chain verifies, and a bad item anywhere refuses the whole batch (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from cordmatch.errors import ConflictError
from cordmatch.services.bank_bulk import UnitImport, UnitsRefusedError
from cordmatch.services.bank_csv import CsvImportError, import_units_csv
from cordmatch.services.schemas import MeasurementIn, UnitRegistration
from cordmatch.store.models import AuditRow, HlaTyping, Measurement, Unit
from services.test_bank_csv import HEADER, line
from store.conftest import PG_BASE

from .conftest import World, good_registration, make_world


def _registrations(n: int) -> list[UnitImport]:
    out = []
    for i in range(n):
        over: dict[str, Any] = {}
        if i % 3 == 1:
            over["storage"] = None
        if i % 4 == 2:
            over["hla_gl"] = None
            over["collection"] = None
        reg = UnitRegistration.model_validate(good_registration(f"G1234980{i:05d}", slot=str(i + 1), **over))
        later = {"pre_cryo": MeasurementIn(tnc=1.2e9 + i, volume_ml=25.0)} if i % 2 == 0 else {}
        out.append(UnitImport(reg, later))
    return out


@pytest.fixture
def ref_world(db_url: str, tmp_path: Any) -> Iterator[World]:
    """A second, independent bank on the same engine (the one-at-a-time reference)."""
    from cordmatch.store import open_store

    if db_url.startswith("sqlite"):
        store = open_store(f"sqlite:///{tmp_path / 'ref.sqlite3'}")
        try:
            yield make_world(store)
        finally:
            store.close()
        return
    import psycopg

    schema = f"cm_test_{uuid.uuid4().hex[:12]}"
    dsn = PG_BASE.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_BASE else "?"
    store = open_store(f"{PG_BASE}{sep}options=-csearch_path%3D{schema}")
    try:
        yield make_world(store)
    finally:
        store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _stored(w: World) -> dict[str, Any]:
    """Units, measurements, typings and audit rows of the bank, without row ids and times of writing."""
    with w.svc.store.transaction() as s:
        units = {u.din: u for u in s.execute(select(Unit)).scalars()}
        din_of = {u.id: d for d, u in units.items()}
        skip = {"id", "bank"}
        cols = [c.key for c in Unit.__table__.columns if c.key not in skip]
        unit_rows = {d: {c: getattr(u, c) for c in cols} for d, u in units.items()}
        meas = sorted(
            (din_of[m.unit_id], m.stage, m.volume_ml, m.tnc, m.cd34, m.viability_pct, m.recorded_at, m.recorded_by)
            for m in s.execute(select(Measurement)).scalars()
        )
        typ = sorted(
            (din_of[t.unit_id], t.gl, t.kind, t.recorded_at, t.recorded_by, t.superseded_by)
            for t in s.execute(select(HlaTyping)).scalars()
        )
        audit = [
            (a.actor, a.action, a.entity, a.entity_id, json.loads(a.before), json.loads(a.after), a.reason)
            for a in s.execute(select(AuditRow).order_by(AuditRow.id)).scalars()
            if a.action == "unit.register"
        ]
    return {"units": unit_rows, "measurements": meas, "typings": typ, "audit": audit}


def test_bulk_equals_one_at_a_time(world: World, ref_world: World) -> None:
    items = _registrations(12)
    dins = world.svc.units.register_many(world.tech, items)
    assert dins == [str(i.registration.din) for i in items]
    for item in items:  # the reference: one registration at a time, later stages recorded as the import did
        ref_world.svc.units.register_unit(ref_world.tech, item.registration)
    with ref_world.svc.store.transaction() as s:
        ids = {d: i for d, i in s.execute(select(Unit.din, Unit.id))}
        for item in items:
            for stage, m in item.measurements.items():
                s.add(Measurement(unit_id=ids[item.registration.din], stage=stage, recorded_by=ref_world.tech.user_id,
                                  recorded_at=ref_world.clock(), **m.model_dump()))  # fmt: skip
    got, want = _stored(world), _stored(ref_world)
    assert len(got["audit"]) == 12 and len(got["measurements"]) == 9 + 6
    assert got == want
    assert world.svc.catalogue.verify_audit(world.admin).ok
    unit = world.svc.catalogue.get_unit(world.tech, items[0].registration.din)
    assert unit.measurements["pre_cryo"].tnc == 1.2e9 and unit.hla_gl is not None


def _count(w: World) -> tuple[int, int]:
    with w.svc.store.transaction() as s:
        return (s.execute(select(func.count(Unit.id))).scalar_one(),
                s.execute(select(func.count(AuditRow.id))).scalar_one())  # fmt: skip


@pytest.mark.parametrize("bad_at", [0, 5, 9])
def test_a_bad_item_anywhere_refuses_the_batch(world: World, bad_at: int) -> None:
    world.svc.units.register_unit(world.tech, good_registration("G123498099999", slot="99"))
    before = _count(world)
    items = _registrations(10)
    reg = items[bad_at].registration.model_copy(update={"din": "G123498099999"})  # already registered
    items[bad_at] = UnitImport(reg)
    items[3] = UnitImport(items[3].registration.model_copy(update={"bank_code": "NOPE"}))
    with pytest.raises(UnitsRefusedError) as err:
        world.svc.units.register_many(world.tech, items)
    found = {(r.index, r.field) for r in err.value.refusals}
    assert (bad_at, "din") in found and (3, "bank_code") in found
    assert _count(world) == before
    assert world.svc.catalogue.verify_audit(world.admin).ok


def test_duplicates_inside_the_batch_are_refused(world: World) -> None:
    items = _registrations(4)
    items.append(UnitImport(items[0].registration.model_copy(update={"din": "G123498099998"})))  # same slot
    with pytest.raises(UnitsRefusedError) as err:
        world.svc.units.register_many(world.tech, items)
    assert [(r.index, r.field) for r in err.value.refusals] == [(4, "storage")]
    assert _count(world)[0] == 0  # nothing written: the slot is still free
    world.svc.units.register_unit(world.tech, good_registration("G123498099997", slot="1"))
    with pytest.raises(UnitsRefusedError) as err:
        world.svc.units.register_many(world.tech, items[:1])
    assert [(r.index, r.field) for r in err.value.refusals] == [(0, "storage")]
    with pytest.raises(ConflictError):  # the single path refuses the same unit for the same reason
        world.svc.units.register_unit(world.tech, items[0].registration)


def test_csv_refusal_names_the_line_and_writes_nothing(world: World) -> None:
    world.svc.units.register_unit(world.tech, good_registration("G123498000102", slot="7"))
    before = _count(world)
    rows = [line(din=f"G1234980001{i:02d}", slot=str(20 + i)) for i in range(5)]
    rows[4] = line(din="G123498000150", tank="T1", rack="R1", box="B1", slot="7")  # slot taken in the store
    with pytest.raises(CsvImportError) as err:
        import_units_csv(world.svc, world.tech, HEADER + "\n" + "".join(rows))
    lines = {(i.line, i.field) for i in err.value.issues}
    assert lines == {(4, "din"), (6, "storage")}  # header is line 1
    assert _count(world) == before
    assert world.svc.catalogue.verify_audit(world.admin).ok


def test_prechecked_items_are_written_as_the_plain_ones(world: World, ref_world: World) -> None:
    items = _registrations(6)
    checked = [UnitImport.prechecked(i.registration, i.measurements, world.clock()) for i in items]
    assert all(c.checked is not None and c.checked.din == str(c.registration.din) for c in checked)
    world.svc.units.register_many(world.tech, checked)
    ref_world.svc.units.register_many(ref_world.tech, items)
    assert _stored(world) == _stored(ref_world)


def test_checks_made_on_another_registration_are_run_again(world: World) -> None:
    good = UnitImport.prechecked(_registrations(1)[0].registration, {}, world.clock())
    bad = good.registration.model_copy(update={"hla_gl": "A*99:99+A*01:01"})  # not in the nomenclature
    with pytest.raises(UnitsRefusedError) as err:
        world.svc.units.register_many(world.tech, [UnitImport(bad, {}, good.checked)])
    assert [(r.index, r.field) for r in err.value.refusals] == [(0, "hla_gl")]
    assert _count(world)[0] == 0


def test_checks_made_before_a_change_of_the_registration_are_run_again(world: World) -> None:
    item = UnitImport.prechecked(_registrations(1)[0].registration, {}, world.clock())
    item.registration.hla_gl = "A*99:99+A*01:01"  # changed after its checks
    with pytest.raises(UnitsRefusedError) as err:
        world.svc.units.register_many(world.tech, [item])
    assert [(r.index, r.field) for r in err.value.refusals] == [(0, "hla_gl")]
