"""Benchmark: the REST API on loopback against PostgreSQL with 50 concurrent clients.

Measures p50/p99 latency of the unit search endpoint (``POST /api/v1/search``
when this build has it, else the units listing ``GET /api/v1/units?state=available``) and of
reservations (``POST /api/v1/reservations``, answered 201 or 409 when another client was faster),
reservations per second, and checks in the database afterwards that no unit ever has two active
reservations and that every 201 is one stored reservation (no lost update). Each figure is also given
as a ratio to a one-client baseline measured in the same run.

The server is uvicorn in a subprocess on a free loopback port; the database is a fresh schema in
PostgreSQL (dropped at the end). Bounded: ``--clients`` workers, ``--requests`` each, ``--timeout`` s.
Run::

    python benchmarks/bench_api.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

PG = os.environ.get("CORDMATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CENTRES = 5
PATIENT = "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01"
TYPINGS = (
    PATIENT,
    "A*02:01+A*03:01^B*07:02+B*44:02^C*05:01+C*07:02^DRB1*15:01+DRB1*04:01",
    "A*01:01+A*24:02^B*08:01+B*35:01^C*04:01+C*07:01^DRB1*03:01+DRB1*11:01",
    "A*02:01+A*11:01^B*15:01+B*51:01^C*03:04+C*15:02^DRB1*04:04+DRB1*13:01",
)


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # seconds
    codes: dict[int, int] = field(default_factory=dict)
    created: list[int] = field(default_factory=list)  # reservation ids answered 201
    wall: float = 0.0

    def add(self, seconds: float, code: int) -> None:
        self.latencies.append(seconds)
        self.codes[code] = self.codes.get(code, 0) + 1

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000 if xs else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_schema(base: str) -> tuple[str, str]:
    import psycopg

    schema = f"cm_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    return schema, f"{base}{sep}options=-csearch_path%3D{schema}"


def drop_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def seed(url: str, units: int, clients: int) -> tuple[list[str], list[str]]:
    """Bank, product code, one coordinator per centre (a token per client), ``units`` available units."""
    from argon2 import PasswordHasher

    from cordmatch.bank.din import issue_din
    from cordmatch.bank.product_codes import ProductCodeTable
    from cordmatch.services.auth import set_password_hasher
    from cordmatch.services.bank import BankService
    from cordmatch.store import open_store

    set_password_hasher(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))  # seeding only
    store = open_store(url)
    svc = BankService(store)
    pw = "benchmark password"
    admin = svc.users.bootstrap_admin("admin", pw) and svc.users.authenticate("admin", pw)
    svc.users.create_user(admin, "tech", pw, "technician")
    svc.users.create_user(admin, "director", pw, "director")
    for c in range(CENTRES):
        svc.users.create_user(admin, f"coord{c}", pw, "coordinator", centre=f"Centre {c}")
    svc.catalogue.add_bank(admin, "BENCH", "Benchmark bank", accreditation="FACT-NetCord", facility_id="X9998")
    svc.catalogue.load_product_codes(
        admin, ProductCodeTable.from_csv("code,description\nX0001,HPC Cord Blood (bench)\n")
    )
    tech, director = svc.users.authenticate("tech", pw), svc.users.authenticate("director", pw)
    now = svc.clock()
    dins = []
    for i in range(1, units + 1):
        din = str(issue_din("X9998", 26, i))
        svc.units.register_unit(tech, {
            "din": din, "product_code": "X0001", "bank_code": "BENCH",
            "collected_at": now - timedelta(days=30), "collection_volume_ml": 90.0,
            "hla_gl": TYPINGS[i % len(TYPINGS)],
            "storage": {"tank": "T1", "rack": str(i // 100), "box": "B", "slot": str(i)},
        })  # fmt: skip
        svc.units.transition(tech, din, "received")
        svc.units.record_processing(tech, din, {"volume_ml": 25.0, "tnc": 1.5e9, "cd34": 5e6}, red_cell_depleted=True)
        svc.units.record_measurement(tech, din, "pre_cryo", {"tnc": 1.4e9, "cd34": 4.8e6, "viability_pct": 96.0})
        svc.units.transition(tech, din, "cryopreserved")
        svc.units.transition(tech, din, "quarantine")
        svc.units.record_tests(tech, din, {"abo": "O", "rh": "pos", "idm_result": "negative", "sterility": "negative",
                                           "hb_screen": "normal", "segments": 2})  # fmt: skip
        svc.units.record_measurement(
            tech, din, "post_thaw", {"viable_cd34_pct": 90.0, "viable_cd45_pct": 70.0, "cfu": 99}
        )
        svc.release.release(director, din)
        dins.append(din)
    tokens = []
    for k in range(clients):
        who = svc.users.authenticate(f"coord{k % CENTRES}", pw)
        tokens.append(svc.users.issue_token(who, f"bench client {k}").token)
    store.close()
    return dins, tokens


SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    uvicorn.run("cordmatch.server:app_from_env", factory=True, host="127.0.0.1", port=port, workers=workers,
                log_level="warning", access_log=False)
    """
)


