"""Reservations of released units for patients: reserve, cancel, confirmatory typing, expiry, shipment
and infusion. The unit row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite) and a partial unique index allows one active reservation per unit.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cordmatch.bank.din import parse_din
from cordmatch.bank.lifecycle import UnitState, check_transition
from cordmatch.bank.roles import Permission, Role
from cordmatch.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from cordmatch.plausibility import check_length
from cordmatch.services import bank_validate as v
from cordmatch.services.auth import SYSTEM, Principal
from cordmatch.services.bank_context import DEFAULT_RESERVATION_DAYS, BankContext, bump
from cordmatch.services.bank_units import add_typing, change
from cordmatch.services.bank_views import active_reservation, can_see, reservation_out, snapshot, unit_out
from cordmatch.services.schemas import ReservationOut, UnitOut
from cordmatch.store.models import Reservation, Unit

P = Permission
S = UnitState


class ReservationServices:
    """Reservations, confirmatory typing, shipment and infusion."""

    def __init__(self, ctx: BankContext) -> None:
        self.ctx = ctx

    def _expire_for_unit(self, s: Session, actor: Principal, unit: Unit) -> Reservation | None:
        """Expire the unit's reservation when past its end; returns the reservation still active."""
        active = active_reservation(s, unit.id)
        if active is not None and active.expires_at <= self.ctx.clock():
            active.status, active.ended_at = "expired", self.ctx.clock()
            if unit.state == S.RESERVED:
                unit.state = S.AVAILABLE.value
            s.flush()
            before = {"state": S.RESERVED.value, "reservation": {"id": active.id, "status": "active"}}
            after = {"state": unit.state, "reservation": {"id": active.id, "status": "expired"}}
            self.ctx.audit(s, actor, "unit.reservation_expired", "unit", unit.din, before, after)
            return None
        return active

    def reserve(
        self,
        actor: Principal,
        din: str,
        patient_ref: str,
        *,
        centre: str | None = None,
        days: int = DEFAULT_RESERVATION_DAYS,
        request_ct: bool = False,
        note: str | None = None,
    ) -> ReservationOut:
        """Reserve an available unit for a patient (one active reservation per unit; ends after ``days``)."""
        self.ctx.require(actor, P.RESERVE)
        patient_ref = v.check_text(patient_ref, "patient_ref", max_len=100)
        check_length(note, "reason", "note")
        if actor.role == Role.COORDINATOR and centre and centre != actor.centre:
            raise PermissionDeniedError(
                f"{actor.username} reserves for {actor.centre}, not for {centre}", where="centre"
            )
        centre = v.check_text(centre or actor.centre, "centre")
        if not 1 <= days <= 365:
            raise InvalidInputError("reservation length must be 1..365 days", where="days")
        with self.ctx.tx() as s:
            unit = self.ctx.unit(s, din, lock=True)
            self._check_reservable(s, actor, unit)
            now = self.ctx.clock()
            r = Reservation(
                unit_id=unit.id,
                user_id=actor.user_id,
                centre=centre,
                patient_ref=patient_ref,
                status="active",
                created_at=now,
                expires_at=now + timedelta(days=days),
                ct_status="requested" if request_ct else "none",
                ct_requested_at=now if request_ct else None,
                note=note,
            )
            s.add(r)
            unit.state = S.RESERVED.value
            s.flush()
            out = reservation_out(s, r, unit, by=actor)
            self.ctx.audit(s, actor, "unit.reserve", "unit", unit.din, {"state": "available"},
                           {"state": "reserved", "reservation": out.model_dump(mode="json")})  # fmt: skip
            return out

    def _check_reservable(self, s: Session, actor: Principal, unit: Unit) -> None:
        """ConflictError unless the (locked) unit is available; an overdue reservation is expired first."""
        if unit.state == S.RESERVED and self._expire_for_unit(s, actor, unit) is not None:
            raise ConflictError(f"unit {unit.din} is already reserved", where="din")
        if actor.role == Role.COORDINATOR and unit.state != S.AVAILABLE:
            # a centre learns no more than "not available" (never that a unit is in quarantine)
            if not can_see(actor, unit, s):
                raise NotFoundError(f"no unit with DIN {unit.din}", where="din")
            raise ConflictError(f"unit {unit.din} is not available", where="din")
        if unit.state != S.AVAILABLE:
            raise ConflictError(f"unit {unit.din} is {unit.state}, not available", where="state")

    def _reservation(self, s: Session, reservation_id: int, *, lock: bool = True) -> tuple[Reservation, Unit]:
        r = s.get(Reservation, reservation_id)
        if r is None:
            raise NotFoundError(f"no reservation {reservation_id}", where="reservation_id")
        unit = self.ctx.unit(s, s.get_one(Unit, r.unit_id).din, lock=lock)
        s.refresh(r)
        return r, unit

    def _own_or_manage(self, actor: Principal, r: Reservation) -> None:
        if actor.role == Role.COORDINATOR:
            if r.user_id != actor.user_id and r.centre != actor.centre:  # another centre's: not disclosed
                raise NotFoundError(f"no reservation {r.id}", where="reservation_id")
        else:
            self.ctx.require(actor, P.RESERVATION_MANAGE)

    def cancel_reservation(self, actor: Principal, reservation_id: int, reason: str) -> ReservationOut:
        """Cancel an active reservation (its centre, or bank staff); the unit becomes available again."""
        reason = v.check_text(reason, "reason", max_len=2000)
        with self.ctx.tx() as s:
            r, unit = self._reservation(s, reservation_id)
            self._own_or_manage(actor, r)
            if r.status != "active":
                raise ConflictError(f"reservation {r.id} is {r.status}, not active", where="reservation_id")
            r.status, r.ended_at = "cancelled", self.ctx.clock()
            if unit.state == S.RESERVED:
                unit.state = S.AVAILABLE.value
            s.flush()
            out = reservation_out(s, r, unit, by=actor)
            after = {"state": unit.state, "reservation": out.model_dump(mode="json")}
            self.ctx.audit(s, actor, "unit.unreserve", "unit", unit.din, {"state": "reserved"}, after, reason)
            return out

    def request_confirmatory_typing(self, actor: Principal, reservation_id: int) -> ReservationOut:
        """Ask the bank for confirmatory typing from the attached segment."""
        with self.ctx.tx() as s:
            r, unit = self._reservation(s, reservation_id)
            self._own_or_manage(actor, r)
            if r.status != "active":
                raise ConflictError(f"reservation {r.id} is {r.status}, not active", where="reservation_id")
            if r.ct_status != "none":
                raise ConflictError(f"confirmatory typing already {r.ct_status}", where="ct_status")
            if unit.segments < 1:
                raise ConflictError(
                    f"unit {unit.din} has no attached segment for confirmatory typing", where="segments"
                )
            r.ct_status, r.ct_requested_at = "requested", self.ctx.clock()
            s.flush()
            out = reservation_out(s, r, unit)
            before = {"reservation": {"id": r.id, "ct_status": "none"}}
            after = {"reservation": {"id": r.id, "ct_status": "requested"}}
            self.ctx.audit(s, actor, "unit.ct_request", "unit", unit.din, before, after)
            return out

    def record_confirmatory_typing(
        self, actor: Principal, reservation_id: int, gl: str, *, lab: str | None = None
    ) -> ReservationOut:
        """Record the confirmatory typing result: it supersedes the unit's typing (history kept)."""
        self.ctx.require(actor, P.RESERVATION_MANAGE)
        text = v.check_typing(gl, tables=self.ctx.nomenclature)
        with self.ctx.tx() as s:
            r, unit = self._reservation(s, reservation_id)
            if r.status != "active" or r.ct_status != "requested":
                raise ConflictError(
                    f"reservation {r.id} has no open confirmatory-typing request ({r.status}, CT {r.ct_status})",
                    where="reservation_id",
                )
            before = snapshot(unit_out(s, unit))
            typing = add_typing(self.ctx, s, actor, unit, text, "confirmatory", lab)
            r.ct_status, r.ct_typing_id = "done", typing.id
            bump(unit)
            s.flush()
            self.ctx.audit(s, actor, "unit.typing.confirmatory", "unit", unit.din, before,
                           snapshot(unit_out(s, unit)), f"reservation {r.id}")  # fmt: skip
            return reservation_out(s, r, unit)

    def expire_reservations(self, actor: Principal) -> int:
        """Expire every active reservation past its end; returns how many."""
        if actor != SYSTEM:  # the system identity (id 0) is never a stored user
            self.ctx.require(actor, P.RESERVATION_MANAGE)
        with self.ctx.read() as s:
            rows = s.execute(
                select(Reservation.unit_id).where(
                    Reservation.status == "active", Reservation.expires_at <= self.ctx.clock()
                )
            ).all()
        n = 0
        for (unit_id,) in rows:
            with self.ctx.tx() as s:
                unit = s.get_one(Unit, unit_id)
                unit = self.ctx.unit(s, unit.din, lock=True)
                before = active_reservation(s, unit.id)
                self._expire_for_unit(s, actor, unit)
                n += before is not None and before.status == "expired"
        return n

    def list_reservations(
        self, actor: Principal, *, status: str | None = "active", din: str | None = None
    ) -> list[ReservationOut]:
        """Reservations (a coordinator sees those of their centre)."""
        self.ctx.require(actor, P.UNIT_SEARCH)
        q = select(Reservation).order_by(Reservation.id)
        if status:
            q = q.where(Reservation.status == status)
        if actor.role == Role.COORDINATOR:
            q = q.where(Reservation.centre == (actor.centre or ""))
        with self.ctx.read() as s:
            if din:  # a filter: an empty list whether or not the unit exists (nothing disclosed)
                code = str(parse_din(din))
                q = q.where(Reservation.unit_id.in_(select(Unit.id).where(Unit.din == code)))
            return [reservation_out(s, r) for r in s.execute(q).scalars()]

    def ship(self, actor: Principal, din: str, *, note: str | None = None) -> UnitOut:
        """Ship a reserved unit to its centre (a requested confirmatory typing must be recorded first)."""
        self.ctx.require(actor, P.RESERVATION_MANAGE)

        def mutate(s: Session, unit: Unit) -> None:
            check_transition(unit.state, S.SHIPPED, din=unit.din)
            r = active_reservation(s, unit.id)
            if r is None:
                raise ConflictError(f"unit {unit.din} has no active reservation", where="din")
            if r.ct_status == "requested":
                raise ConflictError(
                    f"unit {unit.din}: confirmatory typing requested but not recorded", where="ct_status"
                )
            r.status, r.ended_at = "shipped", self.ctx.clock()
            unit.state = S.SHIPPED.value
            unit.tank = unit.rack = unit.box = unit.slot = None  # leaves the tank: the slot is free again

        return change(self.ctx, actor, din, "unit.ship", mutate, reason=note)

    def infuse(self, actor: Principal, din: str, *, note: str | None = None) -> UnitOut:
        """Record that the shipped unit was infused."""
        self.ctx.require(actor, P.RESERVATION_MANAGE)

        def mutate(s: Session, unit: Unit) -> None:
            check_transition(unit.state, S.INFUSED, din=unit.din)
            unit.state = S.INFUSED.value

        return change(self.ctx, actor, din, "unit.infuse", mutate)
