"""Stress: 50 concurrent clients (threads, each on its own connection) reserve and cancel a few units.

Never two active reservations for one unit (also over time: no overlapping reservation periods), and
no lost update (each unit's version grew by exactly the number of successful changes to it).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from cordmatch.errors import ConflictError
from cordmatch.services.bank import BankService
from cordmatch.store import audit, open_store
from cordmatch.store.models import AuditRow, Reservation, Unit

from .conftest import World, to_available

CLIENTS = 50
ROUNDS = {"postgresql": 6, "sqlite": 3}  # SQLite serialises all writers: fewer rounds
UNITS = [f"G1234980000{i:02d}" for i in range(1, 5)]


def test_concurrent_reservations(world: World, db_url: str) -> None:
    for i, din in enumerate(UNITS):
        to_available(world, din, slot=str(i))
    store = open_store(db_url, pool_size=CLIENTS + 5)
    rounds = ROUNDS[store.dialect]
    svc = BankService(store)  # real clock: reservation periods are compared below
    coords = [world.coord, world.coord2]

    with store.transaction() as s:
        v0 = {u.din: u.version for u in s.execute(select(Unit)).scalars()}
        audit0 = s.execute(select(func.count(AuditRow.id))).scalar_one()

    changes: Counter[str] = Counter()
    conflicts = Counter[str]()
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def client(k: int) -> None:
        rng = random.Random(k)
        actor = coords[k % 2]
        barrier.wait()
        for _ in range(rounds):
            din = rng.choice(UNITS)
            try:
                r = svc.reservations.reserve(actor, din, f"patient-{k}")
            except ConflictError:
                with lock:
                    conflicts["reserve"] += 1
                continue
            except BaseException as exc:  # pragma: no cover - what the test must not see
                errors.append(exc)
                return
            with lock:
                changes[din] += 1
            try:
                svc.reservations.cancel_reservation(actor, r.id, "stress test")
                with lock:
                    changes[din] += 1
            except BaseException as exc:  # pragma: no cover
                errors.append(exc)
                return

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(changes.values()) > 0 and conflicts["reserve"] > 0  # there was contention

    with store.transaction() as s:
        units = {u.id: u for u in s.execute(select(Unit)).scalars()}
        for u in units.values():
            # no lost update: every successful reserve/cancel is one version step
            assert u.version - v0[u.din] == changes[u.din], u.din
        rows = s.execute(select(Reservation).order_by(Reservation.unit_id, Reservation.created_at)).scalars().all()
        by_unit: dict[int, list[Any]] = {}
        for r in rows:
            by_unit.setdefault(r.unit_id, []).append(r)
        for unit_id, rs in by_unit.items():
            assert sum(r.status == "active" for r in rs) <= 1
            for a, b in itertools.pairwise(rs):
                assert a.ended_at is not None and a.ended_at <= b.created_at, units[unit_id].din
        n_audit = s.execute(select(func.count(AuditRow.id))).scalar_one()
        assert n_audit - audit0 == sum(changes.values())
        assert audit.verify(s).ok
    store.close()


def test_concurrent_typings_never_fork_the_history(world: World, db_url: str) -> None:
    """Typings supersede under the unit lock: one current typing, a linear history, no lost version."""
    from cordmatch.store.models import HlaTyping

    din = UNITS[0]
    to_available(world, din, slot="0")
    store = open_store(db_url, pool_size=CLIENTS + 5)
    svc = BankService(store)
    v0 = svc.catalogue.get_unit(world.tech, din).version
    alleles = ["A*01:01", "A*02:01", "A*03:01", "A*11:01", "A*24:02"]
    errors: list[BaseException] = []
    barrier = threading.Barrier(CLIENTS)

    def client(k: int) -> None:
        barrier.wait()
        try:
            svc.units.record_typing(world.tech, din, f"{alleles[k % 5]}+{alleles[(k // 5) % 5]}", kind="extended")
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.transaction() as s:
        typings = s.execute(select(HlaTyping).where(HlaTyping.unit_id == Unit.id, Unit.din == din)).scalars().all()
        current = [t for t in typings if t.superseded_by is None]
        assert len(typings) == CLIENTS + 1 and len(current) == 1
        successors = [t.superseded_by for t in typings if t.superseded_by is not None]
        assert len(successors) == len(set(successors)) == CLIENTS  # linear chain, no fork
    assert svc.catalogue.get_unit(world.tech, din).version == v0 + CLIENTS
    store.close()
