from __future__ import annotations

from cordmatch.services.bank_index import iter_available_units

from .conftest import World, good_registration, to_available


def test_available_units_for_search(world: World) -> None:
    to_available(world, "G123498000001", "1")
    to_available(world, "G123498000002", "2")
    world.svc.units.register_unit(world.tech, good_registration("G123498000003", slot="3"))
    world.svc.reservations.reserve(world.coord, "G123498000002", "p1")
    units = list(iter_available_units(world.svc.store, batch=1))
    assert [u.din for u in units] == ["G123498000001"]
    (u,) = units
    assert u.tnc == 1.25e9 and u.cd34 == 4.4e6 and u.cryo_volume_ml == 25.0
    assert u.abo == "A" and u.rh == "pos" and u.accredited and u.accreditation == "FACT-NetCord"
    assert u.red_cell_depleted is True and u.attached_segments == 2 and u.nima_gl is None
    assert u.typing_gl == "A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01"
    world.svc.units.record_typing(world.tech, "G123498000001", "A*01:01+A*02:05^B*07:02+B*08:01")
    (u,) = iter_available_units(world.svc.store)
    assert u.typing_gl == "A*01:01+A*02:05^B*07:02+B*08:01"


def test_demo_seed(store) -> None:  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    from cordmatch.services.auth import set_password_hasher
    from cordmatch.services.bank import BankService
    from cordmatch.services.bank_demo import DEMO_PASSWORD, seed_demo, seed_demo_if_empty

    old = set_password_hasher(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))
    try:
        svc = BankService(store)
        seed = seed_demo(svc)
        assert sorted(set(seed.dins.values())) == ["available", "collected", "discarded", "quarantine", "reserved"]
        tech = svc.users.authenticate("tech", DEMO_PASSWORD)
        for din, state in seed.dins.items():
            assert svc.catalogue.get_unit(tech, din).state == state
        assert len(list(iter_available_units(store))) == 4
        assert seed_demo_if_empty(svc) is None
        assert svc.catalogue.verify_audit(svc.users.authenticate("admin", DEMO_PASSWORD)).ok
    finally:
        set_password_hasher(old)


def test_nima_feeds_the_index(world: World) -> None:
    import pytest

    from cordmatch.errors import InvalidInputError

    to_available(world, "G123498000001", "1")
    world.svc.units.set_nima(world.tech, "G123498000001", "A*24:02^B*35:01")
    (u,) = iter_available_units(world.svc.store)
    assert u.nima_gl == "A*24:02^B*35:01"
    with pytest.raises(InvalidInputError) as exc:
        world.svc.units.set_nima(world.tech, "G123498000001", "A*99:99")
    assert exc.value.where == "nima_gl"
