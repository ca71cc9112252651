"""Checking a unit registration and building its rows (nothing is written here).

``check_fields`` runs the checks that need no store (DIN, collection time, counts, tests, HLA and NIMA
typing: the GL strings are parsed here, once); ``new_unit`` adds the checks against the store (product
code, bank, DIN and storage position not taken) through a ``Lookup`` and builds the unit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from cordmatch.bank.din import parse_din
from cordmatch.bank.lifecycle import UnitState
from cordmatch.bank.product_codes import validate_code
from cordmatch.errors import ConflictError, InvalidInputError
from cordmatch.plausibility import check_number
from cordmatch.services import bank_validate as v
from cordmatch.services.schemas import MeasurementIn, StoragePosition, TestResultsIn, UnitRegistration
from cordmatch.store.models import Bank, HlaTyping, Measurement, ProductCode, Unit


@dataclass(frozen=True, slots=True)
class CheckedFields:
    """The values of a registration that passed every check needing no store (built by ``check_fields``)."""

    din: str
    collected_at: datetime
    volume_ml: float | None  # collection volume, mL
    collection: MeasurementIn | None
    tests: TestResultsIn
    hla: str | None  # GL string, white space removed, every name known to the nomenclature
    nima: str | None
    inputs: tuple[object, ...] = field(repr=False, compare=False)  # what the checks were run on (``_inputs``)


def _inputs(reg: UnitRegistration) -> tuple[object, ...]:
    """The fields of ``reg`` that ``check_fields`` reads."""
    return (reg.din, reg.collected_at, reg.collection_volume_ml, reg.collection, reg.tests, reg.hla_gl, reg.nima_gl)


def check_fields(reg: UnitRegistration, now: datetime, tables: v.TablesSource | None = None) -> CheckedFields:
    """The checks of ``reg`` that need no store (InvalidInputError naming the field); ``now`` aware UTC;
    typings checked against ``tables`` (default: the current settings')."""
    din = str(parse_din(reg.din))
    collected_at = v.check_collected_at(reg.collected_at, now)
    volume = v.check_nonneg(reg.collection_volume_ml, "collection_volume_ml")
    check_number(volume, "volume_ml", "collection_volume_ml")
    collection = v.check_measurement(reg.collection, prefix="collection.") if reg.collection else None
    tests = v.check_tests(reg.tests) if reg.tests else TestResultsIn()
    hla = v.check_typing(reg.hla_gl, tables=tables) if reg.hla_gl else None
    nima = v.check_nima(reg.nima_gl, tables=tables) if reg.nima_gl else None
    return CheckedFields(din, collected_at, volume, collection, tests, hla, nima, _inputs(reg))


@dataclass(slots=True)
class NewUnit:
    """A checked unit not yet stored, with its collection measurement and initial typing."""

    unit: Unit
    collection: MeasurementIn | None
    hla: str | None
    clock: Callable[[], datetime]

    def children(self, user_id: int | None) -> list[Measurement | HlaTyping]:
        """Its collection measurement and initial typing (call after the unit has its id)."""
        out: list[Measurement | HlaTyping] = []
        if self.collection is not None:
            out.append(Measurement(unit_id=self.unit.id, stage="collection", recorded_by=user_id,
                                   recorded_at=self.clock(), **self.collection.model_dump()))  # fmt: skip
        if self.hla is not None:
            out.append(HlaTyping(unit_id=self.unit.id, gl=self.hla, kind="initial", recorded_by=user_id,
                                 recorded_at=self.clock()))  # fmt: skip
        return out


class Lookup(Protocol):
    """What registering a unit needs to know about the store."""

    def product_code_known(self, code: str) -> bool: ...
    def bank(self, code: str) -> Bank | None: ...
    def din_taken(self, din: str) -> bool: ...
    def slot_taken_by(self, pos: StoragePosition) -> str | None: ...


@dataclass(frozen=True, slots=True)
class SessionLookup:
    """One query per question (a single registration)."""

    s: Session

    def product_code_known(self, code: str) -> bool:
        return self.s.get(ProductCode, code) is not None

    def bank(self, code: str) -> Bank | None:
        return self.s.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()

    def din_taken(self, din: str) -> bool:
        return self.s.execute(select(Unit.id).where(Unit.din == din)).scalar_one_or_none() is not None

    def slot_taken_by(self, pos: StoragePosition) -> str | None:
        other = self.s.execute(
            select(Unit.din).where(
                Unit.tank == pos.tank, Unit.rack == pos.rack, Unit.box == pos.box, Unit.slot == pos.slot
            )
        ).first()
        return None if other is None else str(other[0])


def new_unit(
    reg: UnitRegistration,
    lookup: Lookup,
    clock: Callable[[], datetime],
    checked: CheckedFields | None = None,
    *,
    tables: v.TablesSource | None = None,
) -> NewUnit:
    """The checked, not yet stored unit of ``reg`` (InvalidInputError/ConflictError naming the field).

    ``checked`` = ``check_fields(reg, ...)`` when the caller ran them already (they are not run again;
    checks made on other values are ignored and run here)."""
    if checked is not None and checked.inputs != _inputs(reg):
        checked = None
    din = checked.din if checked is not None else str(parse_din(reg.din))
    code = validate_code(reg.product_code)
    if not lookup.product_code_known(code):
        raise InvalidInputError(f"product code {code} is not in the bank's product code table", where="product_code")
    bank = lookup.bank(reg.bank_code)
    if bank is None:
        raise InvalidInputError(f"unknown bank {reg.bank_code!r}", where="bank_code")
    fields = checked if checked is not None else check_fields(reg, clock(), tables)
    if lookup.din_taken(din):
        raise ConflictError(f"a unit with DIN {din} is already registered", where="din")
    if reg.storage is not None:
        other = lookup.slot_taken_by(reg.storage)
        if other is not None:
            raise ConflictError(f"storage position {reg.storage} is already taken by unit {other}", where="storage")
    unit = Unit(
        din=din,
        product_code=code,
        bank_id=bank.id,
        bank=bank,
        state=UnitState.COLLECTED.value,
        collected_at=fields.collected_at,
        registered_at=clock(),
        collection_volume_ml=fields.volume_ml,
        nima_gl=fields.nima,
        red_cell_depleted=reg.red_cell_depleted,
        segments=0,
        exceptional_release=False,
    )
    apply_tests(unit, fields.tests)
    if reg.storage is not None:
        apply_storage(unit, reg.storage)
    return NewUnit(unit, fields.collection, fields.hla, clock)


def apply_tests(unit: Unit, t: TestResultsIn) -> None:
    """Copy the given test results onto the unit (absent ones left as they are)."""
    for name in ("abo", "rh", "idm_result", "sterility", "hb_screen", "segments"):
        value = getattr(t, name)
        if value is not None:
            setattr(unit, name, value)
    if t.idm_markers is not None:
        unit.idm_markers = json.dumps(t.idm_markers, sort_keys=True)


def apply_storage(unit: Unit, pos: StoragePosition) -> None:
    unit.tank, unit.rack, unit.box, unit.slot = pos.tank, pos.rack, pos.box, pos.slot