def start_server(url: str, port: int, pool: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CORDMATCH_DB": url, "CORDMATCH_DB_POOL": str(pool)}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(workers)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                raise SystemExit("server did not start") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 60 s")


async def search_load(base: str, tokens: list[str], n: int, use_search: bool, timeout: float) -> Run:
    run = Run()
    body = {"patient_gl": PATIENT, "weight_kg": 20}

    async def worker(token: str, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(n):
            t = time.perf_counter()
            if use_search:
                r = await client.post(f"{base}/api/v1/search", json=body, headers=headers)
            else:
                r = await client.get(f"{base}/api/v1/units", params={"state": "available", "limit": 20},
                                     headers=headers)  # fmt: skip
            run.add(time.perf_counter() - t, r.status_code)

    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker(tok, client) for tok in tokens)), timeout)
        run.wall = time.perf_counter() - t0
    return run


async def reserve_load(
    base: str, tokens: list[str], dins: list[str], n: int, timeout: float, seed: int, cancel: float
) -> Run:
    """Each client tries ``n`` reservations of random units; a ``cancel`` share of its successes is
    cancelled again at once (so units return and clients keep competing for them)."""
    run = Run()

    async def worker(k: int, token: str, client: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + k)
        headers = {"Authorization": f"Bearer {token}"}
        for i in range(n):
            din = rng.choice(dins)
            t = time.perf_counter()
            r = await client.post(f"{base}/api/v1/reservations", json={"din": din, "patient_ref": f"B{k}-{i}"},
                                  headers=headers)  # fmt: skip
            run.add(time.perf_counter() - t, r.status_code)
            if r.status_code == 201:
                rid = r.json()["id"]
                run.created.append(rid)
                if rng.random() < cancel:
                    c = await client.post(f"{base}/api/v1/reservations/{rid}/cancel", json={"reason": "bench"},
                                          headers=headers)  # fmt: skip
                    assert c.status_code == 200, c.text

    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker(k, t, client) for k, t in enumerate(tokens))), timeout)
        run.wall = time.perf_counter() - t0
    return run


def verify(url: str, created: list[int]) -> dict[str, Any]:
    from sqlalchemy import func, select

    from cordmatch.store import open_store
    from cordmatch.store.audit import verify as verify_chain
    from cordmatch.store.models import Reservation, Unit

    store = open_store(url, migrate=False)
    try:
        with store.transaction() as s:
            doubles = s.execute(
                select(Reservation.unit_id).where(Reservation.status == "active")
                .group_by(Reservation.unit_id).having(func.count() > 1)
            ).all()  # fmt: skip
            active = s.execute(select(func.count()).where(Reservation.status == "active")).scalar_one()
            reserved = s.execute(select(func.count()).where(Unit.state == "reserved")).scalar_one()
            stored = s.execute(select(func.count(Reservation.id))).scalar_one()
            ids = set(s.execute(select(Reservation.id)).scalars())
            chain = verify_chain(s)
    finally:
        store.close()
    return {
        "double_active": len(doubles),
        "active": active,
        "units_reserved": reserved,
        "stored": stored,
        "answered_201": len(created),
        "lost": len(set(created) - ids),
        "audit_ok": chain.ok,
        "audit_rows": chain.rows,
    }


