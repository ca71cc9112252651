"""Registering many units in one transaction (CSV import): the same checks and the same audit rows as one
registration at a time, with the lookups made once for the whole batch and the rows written in bulk
(units, measurements and typings in batched inserts, audit rows in one executemany, chained in order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cordmatch.bank.din import parse_din
from cordmatch.errors import CordmatchError, InvalidInputError
from cordmatch.services.auth import Principal
from cordmatch.services.bank_context import BankContext
from cordmatch.services.bank_registration import CheckedFields, NewUnit, check_fields, new_unit
from cordmatch.services.bank_validate import TablesSource
from cordmatch.services.bank_views import snapshot, unit_out
from cordmatch.services.schemas import STAGES, MeasurementIn, StoragePosition, UnitRegistration
from cordmatch.store import audit
from cordmatch.store.models import Bank, HlaTyping, Measurement, ProductCode, Unit

_IN_CHUNK = 500  # values per IN (...) query

Slot = tuple[str, str, str, str]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class UnitImport:
    """One unit to register and its measurements of later stages (``pre_cryo``, ``post_thaw``).

    ``checked``: the registration's store-free checks when the caller ran them already (a CSV line is
    checked while it is read); build it with :meth:`prechecked` so that it always matches."""

    registration: UnitRegistration
    measurements: Mapping[str, MeasurementIn] = field(default_factory=dict)
    checked: CheckedFields | None = None

    @classmethod
    def prechecked(
        cls,
        registration: UnitRegistration,
        measurements: Mapping[str, MeasurementIn],
        now: datetime,
        tables: TablesSource | None = None,
    ) -> UnitImport:
        """The item with ``check_fields`` run now (InvalidInputError naming the field), typings checked against
        ``tables`` (default: the current settings')."""
        return cls(registration, measurements, check_fields(registration, now, tables))


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why item ``index`` of a batch was refused (``field`` as the single registration names it)."""

    index: int
    field: str
    message: str


class UnitsRefusedError(InvalidInputError):
    """A batch registration was refused, nothing written; ``refusals`` lists every refused item."""

    def __init__(self, refusals: list[Refusal]) -> None:
        first = refusals[0]
        more = f" (+{len(refusals) - 1} more)" if len(refusals) > 1 else ""
        super().__init__(f"no unit registered: item {first.index}: {first.message}{more}", where=first.field)
        self.refusals = refusals


@dataclass(slots=True)
class BatchLookup:
    """The answers for a whole batch, read once; ``claim`` adds each accepted unit (duplicates in the batch)."""

    codes: set[str]
    banks: dict[str, Bank]
    dins: set[str]
    slots: dict[Slot, str]

    @classmethod
    def load(cls, s: Session, regs: Sequence[UnitRegistration]) -> BatchLookup:
        codes = set(s.execute(select(ProductCode.code)).scalars())
        bank_codes = sorted({r.bank_code for r in regs})
        banks = {b.code: b for b in s.execute(select(Bank).where(Bank.code.in_(bank_codes))).scalars()}
        dins = sorted({d for d in (_din_or_none(r.din) for r in regs) if d is not None})
        taken: set[str] = set()
        for chunk in _chunks(dins):
            taken.update(s.execute(select(Unit.din).where(Unit.din.in_(chunk))).scalars())
        wanted = sorted({(p.tank, p.rack, p.box, p.slot) for r in regs if (p := r.storage) is not None})
        slots: dict[Slot, str] = {}
        cols = tuple_(Unit.tank, Unit.rack, Unit.box, Unit.slot)
        for part in _chunks(wanted):
            q = select(Unit.tank, Unit.rack, Unit.box, Unit.slot, Unit.din).where(cols.in_(part))
            for tank, rack, box, slot, din in s.execute(q):
                slots[(str(tank), str(rack), str(box), str(slot))] = din
        return cls(codes, banks, taken, slots)

    def product_code_known(self, code: str) -> bool:
        return code in self.codes

    def bank(self, code: str) -> Bank | None:
        return self.banks.get(code)

    def din_taken(self, din: str) -> bool:
        return din in self.dins

    def slot_taken_by(self, pos: StoragePosition) -> str | None:
        return self.slots.get((pos.tank, pos.rack, pos.box, pos.slot))

    def claim(self, unit: Unit) -> None:
        self.dins.add(unit.din)
        if unit.tank is not None and unit.rack is not None and unit.box is not None and unit.slot is not None:
            self.slots[(unit.tank, unit.rack, unit.box, unit.slot)] = unit.din


def _din_or_none(text: str) -> str | None:
    try:
        return str(parse_din(text))
    except CordmatchError:
        return None


def _chunks(values: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i : i + _IN_CHUNK]


def _check_all(ctx: BankContext, s: Session, items: Sequence[UnitImport]) -> list[NewUnit]:
    """Every item checked as one registration is; UnitsRefusedError lists every refused item."""
    lookup = BatchLookup.load(s, [i.registration for i in items])
    accepted: list[NewUnit] = []
    refusals: list[Refusal] = []
    for index, item in enumerate(items):
        try:
            unknown = next((st for st in item.measurements if st not in STAGES or st == "collection"), None)
            if unknown is not None:
                raise InvalidInputError(f"{unknown!r} is not a later stage of {STAGES}", where="stage")
            new = new_unit(item.registration, lookup, ctx.clock, item.checked, tables=ctx.nomenclature)
        except CordmatchError as exc:
            refusals.append(Refusal(index, exc.where or "row", exc.message))
            continue
        lookup.claim(new.unit)
        accepted.append(new)
    if refusals:
        raise UnitsRefusedError(refusals)
    return accepted


def register_units(ctx: BankContext, s: Session, actor: Principal, items: Sequence[UnitImport]) -> list[str]:
    """Check and write ``items`` in the caller's transaction (see ``UnitServices.register_many``)."""
    if not items:
        raise InvalidInputError("no units to register", where="units")
    new = _check_all(ctx, s, items)
    s.add_all([n.unit for n in new])
    s.flush()  # batched INSERT ... RETURNING id
    children = [n.children(actor.user_id) for n in new]
    s.add_all([c for group in children for c in group])
    s.flush()
    entries = [_register_entry(s, actor, n, group) for n, group in zip(new, children, strict=True)]
    by = actor.user_id
    s.add_all([
        Measurement(unit_id=n.unit.id, stage=stage, recorded_by=by, recorded_at=ctx.clock(), **m.model_dump())
        for n, item in zip(new, items, strict=True)
        for stage, m in item.measurements.items()
    ])  # fmt: skip
    dins = [n.unit.din for n in new]
    entries.append(audit.Entry(actor.actor_name, "units.import", "import", f"{len(dins)} units", None, {"dins": dins}))
    audit.append_many(s, entries)
    return dins


def _register_entry(s: Session, actor: Principal, n: NewUnit, group: list[Measurement | HlaTyping]) -> audit.Entry:
    """The ``unit.register`` audit entry of a unit just written with its ``group`` of children."""
    typings = [c for c in group if isinstance(c, HlaTyping)]
    measured = [c for c in group if isinstance(c, Measurement)]
    out = unit_out(s, n.unit, detail=False, prefetched=(typings, measured))
    return audit.Entry(actor.actor_name, "unit.register", "unit", n.unit.din, None, snapshot(out))
