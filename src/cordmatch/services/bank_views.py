"""How the bank services show what is stored: a unit, a reservation, the audited picture of a unit, and
who may see a unit. Read-only helpers over one session."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cordmatch.bank.din import parse_din
from cordmatch.bank.lifecycle import UnitState, allowed_next
from cordmatch.bank.roles import Role
from cordmatch.services.auth import Principal
from cordmatch.services.schemas import MeasurementOut, ReservationOut, StoragePosition, TypingOut, UnitOut
from cordmatch.store.models import HlaTyping, Measurement, Reservation, Unit, User

S = UnitState


def current_typing(s: Session, unit_id: int) -> HlaTyping | None:
    return s.execute(
        select(HlaTyping)
        .where(HlaTyping.unit_id == unit_id, HlaTyping.superseded_by.is_(None))
        .order_by(HlaTyping.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def active_reservation(s: Session, unit_id: int) -> Reservation | None:
    return s.execute(
        select(Reservation).where(Reservation.unit_id == unit_id, Reservation.status == "active")
    ).scalar_one_or_none()


def reservation_out(
    s: Session, r: Reservation, unit: Unit | None = None, *, by: Principal | None = None
) -> ReservationOut:
    unit = unit or s.get(Unit, r.unit_id)
    assert unit is not None
    user = by if by is not None and by.user_id == r.user_id else s.get(User, r.user_id)
    return ReservationOut(
        id=r.id,
        din=unit.din,
        centre=r.centre,
        patient_ref=r.patient_ref,
        reserved_by=user.username if user else "?",
        status=r.status,
        created_at=r.created_at,
        expires_at=r.expires_at,
        ended_at=r.ended_at,
        ct_status=r.ct_status,
        ct_requested_at=r.ct_requested_at,
        exceptional_release=unit.exceptional_release,
        note=r.note,
        alert=r.alert,
    )


def unit_out(
    s: Session,
    unit: Unit,
    *,
    detail: bool = True,
    prefetched: tuple[list[HlaTyping], list[Measurement]] | None = None,
) -> UnitOut:
    """The unit as the services return it; ``prefetched`` = its typings and measurements (lists)."""
    din = parse_din(unit.din)
    if prefetched is None:
        typings: Sequence[HlaTyping] = (
            s.execute(select(HlaTyping).where(HlaTyping.unit_id == unit.id).order_by(HlaTyping.id)).scalars().all()
        )
        measurements: Sequence[Measurement] = (
            s.execute(select(Measurement).where(Measurement.unit_id == unit.id)).scalars().all()
        )
    else:
        typings, measurements = prefetched
    current = [t for t in typings if t.superseded_by is None]
    active = active_reservation(s, unit.id) if detail else None
    storage = (
        StoragePosition(tank=unit.tank, rack=unit.rack, box=unit.box, slot=unit.slot)
        if unit.tank and unit.rack and unit.box and unit.slot
        else None
    )
    return UnitOut(
        din=unit.din,
        din_labelled=din.labelled,
        product_code=unit.product_code,
        bank_code=unit.bank.code,
        bank_name=unit.bank.name,
        accreditation=unit.bank.accreditation,
        bank_contact=unit.bank.contact,
        state=unit.state,
        version=unit.version,
        collected_at=unit.collected_at,
        registered_at=unit.registered_at,
        collection_volume_ml=unit.collection_volume_ml,
        abo=unit.abo,
        rh=unit.rh,
        idm_result=unit.idm_result,
        idm_markers=json.loads(unit.idm_markers) if unit.idm_markers else None,
        sterility=unit.sterility,
        hb_screen=unit.hb_screen,
        segments=unit.segments,
        storage=storage,
        nima_gl=unit.nima_gl,
        red_cell_depleted=unit.red_cell_depleted,
        exceptional_release=unit.exceptional_release,
        exceptional_reason=unit.exceptional_reason,
        released_at=unit.released_at,
        hla_gl=current[-1].gl if current else None,
        typings=[
            TypingOut(
                id=t.id,
                gl=t.gl,
                kind=t.kind,
                lab=t.lab,
                recorded_at=t.recorded_at,
                superseded_by=t.superseded_by,
            )
            for t in typings
        ]
        if detail
        else [],
        measurements={
            m.stage: MeasurementOut(
                stage=m.stage,
                volume_ml=m.volume_ml,
                tnc=m.tnc,
                cd34=m.cd34,
                viability_pct=m.viability_pct,
                viable_cd34_pct=m.viable_cd34_pct,
                viable_cd45_pct=m.viable_cd45_pct,
                cfu=m.cfu,
                recorded_at=m.recorded_at,
            )
            for m in measurements
        },
        active_reservation=reservation_out(s, active, unit) if active else None,
        allowed_next=[x.value for x in allowed_next(unit.state)],
    )


def snapshot(out: UnitOut) -> dict[str, Any]:
    """The audited picture of a unit (no nested history)."""
    d = out.model_dump(mode="json", exclude={"typings", "active_reservation", "allowed_next"})
    return d


def can_see(actor: Principal, unit: Unit, s: Session | None = None) -> bool:
    """Bank staff see every unit; a coordinator sees listed (available) units and the units their
    own centre reserved, shipped or infused, and cannot tell that any other unit exists."""
    if actor.role != Role.COORDINATOR:
        return True
    if unit.state == S.AVAILABLE:
        return True
    if s is None or unit.state not in (S.RESERVED, S.SHIPPED, S.INFUSED):
        return False
    ours = select(Reservation.id).where(
        Reservation.unit_id == unit.id,
        Reservation.centre == (actor.centre or ""),
        Reservation.status.in_(("active", "shipped")),
    )
    return s.execute(ours.limit(1)).first() is not None