def line(name: str, run: Run, base: Run | None = None) -> str:
    ok = sum(v for k, v in run.codes.items() if k < 400)
    ratio = f"  p50 x{run.pct(50) / base.pct(50):.1f} of 1 client" if base else ""
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(run.codes.items()))
    return (f"{name:42} n={len(run.latencies):5}  p50 {run.pct(50):7.1f} ms  p99 {run.pct(99):7.1f} ms  "
            f"{len(run.latencies) / run.wall:7.1f} req/s  [{codes}] ok={ok}{ratio}")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg", default=PG, help="PostgreSQL base URL (a fresh schema is created in it)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20, help="requests per client and phase")
    ap.add_argument("--units", type=int, default=60, help="available units (fewer = more contention)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per phase at most")
    ap.add_argument("--cancel", type=float, default=0.9, help="share of successful reservations cancelled")
    ap.add_argument("--pool", type=int, default=8, help="database pool per server process (+10 overflow)")
    ap.add_argument("--workers", type=int, default=2, help="server processes (uvicorn workers)")
    args = ap.parse_args()
    import importlib.util

    use_search = importlib.util.find_spec("cordmatch.selection") is not None
    schema, url = make_schema(args.pg)
    proc = None
    try:
        t = time.perf_counter()
        dins, tokens = seed(url, args.units, args.clients)
        print(f"seeded {len(dins)} available units and {len(tokens)} client tokens in {time.perf_counter() - t:.1f} s")
        port = free_port()
        proc = start_server(url, port, args.pool, args.workers)
        base = f"http://127.0.0.1:{port}"
        what = "POST /api/v1/search" if use_search else "GET /api/v1/units (search not in build)"
        asyncio.run(search_load(base, tokens[:5], 3, use_search, args.timeout))  # warm-up
        s1 = asyncio.run(search_load(base, tokens[:1], args.requests, use_search, args.timeout))
        sN = asyncio.run(search_load(base, tokens, args.requests, use_search, args.timeout))
        r1 = asyncio.run(reserve_load(base, tokens[:1], dins, args.requests, args.timeout, 1, args.cancel))
        created_before = list(r1.created)
        rN = asyncio.run(reserve_load(base, tokens, dins, args.requests, args.timeout, 2, args.cancel))
        print(f"\nREST API on loopback, PostgreSQL, {args.workers} uvicorn workers, {args.clients} concurrent clients, "
              f"{args.requests} requests each")  # fmt: skip
        print(line(f"{what[:40]} (1 client)", s1))
        print(line(f"{what[:40]} ({args.clients} clients)", sN, s1))
        print(line("POST /api/v1/reservations (1 client)", r1))
        print(line(f"POST /api/v1/reservations ({args.clients} clients)", rN, r1))
        print(f"reservations per second ({args.clients} clients, 201 only): {len(rN.created) / rN.wall:.1f} "
              f"(1 client: {len(r1.created) / r1.wall:.1f})")  # fmt: skip
        proc.terminate()  # free its database connections before checking
        proc.wait(timeout=10)
        proc = None
        check = verify(url, created_before + rN.created)
        print(f"database check: {check}")
        bad = check["double_active"] or check["lost"] or check["active"] != check["units_reserved"]
        bad = bad or check["stored"] != check["answered_201"] or not check["audit_ok"]
        print("ZERO double reservations, no lost update" if not bad else "FAILED: see the database check")
        return 1 if bad else 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        drop_schema(args.pg, schema)


if __name__ == "__main__":
    raise SystemExit(main())
