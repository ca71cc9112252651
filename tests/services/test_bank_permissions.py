"""Forbidden access per role: each call refused with PermissionDeniedError, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cordmatch.errors import PermissionDeniedError

from .conftest import PASSWORD, World, good_registration, to_available

DIN = "G123498654321"

CALLS: dict[str, Callable[[World, Any], Any]] = {
    "register": lambda w, a: w.svc.units.register_unit(a, good_registration("A999921123456", slot="9")),
    "tests": lambda w, a: w.svc.units.record_tests(a, DIN, {"abo": "O"}),
    "typing": lambda w, a: w.svc.units.record_typing(a, DIN, "A*01:01+A*01:01"),
    "discard": lambda w, a: w.svc.units.discard(a, DIN, "test"),
    "release": lambda w, a: w.svc.release.release(a, DIN),
    "reserve": lambda w, a: w.svc.reservations.reserve(a, DIN, "p1"),
    "ship": lambda w, a: w.svc.reservations.ship(a, DIN),
    "create_user": lambda w, a: w.svc.users.create_user(a, "eve", PASSWORD, "admin"),
    "timeline": lambda w, a: w.svc.catalogue.timeline(a, DIN),
    "verify_audit": lambda w, a: w.svc.catalogue.verify_audit(a),
    "qc_config": lambda w, a: w.svc.release.set_qc_criteria(a, w.svc.release.qc_criteria()),
}

FORBIDDEN = {
    "technician": {"release", "reserve", "create_user", "verify_audit", "qc_config"},
    "director": {"reserve", "create_user"},
    "coordinator": {
        "register",
        "tests",
        "typing",
        "discard",
        "release",
        "ship",
        "create_user",
        "timeline",
        "verify_audit",
        "qc_config",
    },
    "admin": {"register", "tests", "typing", "discard", "release", "reserve", "ship"},
}


def test_forbidden(world: World) -> None:
    from cordmatch.store.audit import verify

    to_available(world)
    with world.svc.store.transaction() as s:
        rows = verify(s).rows
    for role, forbidden in FORBIDDEN.items():
        actor = {"technician": world.tech, "director": world.director, "coordinator": world.coord,
                 "admin": world.admin}[role]  # fmt: skip
        for call in sorted(forbidden):
            with pytest.raises(PermissionDeniedError) as exc:
                CALLS[call](world, actor)
            assert role in str(exc.value), (role, call)
    with world.svc.store.transaction() as s:
        assert verify(s).rows == rows  # nothing written by any refused call


def test_allowed_calls_pass_the_role_check(world: World) -> None:
    """The complement: each call not forbidden to a role gets past the permission check."""
    to_available(world)
    for role, forbidden in FORBIDDEN.items():
        actor = {"technician": world.tech, "director": world.director, "coordinator": world.coord,
                 "admin": world.admin}[role]  # fmt: skip
        for call in sorted(set(CALLS) - forbidden):
            try:
                CALLS[call](world, actor)
            except PermissionDeniedError as exc:  # pragma: no cover - the failure we test for
                pytest.fail(f"{role} refused {call}: {exc}")
            except Exception:
                pass  # other errors (state, conflicts) are fine here


def test_coordinator_cannot_touch_other_centres_reservation(world: World) -> None:
    to_available(world)
    r = world.svc.reservations.reserve(world.coord, DIN, "p1")
    from cordmatch.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no reservation"):  # another centre's: not even disclosed
        world.svc.reservations.cancel_reservation(world.coord2, r.id, "mine now")
    assert world.svc.reservations.list_reservations(world.coord2) == []
    assert len(world.svc.reservations.list_reservations(world.coord)) == 1
    world.svc.reservations.cancel_reservation(world.coord, r.id, "patient went for a sibling donor")


def test_coordinator_cannot_see_unlisted_units(world: World) -> None:
    from cordmatch.errors import NotFoundError

    world.svc.units.register_unit(world.tech, good_registration())
    with pytest.raises(NotFoundError):
        world.svc.catalogue.get_unit(world.coord, DIN)


def test_coordinator_cannot_tell_a_quarantined_unit_exists(world: World) -> None:
    from cordmatch.errors import ConflictError, NotFoundError
    from services.conftest import to_quarantine

    to_quarantine(world, DIN)
    absent = "G123498654399"
    assert world.svc.reservations.list_reservations(world.coord, din=DIN) == world.svc.reservations.list_reservations(
        world.coord, din=absent
    )
    for din in (DIN, absent):
        with pytest.raises(NotFoundError, match="no unit"):
            world.svc.catalogue.get_unit(world.coord, din)
        with pytest.raises(NotFoundError, match="no unit"):
            world.svc.reservations.reserve(world.coord, din, "p1")
    world.svc.release.release(world.director, DIN)
    world.svc.reservations.reserve(world.coord, DIN, "p1")
    assert world.svc.catalogue.get_unit(world.coord, DIN).state == "reserved"  # own centre's reserved unit
    with pytest.raises(NotFoundError):  # another centre does not see it
        world.svc.catalogue.get_unit(world.coord2, DIN)
    with pytest.raises(ConflictError, match="reserved"):
        world.svc.reservations.reserve(world.coord, DIN, "p2")


def test_passwords_and_tokens(world: World) -> None:
    svc = world.svc
    with pytest.raises(PermissionDeniedError, match="wrong password"):
        svc.users.authenticate("tech", "nope-nope-nope")
    with pytest.raises(PermissionDeniedError):
        svc.users.authenticate("nobody", PASSWORD)
    tok = svc.users.issue_token(world.coord, "ci", days=1)
    assert tok.token.startswith("cmt_")
    assert svc.users.authenticate_token(tok.token).username == "coord"
    with svc.store.transaction() as s:
        from sqlalchemy import select

        from cordmatch.store.models import ApiToken, User

        stored = s.execute(select(ApiToken.token_hash)).scalar_one()
        assert tok.token not in stored and len(stored) == 64
        assert (
            s.execute(select(User.password_hash).where(User.username == "tech")).scalar_one().startswith("$argon2id$")
        )
    world.clock.advance(days=2)
    with pytest.raises(PermissionDeniedError, match="expired"):
        svc.users.authenticate_token(tok.token)
    tok2 = svc.users.issue_token(world.coord, "ci2")
    svc.users.revoke_token(world.coord, tok2.id)
    with pytest.raises(PermissionDeniedError):
        svc.users.authenticate_token(tok2.token)
    svc.users.set_user_active(world.admin, "tech", False)
    with pytest.raises(PermissionDeniedError):
        svc.users.authenticate("tech", PASSWORD)
    with pytest.raises(PermissionDeniedError):
        svc.users.issue_token(world.tech, "x", for_user="director")


def test_coordinators_do_not_see_other_centres_patients(world: World) -> None:
    to_available(world)
    world.svc.reservations.reserve(world.coord, DIN, "patient-of-A")
    mine = world.svc.catalogue.get_unit(world.coord, DIN)
    assert mine.active_reservation is not None and mine.active_reservation.patient_ref == "patient-of-A"
    from cordmatch.errors import NotFoundError

    with pytest.raises(NotFoundError):  # another centre does not see the unit reserved for A at all
        world.svc.catalogue.get_unit(world.coord2, DIN)
    assert mine.storage is None
