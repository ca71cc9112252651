"""What the bank holds and how to find it: unit look-up and listing, a unit's history, the banks and
their product codes, and the audit chain check. Only configuration calls write (audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cordmatch.bank.din import issue_din
from cordmatch.bank.lifecycle import UnitState, state_of
from cordmatch.bank.product_codes import ProductCodeTable
from cordmatch.bank.roles import Permission, Role
from cordmatch.errors import ConflictError, InvalidInputError, NotFoundError
from cordmatch.services import bank_validate as v
from cordmatch.services.auth import Principal
from cordmatch.services.bank_context import BankContext
from cordmatch.services.bank_views import can_see, unit_out
from cordmatch.services.schemas import BankOut, Page, UnitFilter, UnitOut, parse_model
from cordmatch.store import audit
from cordmatch.store.audit import ChainReport
from cordmatch.store.models import Bank, HlaTyping, Measurement, ProductCode, Unit

P = Permission
S = UnitState


def _unit_query(actor: Principal, f: UnitFilter) -> Select[Unit]:
    """The units matching ``f`` that ``actor`` may list (a coordinator: available units only)."""
    q = select(Unit)
    if actor.role == Role.COORDINATOR:
        q = q.where(Unit.state == S.AVAILABLE.value)
    if f.state:
        q = q.where(Unit.state == state_of(f.state).value)
    if f.bank_code:
        q = q.join(Bank, Unit.bank_id == Bank.id).where(Bank.code == f.bank_code)
    if f.abo:
        q = q.where(Unit.abo == f.abo.upper())
    if f.din_prefix:
        q = q.where(Unit.din.startswith(f.din_prefix.upper().replace(" ", ""), autoescape=True))
    if f.collected_from:
        q = q.where(Unit.collected_at >= f.collected_from)
    if f.collected_to:
        q = q.where(Unit.collected_at < f.collected_to)
    if f.exceptional_release is not None:
        q = q.where(Unit.exceptional_release.is_(f.exceptional_release))
    if f.min_tnc is not None:
        pre_cryo = select(Measurement.unit_id).where(Measurement.stage == "pre_cryo", Measurement.tnc >= f.min_tnc)
        q = q.where(Unit.id.in_(pre_cryo))
    return q


def _children(s: Session, ids: list[int]) -> dict[int, tuple[list[HlaTyping], list[Measurement]]]:
    """The typings (in order) and measurements of the units ``ids``, read in two queries."""
    pre: dict[int, tuple[list[HlaTyping], list[Measurement]]] = {i: ([], []) for i in ids}
    for t in s.execute(select(HlaTyping).where(HlaTyping.unit_id.in_(ids)).order_by(HlaTyping.id)).scalars():
        pre[t.unit_id][0].append(t)
    for m in s.execute(select(Measurement).where(Measurement.unit_id.in_(ids))).scalars():
        pre[m.unit_id][1].append(m)
    return pre


class CatalogueServices:
    """Look-ups and listings of units, banks, product codes and the audit chain."""

    def __init__(self, ctx: BankContext) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ units
    def get_unit(self, actor: Principal, din: str) -> UnitOut:
        self.ctx.require(actor, P.UNIT_SEARCH)
        with self.ctx.read() as s:
            unit = self.ctx.unit(s, din)
            if not can_see(actor, unit, s):
                raise NotFoundError(f"no unit with DIN {unit.din}", where="din")
            out = unit_out(s, unit)
            if actor.role == Role.COORDINATOR:
                # centres see neither storage positions nor other centres' reservations (patients)
                own = out.active_reservation is not None and out.active_reservation.centre == actor.centre
                return out.model_copy(
                    update={"storage": None, "active_reservation": out.active_reservation if own else None}
                )
            return out

    def list_units(
        self,
        actor: Principal,
        filters: UnitFilter | dict[str, Any] | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        """Units matching ``filters``, newest collection first; coordinators see available units only."""
        self.ctx.require(actor, P.UNIT_SEARCH)
        f = parse_model(UnitFilter, filters or {})
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit must be 1..1000", where="limit")
        if offset < 0:
            raise InvalidInputError("offset must not be negative", where="offset")
        q = _unit_query(actor, f)
        with self.ctx.read() as s:
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            rows = s.execute(q.order_by(Unit.collected_at.desc(), Unit.id.desc()).limit(limit).offset(offset))
            units = list(rows.unique().scalars())
            pre = _children(s, [u.id for u in units])
            items = [unit_out(s, u, detail=False, prefetched=pre[u.id]) for u in units]
            return Page(items=items, total=total, limit=limit, offset=offset)

    def timeline(self, actor: Principal, din: str) -> list[dict[str, Any]]:
        """The unit's audit history, oldest first (for the unit detail page)."""
        self.ctx.require(actor, P.UNIT_READ)
        with self.ctx.read() as s:
            unit = self.ctx.unit(s, din)
            return audit.history(s, "unit", unit.din)

    # ------------------------------------------------------------------ banks and product codes
    def add_bank(
        self,
        actor: Principal,
        code: str,
        name: str,
        *,
        accreditation: str = "none",
        facility_id: str | None = None,
        contact: str | None = None,
    ) -> BankOut:
        """Register a bank (code, name, accreditation such as ``FACT-NetCord`` or ``AABB``; ``contact``: who
        a transplant centre contacts about its units, e.g. search desk, phone and e-mail)."""
        self.ctx.require(actor, P.CONFIG)
        code = v.check_text(code, "bank_code", max_len=32)
        name = v.check_text(name, "name")
        accreditation = v.check_text(accreditation, "accreditation", max_len=64)
        contact = v.check_text(contact, "contact", max_len=500, required=False) or None
        if facility_id is not None:
            facility_id = issue_din(facility_id, 0, 1).facility
        with self.ctx.tx() as s:
            if s.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none():
                raise ConflictError(f"bank {code} already exists", where="bank_code")
            bank = Bank(code=code, name=name, accreditation=accreditation, facility_id=facility_id, contact=contact)
            s.add(bank)
            s.flush()
            out = _bank_out(bank)
            self.ctx.audit(s, actor, "bank.add", "bank", code, None, out.model_dump())
            return out

    def set_bank_contact(self, actor: Principal, code: str, contact: str | None) -> BankOut:
        """Set (or clear, with None or blank) who a transplant centre contacts at bank ``code``; audited."""
        self.ctx.require(actor, P.CONFIG)
        contact = v.check_text(contact, "contact", max_len=500, required=False) or None
        with self.ctx.tx() as s:
            bank = s.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()
            if bank is None:
                raise NotFoundError(f"bank {code} not found", where="bank_code")
            before = _bank_out(bank).model_dump()
            bank.contact = contact
            out = _bank_out(bank)
            self.ctx.audit(s, actor, "bank.contact", "bank", code, before, out.model_dump())
            return out

    def list_banks(self, actor: Principal) -> list[BankOut]:
        self.ctx.require(actor, P.UNIT_SEARCH)
        with self.ctx.read() as s:
            return [_bank_out(b) for b in s.execute(select(Bank).order_by(Bank.code)).scalars()]

    def load_product_codes(self, actor: Principal, table: ProductCodeTable) -> int:
        """Load (add or update) the bank's licensed product description codes; returns how many."""
        self.ctx.require(actor, P.CONFIG)
        with self.ctx.tx() as s:
            before = {p.code: p.description for p in s.execute(select(ProductCode)).scalars()}
            for code, description in table.codes.items():
                row = s.get(ProductCode, code)
                if row is None:
                    s.add(ProductCode(code=code, description=description))
                else:
                    row.description = description
            s.flush()
            after = {**before, **dict(table.codes)}
            self.ctx.audit(s, actor, "product_codes.load", "product_codes", "table", before, after)
            return len(table.codes)

    def product_codes(self) -> ProductCodeTable:
        with self.ctx.read() as s:
            return ProductCodeTable({p.code: p.description for p in s.execute(select(ProductCode)).scalars()})

    # ------------------------------------------------------------------ audit
    def verify_audit(self, actor: Principal) -> ChainReport:
        self.ctx.require(actor, P.AUDIT)
        with self.ctx.read() as s:
            return audit.verify(s)


def _bank_out(bank: Bank) -> BankOut:
    return BankOut(code=bank.code, name=bank.name, facility_id=bank.facility_id, accreditation=bank.accreditation,
                   contact=bank.contact)  # fmt: skip
