"""Service fixtures: a bank on SQLite and PostgreSQL, with a bank, product codes and one user per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store.conftest import db_url, pg_schema_url, store  # noqa: F401  (fixtures)

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
PRODUCT_CSV = "code,description\nX0001,HPC Cord Blood (test code; real codes are ICCBBA-licensed)\n"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class World:
    svc: Any
    clock: Clock
    admin: Any
    tech: Any
    director: Any
    coord: Any
    coord2: Any


def good_registration(din: str = "G123498654321", slot: str = "1", **over: Any) -> dict[str, Any]:
    reg: dict[str, Any] = {
        "din": din,
        "product_code": "X0001",
        "bank_code": "BANK1",
        "collected_at": T0 - timedelta(hours=6),
        "collection_volume_ml": 92.5,
        "collection": {"volume_ml": 92.5, "tnc": 1.6e9, "cd34": 5.0e6, "viability_pct": 98.0},
        "hla_gl": "A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01",
        "storage": {"tank": "T1", "rack": "R1", "box": "B1", "slot": slot},
    }
    reg.update(over)
    return reg


def make_world(store: Any) -> World:  # noqa: F811
    from cordmatch.bank.product_codes import ProductCodeTable
    from cordmatch.services.bank import BankService

    clock = Clock()
    svc = BankService(store, clock=clock)
    svc.users.bootstrap_admin("admin", PASSWORD)
    admin = svc.users.authenticate("admin", PASSWORD)
    svc.users.create_user(admin, "tech", PASSWORD, "technician")
    svc.users.create_user(admin, "director", PASSWORD, "director")
    svc.users.create_user(admin, "coord", PASSWORD, "coordinator", centre="Centre A")
    svc.users.create_user(admin, "coord2", PASSWORD, "coordinator", centre="Centre B")
    svc.catalogue.add_bank(
        admin, "BANK1", "Test Public Cord Blood Bank", accreditation="FACT-NetCord", facility_id="G1234"
    )
    svc.catalogue.load_product_codes(admin, ProductCodeTable.from_csv(PRODUCT_CSV))
    return World(
        svc,
        clock,
        admin,
        svc.users.authenticate("tech", PASSWORD),
        svc.users.authenticate("director", PASSWORD),
        svc.users.authenticate("coord", PASSWORD),
        svc.users.authenticate("coord2", PASSWORD),
    )


def to_quarantine(w: World, din: str = "G123498654321", slot: str = "1") -> None:
    svc, tech = w.svc, w.tech
    svc.units.register_unit(tech, good_registration(din, slot))
    svc.units.transition(tech, din, "received")
    svc.units.record_processing(tech, din, {"volume_ml": 25.0, "tnc": 1.3e9, "cd34": 4.5e6}, red_cell_depleted=True)
    svc.units.record_measurement(tech, din, "pre_cryo", {"volume_ml": 25.0, "tnc": 1.25e9, "cd34": 4.4e6,
                                                         "viability_pct": 97.0})  # fmt: skip
    svc.units.transition(tech, din, "cryopreserved")
    svc.units.transition(tech, din, "quarantine")
    svc.units.record_tests(tech, din, {"abo": "a", "rh": "+", "idm_result": "negative", "sterility": "negative",
                                       "hb_screen": "normal", "segments": 2,
                                       "idm_markers": {"HBsAg": "negative", "HIV-1/2": "negative"}})  # fmt: skip
    svc.units.record_measurement(tech, din, "post_thaw", {"viable_cd34_pct": 88.0, "viable_cd45_pct": 65.0, "cfu": 140})


def to_available(w: World, din: str = "G123498654321", slot: str = "1") -> None:
    to_quarantine(w, din, slot)
    w.svc.release.release(w.director, din)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Any:
    """argon2 with production parameters takes ~0.4 s per hash here; tests use cheap parameters."""
    from argon2 import PasswordHasher

    from cordmatch.services.auth import set_password_hasher

    old = set_password_hasher(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))
    yield
    set_password_hasher(old)


@pytest.fixture
def world(store: Any) -> World:  # noqa: F811
    return make_world(store)
