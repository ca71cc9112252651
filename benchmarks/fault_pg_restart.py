"""Fault test: the PostgreSQL server restarts while clients reserve and cancel units through the REST
API. Clients must get 503 (never another 5xx) while it is down and succeed again afterwards; every
reservation answered 201 must be stored; no unit may have two active reservations; the audit chain must
verify. Loopback only; a fresh schema (dropped at the end).

CAUTION: restarts the shared PostgreSQL cluster (``pg_ctlcluster ... main restart``) once, briefly.

Run::

    python benchmarks/fault_pg_restart.py [--clients 40] [--seconds 20] [--restart-at 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_api as b


def restart_postgres() -> float:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    t = time.perf_counter()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)
    return time.perf_counter() - t


async def load(base: str, tokens: list[str], dins: list[str], seconds: float, restart_at: float) -> dict[str, object]:
    codes: dict[int, int] = {}
    created: list[int] = []
    timeline: list[tuple[float, int]] = []
    errors: list[str] = []
    t0 = time.perf_counter()

    async def worker(k: int, token: str, client: httpx.AsyncClient) -> None:
        rng = random.Random(k)
        headers = {"Authorization": f"Bearer {token}"}
        while time.perf_counter() - t0 < seconds:
            din = rng.choice(dins)
            try:
                r = await client.post(f"{base}/api/v1/reservations", json={"din": din, "patient_ref": f"R{k}"},
                                      headers=headers)  # fmt: skip
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
                await asyncio.sleep(0.2)
                continue
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            timeline.append((time.perf_counter() - t0, r.status_code))
            if r.status_code == 201:
                rid = r.json()["id"]
                created.append(rid)
                c = await client.post(f"{base}/api/v1/reservations/{rid}/cancel", json={"reason": "fault test"},
                                      headers=headers)  # fmt: skip
                codes[c.status_code] = codes.get(c.status_code, 0) + 1
            elif r.status_code == 503:
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")) / 5)

    async def restarter() -> float:
        await asyncio.sleep(restart_at)
        return await asyncio.to_thread(restart_postgres)

    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        results = await asyncio.gather(restarter(), *(worker(k, t, client) for k, t in enumerate(tokens)))
    down_s = results[0]
    first_503 = min((t for t, c in timeline if c == 503), default=None)
    last_503 = max((t for t, c in timeline if c == 503), default=None)
    ok_after = sum(1 for t, c in timeline if c in (201, 409) and last_503 is not None and t > last_503)
    return {"codes": codes, "created": created, "restart_s": down_s, "first_503": first_503,
            "last_503": last_503, "ok_after_last_503": ok_after, "client_errors": len(errors)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--units", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--restart-at", type=float, default=6.0)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    schema, url = b.make_schema(b.PG)
    proc = None
    try:
        dins, tokens = b.seed(url, a.units, a.clients)
        port = b.free_port()
        proc = b.start_server(url, port, 8, a.workers)
        out = asyncio.run(load(f"http://127.0.0.1:{port}", tokens, dins, a.seconds, a.restart_at))
        codes = out["codes"]
        assert isinstance(codes, dict)
        fivexx = {k: v for k, v in codes.items() if k >= 500 and k != 503}
        print(f"PostgreSQL restarted at {a.restart_at:.0f} s (pg_ctlcluster took {out['restart_s']:.1f} s); "
              f"{a.clients} clients for {a.seconds:.0f} s")  # fmt: skip
        print(f"answers: {dict(sorted(codes.items()))}; 5xx other than 503: {sum(fivexx.values())}; "
              f"client-side errors: {out['client_errors']}")  # fmt: skip
        print(f"503 from {out['first_503']} s to {out['last_503']} s; successful answers after the last 503: "
              f"{out['ok_after_last_503']}")  # fmt: skip
        proc.terminate()
        proc.wait(timeout=10)
        proc = None
        created = out["created"]
        assert isinstance(created, list)
        check = b.verify(url, created)
        print(f"database check: {check}")
        bad = fivexx or check["double_active"] or check["lost"] or not check["audit_ok"]
        return 1 if bad else 0
    finally:
        if proc is not None:
            proc.kill()
        b.drop_schema(b.PG, schema)


if __name__ == "__main__":
    sys.exit(main())
