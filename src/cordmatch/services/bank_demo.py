"""Demo data for ``cordmatch serve --demo``: banks, one user per role, product codes and a few units
in different lifecycle states. Idempotent: running it again adds only what is missing.

Every unit goes through the same service calls a bank would make (register, process, test, release,
reserve), so the demo's audit trail is a real one. The product codes and DINs are made up (the facility
id ``X9999`` is not an ICCBBA-assigned one); passwords are demo passwords, printed by ``serve --demo``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cordmatch.bank.din import issue_din
from cordmatch.bank.product_codes import ProductCodeTable
from cordmatch.errors import ConflictError, NotFoundError, PermissionDeniedError
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService

DEMO_FACILITY = "X9999"
DEMO_USERS: tuple[tuple[str, str, str | None], ...] = (
    # user name (= role), role, transplant centre
    ("admin", "admin", None),
    ("director", "director", None),
    ("technician", "technician", None),
    ("coordinator", "coordinator", "Demo Transplant Centre"),
)
DEMO_PRODUCT_CODES = (
    "code,description\n"
    "X0001,HPC Cord Blood (demo code; real codes are licensed from ICCBBA)\n"
    "X0002,HPC Cord Blood red cell reduced (demo code)\n"
)
TYPINGS = (
    "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01",
    "A*02:01+A*03:01^B*07:02+B*44:02^C*05:01+C*07:02^DRB1*15:01+DRB1*04:01",
    "A*01:01+A*24:02^B*08:01+B*35:01^C*04:01+C*07:01^DRB1*03:01+DRB1*11:01",
    "A*02:01+A*11:01^B*15:01+B*51:01^C*03:04+C*15:02^DRB1*04:04+DRB1*13:01",
    "A*03:01+A*29:02^B*07:02+B*44:03^C*07:02+C*16:01^DRB1*07:01+DRB1*15:01",
    "A*01:01+A*02:01^B*08:01+B*44:02^C*05:01+C*07:01^DRB1*03:01+DRB1*04:01",
)
# (sequence, target state, TNC pre-cryo cells, ABO, Rh)
PLAN: tuple[tuple[int, str, float, str, str], ...] = (
    (1, "available", 1.8e9, "O", "pos"),
    (2, "available", 1.2e9, "A", "pos"),
    (3, "available", 2.4e9, "B", "neg"),
    (4, "available", 1.05e9, "O", "neg"),
    (5, "reserved", 1.5e9, "A", "neg"),
    (6, "quarantine", 1.6e9, "AB", "pos"),
    (7, "quarantine", 0.6e9, "O", "pos"),  # fails the TNC criterion: shows a failing checklist
    (8, "processed", 1.4e9, "A", "pos"),
    (9, "received", 1.3e9, "O", "pos"),
    (10, "collected", 1.7e9, "B", "pos"),
    (11, "discarded", 0.4e9, "O", "pos"),
)
ORDER = ("collected", "received", "processed", "cryopreserved", "quarantine", "available", "reserved")


@dataclass
class DemoResult:
    passwords: dict[str, str] = field(default_factory=dict)  # user name -> demo password
    created_units: list[str] = field(default_factory=list)
    existing_units: int = 0


def demo_password(username: str) -> str:
    return f"{username}-demo-2026"


def _slot(seq: int) -> dict[str, str]:
    return {"tank": "T1", "rack": f"R{1 + (seq - 1) // 10}", "box": "B1", "slot": str(seq)}


def seed_demo(svc: BankService, *, year: int | None = None) -> DemoResult:
    """Add the demo banks, users, product codes and units that are missing; returns the passwords."""
    result = DemoResult(passwords={u: demo_password(u) for u, _, _ in DEMO_USERS})
    with contextlib.suppress(ConflictError):
        svc.bootstrap_admin("admin", demo_password("admin"))
    try:
        admin = svc.authenticate("admin", demo_password("admin"))
    except PermissionDeniedError:
        raise ConflictError(
            "this database has users that are not the demo's: use --demo with a fresh database "
            "(e.g. --db demo.sqlite3)",
            where="--demo",
        ) from None
    existing = {u.username for u in svc.list_users(admin)}
    for username, role, centre in DEMO_USERS:
        if username not in existing:
            svc.create_user(admin, username, demo_password(username), role, centre=centre)
    banks = {b.code for b in svc.list_banks(admin)}
    if "DEMO1" not in banks:
        svc.add_bank(admin, "DEMO1", "Demo Public Cord Blood Bank", accreditation="FACT-NetCord",
                     facility_id=DEMO_FACILITY)  # fmt: skip
    if "DEMO2" not in banks:
        svc.add_bank(admin, "DEMO2", "Demo Regional Cord Blood Bank", accreditation="none")
    svc.load_product_codes(admin, ProductCodeTable.from_csv(DEMO_PRODUCT_CODES))
    tech = svc.authenticate("technician", demo_password("technician"))
    director = svc.authenticate("director", demo_password("director"))
    coord = svc.authenticate("coordinator", demo_password("coordinator"))
    yy = (year if year is not None else svc.clock().year) % 100
    for seq, target, tnc, abo, rh in PLAN:
        din = str(issue_din(DEMO_FACILITY, yy, seq))
        try:
            svc.get_unit(tech, din)
            result.existing_units += 1
            continue
        except NotFoundError:
            pass
        _make_unit(svc, tech, director, coord, din, seq, target, tnc, abo, rh)
        result.created_units.append(din)
    return result


def _make_unit(
    svc: BankService,
    tech: Principal,
    director: Principal,
    coord: Principal,
    din: str,
    seq: int,
    target: str,
    tnc: float,
    abo: str,
    rh: str,
) -> None:
    now = svc.clock()
    reg: dict[str, Any] = {
        "din": din,
        "product_code": "X0001",
        "bank_code": "DEMO1" if seq % 3 else "DEMO2",
        "collected_at": now - timedelta(days=40 - seq, hours=seq),
        "collection_volume_ml": 80.0 + seq * 3,
        "collection": {"volume_ml": 80.0 + seq * 3, "tnc": tnc * 1.25, "cd34": tnc * 0.004, "viability_pct": 97.0},
        "hla_gl": TYPINGS[seq % len(TYPINGS)],
        "storage": _slot(seq),
    }
    svc.register_unit(tech, reg)
    if target == "discarded":
        svc.discard(tech, din, "collection volume too low for processing (demo)")
        return
    reached = ORDER.index(target)
    if reached >= 1:
        svc.transition(tech, din, "received")
    if reached >= 2:
        svc.record_processing(tech, din, {"volume_ml": 25.0, "tnc": tnc * 1.05, "cd34": tnc * 0.0038},
                              red_cell_depleted=True)  # fmt: skip
    if reached >= 3:
        svc.record_measurement(tech, din, "pre_cryo", {"volume_ml": 25.0, "tnc": tnc, "cd34": tnc * 0.0037,
                                                       "viability_pct": 96.0})  # fmt: skip
        svc.transition(tech, din, "cryopreserved")
    if reached >= 4:
        svc.transition(tech, din, "quarantine")
        svc.record_tests(tech, din, {"abo": abo, "rh": rh, "idm_result": "negative", "sterility": "negative",
                                     "hb_screen": "normal", "segments": 2})  # fmt: skip
        svc.record_measurement(tech, din, "post_thaw", {"viable_cd34_pct": 90.0, "viable_cd45_pct": 70.0,
                                                        "cfu": 150})  # fmt: skip
    if reached >= 5:
        svc.release(director, din)
    if reached >= 6:
        svc.reserve(coord, din, "DEMO-PATIENT-1", request_ct=True, note="demo reservation")
