from __future__ import annotations

import pytest

from cordmatch.errors import ConflictError, InvalidInputError
from cordmatch.store import audit

from .conftest import World, good_registration, to_available, to_quarantine

DIN = "G123498654321"


def test_full_journey_collected_to_infused(world: World) -> None:
    svc = world.svc
    to_available(world)
    unit = svc.catalogue.get_unit(world.tech, DIN)
    assert unit.state == "available" and unit.din_labelled == "G123498654321H"
    assert unit.abo == "A" and unit.rh == "pos" and unit.red_cell_depleted is True
    assert unit.accreditation == "FACT-NetCord" and unit.segments == 2
    assert set(unit.measurements) == {"collection", "post_processing", "pre_cryo", "post_thaw"}
    r = svc.reservations.reserve(world.coord, DIN, "patient-17", request_ct=True)
    assert r.centre == "Centre A" and r.ct_status == "requested"
    with pytest.raises(ConflictError, match="confirmatory typing requested"):
        svc.reservations.ship(world.tech, DIN)
    svc.reservations.record_confirmatory_typing(
        world.tech, r.id, "A*01:01:01+A*02:01:01^B*07:02+B*08:01", lab="HLA lab"
    )
    assert svc.reservations.ship(world.tech, DIN).state == "shipped"
    assert svc.reservations.infuse(world.tech, DIN, note="infused day 0").state == "infused"
    with pytest.raises(ConflictError, match="from infused to"):
        svc.units.discard(world.tech, DIN, "oops")
    timeline = svc.catalogue.timeline(world.tech, DIN)
    actions = [t["action"] for t in timeline]
    assert actions[0] == "unit.register" and actions[-1] == "unit.infuse"
    assert {"unit.release", "unit.reserve", "unit.typing.confirmatory"} <= set(actions)
    assert svc.catalogue.verify_audit(world.admin).ok


def test_typing_history_is_kept(world: World) -> None:
    svc = world.svc
    to_available(world)
    r = svc.reservations.reserve(world.coord, DIN, "p1")
    svc.reservations.request_confirmatory_typing(world.coord, r.id)
    svc.reservations.record_confirmatory_typing(
        world.tech, r.id, "A*01:01+A*03:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01"
    )
    unit = svc.catalogue.get_unit(world.tech, DIN)
    assert [t.kind for t in unit.typings] == ["initial", "confirmatory"]
    first, second = unit.typings
    assert first.superseded_by == second.id and second.superseded_by is None
    assert first.gl.startswith("A*01:01+A*02:01")
    assert unit.hla_gl == second.gl


def test_illegal_and_guarded_transitions(world: World) -> None:
    svc = world.svc
    svc.units.register_unit(world.tech, good_registration())
    with pytest.raises(ConflictError, match="from collected to processed"):
        svc.units.transition(world.tech, DIN, "processed")
    to = svc.units.transition(world.tech, DIN, "received")
    assert to.state == "received" and to.allowed_next == ["processed", "discarded", "research"]
    with pytest.raises(InvalidInputError, match="unknown unit state"):
        svc.units.transition(world.tech, DIN, "thawed")


def test_processed_needs_the_post_processing_counts(world: World) -> None:
    svc = world.svc
    svc.units.register_unit(world.tech, good_registration())
    svc.units.transition(world.tech, DIN, "received")
    with pytest.raises(ConflictError, match="post-processing counts") as refused:
        svc.units.transition(world.tech, DIN, "processed")
    assert refused.value.where == "tnc" and svc.catalogue.get_unit(world.tech, DIN).state == "received"
    with pytest.raises(InvalidInputError, match="TNC count is required"):
        svc.units.record_processing(world.tech, DIN, {"volume_ml": 25.0}, red_cell_depleted=True)
    svc.units.record_measurement(world.tech, DIN, "post_processing", {"volume_ml": 25.0})  # no TNC: still refused
    with pytest.raises(ConflictError, match="post-processing counts"):
        svc.units.transition(world.tech, DIN, "processed")
    svc.units.record_measurement(world.tech, DIN, "post_processing", {"tnc": 1.3e9})
    assert svc.units.transition(world.tech, DIN, "processed").state == "processed"


