"""Demo bank contents for `cordmatch serve --demo` and tutorials (invented units, not real people).

``seed_demo(svc)`` creates demo users (one per role), a demo bank, a demo product code (made up: real
codes are ICCBBA-licensed) and units in every lifecycle state, all through the services (audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cordmatch.bank.din import issue_din
from cordmatch.bank.product_codes import ProductCodeTable
from cordmatch.demo_data import DEMO_UNITS
from cordmatch.errors import ConflictError
from cordmatch.services.bank import BankService

DEMO_PASSWORD = "demo-password"  # demo accounts only, printed by `serve --demo`
DEMO_USERS = {"admin": "admin", "tech": "technician", "director": "director", "coord": "coordinator"}
DEMO_BANK = "DEMO"
DEMO_FIN = "Z9999"


@dataclass(frozen=True, slots=True)
class DemoSeed:
    users: dict[str, str]  # user name -> role (password DEMO_PASSWORD)
    dins: dict[str, str]  # DIN -> state


def seed_demo(svc: BankService) -> DemoSeed:
    """Fill an empty store with demo data; ConflictError when it already has users."""
    svc.users.bootstrap_admin("admin", DEMO_PASSWORD)
    admin = svc.users.authenticate("admin", DEMO_PASSWORD)
    for name, role in DEMO_USERS.items():
        if name != "admin":
            svc.users.create_user(
                admin, name, DEMO_PASSWORD, role, centre="Demo Transplant Centre" if name == "coord" else None
            )
    svc.catalogue.add_bank(
        admin, DEMO_BANK, "Demo Public Cord Blood Bank", accreditation="FACT-NetCord", facility_id=DEMO_FIN,
        contact="Search desk (demo, fictitious): +00 000 000 000, search-desk@bank.invalid",
    )  # fmt: skip
    svc.catalogue.load_product_codes(
        admin, ProductCodeTable.from_rows([("Z0001", "HPC, Cord Blood (demo code, not ICCBBA)")])
    )
    tech = svc.users.authenticate("tech", DEMO_PASSWORD)
    director = svc.users.authenticate("director", DEMO_PASSWORD)
    coord = svc.users.authenticate("coord", DEMO_PASSWORD)
    now = svc.clock()
    targets = ["available", "available", "available", "available", "reserved", "quarantine", "collected",
               "discarded"]  # fmt: skip
    typings = list(DEMO_UNITS.values())
    dins: dict[str, str] = {}
    for i, target in enumerate(targets, start=1):
        din = str(issue_din(DEMO_FIN, now.year, i))
        tnc = (0.9 + 0.15 * i) * 1e9
        svc.units.register_unit(tech, {
            "din": din, "product_code": "Z0001", "bank_code": DEMO_BANK,
            "collected_at": now - timedelta(days=400 * i), "collection_volume_ml": 70.0 + 4 * i,
            "collection": {"volume_ml": 70.0 + 4 * i, "tnc": tnc * 1.2, "cd34": tnc * 0.004},
            "hla_gl": typings[(i - 1) % len(typings)],
            "red_cell_depleted": i != 3,
            "storage": {"tank": "1", "rack": str(1 + i // 10), "box": "A", "slot": str(i)},
        })  # fmt: skip
        dins[din] = target
        if target == "collected":
            continue
        if target == "discarded":
            svc.units.discard(tech, din, "demo: bacterial contamination on culture")
            continue
        svc.units.transition(tech, din, "received")
        svc.units.record_processing(tech, din, {"volume_ml": 25.0, "tnc": tnc, "cd34": tnc * 0.0038},
                                    red_cell_depleted=i != 3)  # fmt: skip
        svc.units.record_measurement(tech, din, "pre_cryo", {"volume_ml": 25.0, "tnc": tnc, "cd34": tnc * 0.0037,
                                                             "viability_pct": 97.0})  # fmt: skip
        svc.units.transition(tech, din, "cryopreserved")
        svc.units.transition(tech, din, "quarantine")
        svc.units.record_tests(tech, din, {"abo": "OABO"[i % 4] if i % 4 != 3 else "AB",
                                           "rh": "pos" if i % 3 else "neg",
                                           "idm_result": "negative", "sterility": "negative", "hb_screen": "normal",
                                           "segments": 2})  # fmt: skip
        if target == "quarantine":
            continue
        svc.units.record_measurement(tech, din, "post_thaw", {"viable_cd34_pct": 80.0 + i, "viable_cd45_pct": 60.0,
                                                              "cfu": 100.0 + i})  # fmt: skip
        svc.release.release(director, din)
        if target == "reserved":
            svc.reservations.reserve(coord, din, "DEMO-PATIENT-1", request_ct=True)
    return DemoSeed(dict(DEMO_USERS), dins)


def seed_demo_if_empty(svc: BankService) -> DemoSeed | None:
    """Seed when the store has no users yet; None when it was already set up."""
    try:
        return seed_demo(svc)
    except ConflictError:
        return None
