"""Bad input: a clear error naming the field, and nothing written (audit row count unchanged)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cordmatch.errors import ConflictError, CordmatchError, InvalidInputError
from cordmatch.store.models import AuditRow, Unit

from .conftest import T0, World, good_registration


def _counts(world: World) -> tuple[int, int]:
    with world.svc.store.transaction() as s:
        return (s.execute(select(func.count(AuditRow.id))).scalar_one(),
                s.execute(select(func.count(Unit.id))).scalar_one())  # fmt: skip


BAD_REGISTRATIONS: list[tuple[dict[str, Any], type[CordmatchError], str, str]] = [
    ({"din": "G123498654321X"}, InvalidInputError, "DIN", "wrong check character"),
    ({"din": "G12349865432"}, InvalidInputError, "DIN", "not a DIN"),
    (
        {"product_code": "X9999"},
        InvalidInputError,
        "product_code",
        "not in the bank's product code table",
    ),
    ({"bank_code": "NOPE"}, InvalidInputError, "bank_code", "unknown bank"),
    ({"collected_at": T0 + timedelta(days=1)}, InvalidInputError, "collected_at", "in the future"),
    ({"collection_volume_ml": -3}, InvalidInputError, "collection_volume_ml", "negative"),
    ({"collection": {"tnc": -1.0}}, InvalidInputError, "collection.tnc", "negative"),
    (
        {"collection": {"viability_pct": 130}},
        InvalidInputError,
        "collection.viability_pct",
        "at most 100",
    ),
    ({"collection": {"tnc": 1e6, "cd34": 2e6}}, InvalidInputError, "collection.cd34", "exceeds tnc"),
    ({"hla_gl": "A*01:01++B*07"}, InvalidInputError, "hla_gl", "empty chromosome"),
    ({"hla_gl": "A*01:01+A*99:99"}, InvalidInputError, "hla_gl", "A*99:99"),
    ({"tests": {"abo": "C"}}, InvalidInputError, "abo", "not one of"),
    ({"tests": {"segments": -1}}, InvalidInputError, "segments", "negative"),
    ({"collected_at": "yesterday"}, InvalidInputError, "collected_at", "datetime"),
    ({"colour": "red"}, InvalidInputError, "colour", "Extra inputs"),
]


def test_bad_registration_names_field_and_writes_nothing(world: World) -> None:
    """One store for all cases (each case is independent: nothing is written by any of them)."""
    before = _counts(world)
    for change, error, where, fragment in BAD_REGISTRATIONS:
        with pytest.raises(error) as exc:
            world.svc.units.register_unit(world.tech, good_registration(**change))
        assert exc.value.where == where, change
        assert fragment in str(exc.value), change
        assert _counts(world) == before, change


def test_duplicate_din_and_taken_slot(world: World) -> None:
    svc = world.svc
    svc.units.register_unit(world.tech, good_registration())
    before = _counts(world)
    with pytest.raises(ConflictError, match="already registered") as exc:
        svc.units.register_unit(world.tech, good_registration(slot="2"))
    assert exc.value.where == "din"
    with pytest.raises(ConflictError, match="T1/R1/B1/1 is already taken by unit G123498654321") as exc:
        svc.units.register_unit(world.tech, good_registration("A999921123456"))
    assert exc.value.where == "storage"
    assert _counts(world) == before
    other = svc.units.register_unit(world.tech, good_registration("A999921123456", slot="2"))
    with pytest.raises(ConflictError, match="already taken"):
        svc.units.set_storage(world.tech, other.din, {"tank": "T1", "rack": "R1", "box": "B1", "slot": "1"})
    assert svc.units.set_storage(world.tech, "G123498654321", {"tank": "T1", "rack": "R1", "box": "B1", "slot": "1"})


def test_bad_measurements_and_tests(world: World) -> None:
    svc = world.svc
    svc.units.register_unit(world.tech, good_registration())
    before = _counts(world)
    with pytest.raises(InvalidInputError, match="stage") as exc:
        svc.units.record_measurement(world.tech, "G123498654321", "frozen", {"tnc": 1})
    with pytest.raises(InvalidInputError) as exc:
        svc.units.record_measurement(world.tech, "G123498654321", "pre_cryo", {"cd34": -5})
    assert exc.value.where == "cd34"
    with pytest.raises(InvalidInputError) as exc:
        svc.units.record_tests(world.tech, "G123498654321", {"rh": "maybe"})
    assert exc.value.where == "rh"
    with pytest.raises(InvalidInputError) as exc:
        svc.units.record_tests(world.tech, "G123498654321", {"idm_markers": {"HBsAg": "so-so"}})
    assert exc.value.where == "idm_markers.HBsAg"
    assert _counts(world) == before
