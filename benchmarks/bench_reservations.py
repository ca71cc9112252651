"""Benchmark: reservations per second with 50 concurrent clients on PostgreSQL, zero double reservations.

Each client is a thread with its own connection calling ``BankService.reservations.reserve`` then
``cancel_reservation`` (every call: role check, row lock, audit row, commit). Two workloads:
``spread`` (clients pick among many units: little contention) and ``hot`` (10 units: heavy
contention, most attempts are refused with ConflictError). The baseline is one client doing the
same in the same run; the ratio makes the figure comparable across machines. Afterwards the store is
checked: never two active reservations for a unit, no overlapping reservation periods, every
successful change is one version step (no lost update), and the audit chain verifies.

Run (PostgreSQL at 127.0.0.1:5432, trust auth; a scratch schema is created and dropped):
    python benchmarks/bench_reservations.py [--clients 50] [--seconds 10] [--pg URL]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import func, select

from cordmatch.bank.din import issue_din
from cordmatch.errors import ConflictError
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService
from cordmatch.store import audit, open_store
from cordmatch.store.models import AuditRow, Bank, ProductCode, Reservation, Unit, User
from cordmatch.store.types import utcnow


def seed(svc: BankService, n_units: int) -> list[Principal]:
    """Available units and coordinators, inserted directly (the setup is not what is measured)."""
    from cordmatch.bank.roles import Role
    from cordmatch.services.auth import hash_password

    with svc.store.transaction() as s:
        bank = Bank(code="BENCH", name="Benchmark bank", accreditation="FACT-NetCord")
        s.add_all([bank, ProductCode(code="X0001", description="benchmark product")])
        s.flush()
        users = [User(username=f"coord{i}", role="coordinator", password_hash=hash_password("benchmark-pw"),
                      centre=f"Centre {i}") for i in range(2)]  # fmt: skip
        s.add_all(users)
        collected = datetime(2025, 1, 1, tzinfo=UTC)
        for i in range(1, n_units + 1):
            s.add(Unit(din=str(issue_din("B0001", 25, i)), product_code="X0001", bank_id=bank.id, state="available",
                       collected_at=collected, segments=1, exceptional_release=False))  # fmt: skip
        s.flush()
        return [Principal(u.id, u.username, Role.COORDINATOR, u.centre) for u in users]


def run(svc: BankService, actors: list[Principal], dins: list[str], clients: int, seconds: float) -> dict[str, Any]:
    stop = time.perf_counter() + seconds
    lat: list[float] = []
    counts: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        rng = random.Random(k)
        actor = actors[k % len(actors)]
        mine_l: list[float] = []
        mine: Counter[str] = Counter()
        mine_changes: Counter[str] = Counter()
        barrier.wait()
        while time.perf_counter() < stop:
            din = rng.choice(dins)
            t0 = time.perf_counter()
            try:
                r = svc.reservations.reserve(actor, din, f"patient-{k}")
            except ConflictError:
                mine["refused"] += 1
                continue
            except BaseException as exc:
                errors.append(exc)
                return
            mine_l.append(time.perf_counter() - t0)
            mine["reserved"] += 1
            mine_changes[din] += 1
            svc.reservations.cancel_reservation(actor, r.id, "benchmark")
            mine_changes[din] += 1
        with lock:
            lat.extend(mine_l)
            counts.update(mine)
            changes.update(mine_changes)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t_start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t_start
    if errors:
        raise errors[0]
    lat.sort()
    return {
        "clients": clients,
        "seconds": elapsed,
        "reserved": counts["reserved"],
        "refused": counts["refused"],
        "per_s": counts["reserved"] / elapsed,
        "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan"),
        "changes": changes,
    }


def check(svc: BankService, v0: dict[str, int], changes: Counter[str], audit0: int) -> tuple[int, int]:
    """(double reservations, lost updates) found in the store after the run; both must be 0."""
    doubles = lost = 0
    with svc.store.transaction() as s:
        units = {u.id: u for u in s.execute(select(Unit)).scalars()}
        for u in units.values():
            lost += u.version - v0[u.din] != changes[u.din]
        rs = s.execute(select(Reservation).order_by(Reservation.unit_id, Reservation.created_at)).scalars().all()
        by_unit: dict[int, list[Reservation]] = {}
        for r in rs:
            by_unit.setdefault(r.unit_id, []).append(r)
        for rows in by_unit.values():
            doubles += max(0, sum(r.status == "active" for r in rows) - 1)
            for a, b in itertools.pairwise(rows):
                doubles += a.ended_at is None or a.ended_at > b.created_at
        n_audit = s.execute(select(func.count(AuditRow.id))).scalar_one()
        lost += n_audit - audit0 != sum(changes.values())
        if not audit.verify(s).ok:
            raise SystemExit("audit chain broken after the run")
    return doubles, lost


def versions(svc: BankService) -> tuple[dict[str, int], int]:
    with svc.store.transaction() as s:
        v0 = {u.din: u.version for u in s.execute(select(Unit)).scalars()}
        return v0, s.execute(select(func.count(AuditRow.id))).scalar_one()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    schema = f"cm_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = args.pg.replace("postgresql://", "postgresql+psycopg://", 1) + f"?options=-csearch_path%3D{schema}"
    store = open_store(url, pool_size=args.clients + 5)
    try:
        svc = BankService(store)
        actors = seed(svc, args.units)
        all_dins = [str(issue_din("B0001", 25, i)) for i in range(1, args.units + 1)]
        rows = []
        for name, dins in (("spread", all_dins), ("hot", all_dins[:10])):
            for clients in (1, args.clients):
                v0, a0 = versions(svc)
                res = run(svc, actors, dins, clients, args.seconds)
                doubles, lost = check(svc, v0, res["changes"], a0)
                rows.append((name, res, doubles, lost))
        print(f"PostgreSQL reservations (reserve + cancel per success), {args.seconds:.0f} s per run, "
              f"{args.units} units; started {utcnow():%Y-%m-%d %H:%M} UTC")  # fmt: skip
        print(f"{'workload':8} {'clients':>7} {'reserved':>9} {'refused':>8} {'res/s':>8} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'vs 1':>6} {'double':>6} {'lost':>5}")  # fmt: skip
        base: dict[str, float] = {}
        for name, res, doubles, lost in rows:
            if res["clients"] == 1:
                base[name] = res["per_s"]
            ratio = res["per_s"] / base[name] if base.get(name) else float("nan")
            print(f"{name:8} {res['clients']:7d} {res['reserved']:9d} {res['refused']:8d} {res['per_s']:8.1f} "
                  f"{res['p50_ms']:8.1f} {res['p99_ms']:8.1f} {ratio:6.2f} {doubles:6d} {lost:5d}")  # fmt: skip
        total_doubles = sum(r[2] for r in rows)
        total_lost = sum(r[3] for r in rows)
        print(f"double reservations: {total_doubles}; lost updates: {total_lost}")
        if total_doubles or total_lost:
            raise SystemExit(1)
    finally:
        store.close()
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
