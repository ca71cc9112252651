"""Released and reserved units: counts change only through an audited correction that re-runs the
release check and alerts the holder of the reservation."""

from __future__ import annotations

import pytest

from cordmatch.errors import ConflictError, InvalidInputError
from services.conftest import World, to_available

DIN = "G123498654321"


def test_released_counts_change_only_through_a_correction(world: World) -> None:
    svc = world.svc
    to_available(world, DIN)
    with pytest.raises(ConflictError) as exc:
        svc.units.record_measurement(world.tech, DIN, "pre_cryo", {"tnc": 1.0e8})
    assert exc.value.where == "state" and "correction" in exc.value.message
    with pytest.raises(InvalidInputError) as bad:
        svc.units.correct_measurement(world.tech, DIN, "pre_cryo", {"tnc": 1.2e9}, reason=" ")
    assert bad.value.where == "reason"
    out = svc.units.correct_measurement(world.tech, DIN, "pre_cryo", {"tnc": 1.2e9}, reason="transcription error")
    assert out.state == "available" and out.measurements["pre_cryo"].tnc == 1.2e9
    last = svc.catalogue.timeline(world.tech, DIN)[-1]
    assert last["action"] == "unit.correct.pre_cryo" and last["reason"] == "transcription error"
    assert last["after"]["release_check"]["passed"] is True


def test_a_failing_correction_unlists_an_available_unit(world: World) -> None:
    svc = world.svc
    to_available(world, DIN)
    out = svc.units.correct_measurement(world.tech, DIN, "pre_cryo", {"tnc": 1.0e8}, reason="recount")
    assert out.state == "quarantine"  # no longer offered to centres until a director decides again
    assert svc.catalogue.timeline(world.tech, DIN)[-1]["after"]["release_check"]["passed"] is False
    assert svc.catalogue.list_units(world.coord).total == 0


def test_a_correction_alerts_the_holder_of_a_reservation(world: World) -> None:
    svc = world.svc
    to_available(world, DIN)
    r = svc.reservations.reserve(world.coord, DIN, "P-1")
    assert r.alert is None
    out = svc.units.correct_measurement(world.tech, DIN, "pre_cryo", {"tnc": 1.0e8}, reason="recount")
    assert out.state == "reserved"
    alert = out.active_reservation.alert if out.active_reservation else None
    assert alert and "FAILS" in alert and "recount" in alert and "tech" in alert
    mine = svc.reservations.list_reservations(world.coord)
    assert mine[0].alert == alert
    assert svc.catalogue.verify_audit(world.admin).ok