def test_release_refused_lists_failures_then_exceptional_release(world: World) -> None:
    svc = world.svc
    to_quarantine(world)
    svc.units.record_measurement(world.tech, DIN, "post_thaw", {"viable_cd34_pct": 62.0})
    check = svc.release.release_check(world.tech, DIN)
    assert not check.passed and [f.key for f in check.failures] == ["post_thaw_viable_cd34_pct"]
    assert len(check.items) == len(svc.release.qc_criteria())
    with pytest.raises(ConflictError, match=r"post-thaw viable CD34\+ \(%\) > 70\.0: fail"):
        svc.release.release(world.director, DIN)
    assert svc.catalogue.get_unit(world.tech, DIN).state == "quarantine"
    out = svc.release.release(world.director, DIN, exceptional_reason="only 6/6 unit for patient; centre informed")
    assert out.exceptional and not out.passed and out.decided_by == "director"
    assert {i.key: i.verdict for i in out.items}["post_thaw_viable_cd34_pct"] == "fail"
    unit = svc.catalogue.get_unit(world.coord, DIN)
    assert unit.exceptional_release and unit.storage is None  # coordinators do not see storage positions
    r = svc.reservations.reserve(world.coord, DIN, "p9")
    assert r.exceptional_release


def test_release_with_custom_criteria(world: World) -> None:
    from cordmatch.bank.qc import Criterion

    svc = world.svc
    svc.release.set_qc_criteria(world.director, (Criterion("tnc_pre_cryo", "ge", 1.5e9, "bank SOP 2026 [U]"),))
    to_quarantine(world)
    with pytest.raises(ConflictError, match="TNC before cryopreservation"):
        svc.release.release(world.director, DIN)


def test_discard_with_reason_cancels_reservation(world: World) -> None:
    svc = world.svc
    to_available(world)
    svc.reservations.reserve(world.coord, DIN, "p1")
    with pytest.raises(InvalidInputError, match="reason is required"):
        svc.units.discard(world.tech, DIN, "  ")
    out = svc.units.discard(world.tech, DIN, "bag breach found at inspection")
    assert out.state == "discarded" and out.active_reservation is None
    assert svc.reservations.list_reservations(world.coord, status="cancelled")[0].note.startswith("unit discarded")


def test_list_units_filters_and_pages(world: World) -> None:
    svc = world.svc
    for i in range(1, 6):
        din = f"G1234980000{i:02d}"
        if i <= 3:
            to_available(world, din, slot=str(i))
        else:
            svc.units.register_unit(world.tech, good_registration(din, slot=str(i)))
    page = svc.catalogue.list_units(world.tech, limit=2)
    assert page.total == 5 and len(page.items) == 2
    assert svc.catalogue.list_units(world.tech, {"state": "available"}).total == 3
    assert svc.catalogue.list_units(world.tech, {"state": "collected"}, limit=1, offset=1).items[0].state == "collected"
    assert svc.catalogue.list_units(world.tech, {"min_tnc": 1.2e9}).total == 3
    assert svc.catalogue.list_units(world.tech, {"min_tnc": 1.3e9}).total == 0
    assert svc.catalogue.list_units(world.tech, {"din_prefix": "G12349800000"}).total == 5
    assert svc.catalogue.list_units(world.tech, {"bank_code": "NOPE"}).total == 0
    assert svc.catalogue.list_units(world.coord).total == 3  # coordinators see listed units only
    with pytest.raises(InvalidInputError, match="limit"):
        svc.catalogue.list_units(world.tech, limit=0)


def test_versions_count_every_change(world: World) -> None:
    svc = world.svc
    svc.units.register_unit(world.tech, good_registration())
    v1 = svc.catalogue.get_unit(world.tech, DIN).version
    svc.units.record_tests(world.tech, DIN, {"abo": "O"})
    svc.units.record_typing(world.tech, DIN, "A*01:01+A*01:01")
    assert svc.catalogue.get_unit(world.tech, DIN).version == v1 + 2
    with world.svc.store.transaction() as s:
        assert audit.verify(s).ok


def test_slot_is_freed_when_the_unit_leaves_the_tank(world: World) -> None:
    svc = world.svc
    svc.units.register_unit(world.tech, good_registration())
    svc.units.discard(world.tech, DIN, "clotted")
    unit = svc.catalogue.get_unit(world.tech, DIN)
    assert unit.storage is None
    assert svc.catalogue.timeline(world.tech, DIN)[-1]["before"]["storage"] == {"tank": "T1", "rack": "R1", "box": "B1",
                                                                                "slot": "1"}  # fmt: skip
    assert svc.units.register_unit(world.tech, good_registration("A999921123456")).storage is not None
