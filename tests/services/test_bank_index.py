from __future__ import annotations

from cordmatch.services.bank_index import iter_available_units

from .conftest import World, good_registration, to_available


def test_available_units_for_search(world: World) -> None:
    to_available(world, "G123498000001", "1")
    to_available(world, "G123498000002", "2")
    world.svc.register_unit(world.tech, good_registration("G123498000003", slot="3"))
    world.svc.reserve(world.coord, "G123498000002", "p1")
    units = list(iter_available_units(world.svc.store, batch=1))
    assert [u.din for u in units] == ["G123498000001"]
    (u,) = units
    assert u.tnc == 1.25e9 and u.cd34 == 4.4e6 and u.cryo_volume_ml == 25.0
    assert u.abo == "A" and u.rh == "pos" and u.accredited and u.accreditation == "FACT-NetCord"
    assert u.red_cell_depleted is True and u.attached_segments == 2 and u.nima_gl is None
    assert u.typing_gl == "A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01"
    world.svc.record_typing(world.tech, "G123498000001", "A*01:01+A*02:05^B*07:02+B*08:01")
    (u,) = iter_available_units(world.svc.store)
    assert u.typing_gl == "A*01:01+A*02:05^B*07:02+B*08:01"
