from __future__ import annotations

import pytest

from cordmatch.errors import ConflictError
from cordmatch.services.auth import SYSTEM

from .conftest import World, to_available

DIN = "G123498654321"


def test_one_active_reservation(world: World) -> None:
    svc = world.svc
    to_available(world)
    r = svc.reservations.reserve(world.coord, DIN, "p1", days=7)
    with pytest.raises(ConflictError, match="already reserved"):
        svc.reservations.reserve(world.coord2, DIN, "p2")
    assert svc.catalogue.get_unit(world.tech, DIN).active_reservation.id == r.id  # type: ignore[union-attr]
    svc.reservations.cancel_reservation(world.coord, r.id, "not needed")
    with pytest.raises(ConflictError, match="cancelled, not active"):
        svc.reservations.cancel_reservation(world.coord, r.id, "again")
    r2 = svc.reservations.reserve(world.coord2, DIN, "p2")
    assert r2.centre == "Centre B"


def test_reservation_expires(world: World) -> None:
    svc = world.svc
    to_available(world)
    svc.reservations.reserve(world.coord, DIN, "p1", days=3)
    world.clock.advance(days=2)
    with pytest.raises(ConflictError):
        svc.reservations.reserve(world.coord2, DIN, "p2")
    world.clock.advance(days=2)
    r2 = svc.reservations.reserve(world.coord2, DIN, "p2")  # the stale reservation is expired on the way
    statuses = {r.patient_ref: r.status for r in svc.reservations.list_reservations(world.tech, status=None)}
    assert statuses == {"p1": "expired", "p2": "active"}
    world.clock.advance(days=31)
    assert svc.reservations.expire_reservations(SYSTEM) == 1
    assert svc.catalogue.get_unit(world.tech, DIN).state == "available"
    assert r2.id


def test_reserve_needs_available_unit(world: World) -> None:
    from cordmatch.errors import NotFoundError

    from .conftest import good_registration

    world.svc.units.register_unit(world.tech, good_registration())
    with pytest.raises(NotFoundError, match="no unit"):  # a centre cannot tell an unlisted unit exists
        world.svc.reservations.reserve(world.coord, DIN, "p1")
    assert world.svc.catalogue.get_unit(world.tech, DIN).state == "collected"


def test_ct_needs_attached_segment(world: World) -> None:
    to_available(world)
    world.svc.units.transition  # noqa: B018
    r = world.svc.reservations.reserve(world.coord, DIN, "p1")
    # a unit without segment: set segments to 0 directly is not allowed after release; use a second unit
    r2 = world.svc.reservations.request_confirmatory_typing(world.coord, r.id)
    assert r2.ct_status == "requested"
    with pytest.raises(ConflictError, match="already requested"):
        world.svc.reservations.request_confirmatory_typing(world.coord, r.id)


def test_database_refuses_second_active_reservation(world: World) -> None:
    """The partial unique index holds even if a code path skipped the checks."""
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from cordmatch.store.models import Reservation

    to_available(world)
    world.svc.reservations.reserve(world.coord, DIN, "p1")
    with pytest.raises(IntegrityError), world.svc.store.transaction() as s:
        r = s.execute(select(Reservation)).scalar_one()
        s.add(Reservation(unit_id=r.unit_id, user_id=r.user_id, centre="X", patient_ref="p2", status="active",
                          expires_at=r.expires_at, ct_status="none"))  # fmt: skip


def test_reserved_unit_cannot_be_released_again(world: World) -> None:
    to_available(world)
    world.svc.reservations.reserve(world.coord, DIN, "p1")
    with pytest.raises(ConflictError, match="needs quarantine"):
        world.svc.release.release(world.director, DIN)


def test_coordinator_reserves_for_own_centre_only(world: World) -> None:
    from cordmatch.errors import PermissionDeniedError

    to_available(world)
    with pytest.raises(PermissionDeniedError, match="not for Centre B"):
        world.svc.reservations.reserve(world.coord, DIN, "p1", centre="Centre B")
    assert world.svc.reservations.reserve(world.coord, DIN, "p1").centre == "Centre A"


def test_system_identity_cannot_be_borrowed(world: World) -> None:
    from cordmatch.bank.roles import Role
    from cordmatch.errors import InvalidInputError, PermissionDeniedError
    from cordmatch.services.auth import Principal

    with pytest.raises(InvalidInputError, match="reserved"):
        world.svc.users.create_user(world.admin, "System", "long enough pw", "admin")
    with pytest.raises(PermissionDeniedError):
        world.svc.reservations.expire_reservations(
            Principal(world.coord.user_id, "system", Role.COORDINATOR, "Centre A")
        )
