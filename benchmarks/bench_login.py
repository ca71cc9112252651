"""Benchmark: log-in under attack on a real server (production argon2 parameters, SQLite, loopback).

Prints the server's peak memory (VmHWM) before and after ``--clients`` concurrent failed log-ins (argon2
is bounded to a few slots), the median answer time for an unknown, a deactivated and an active account
with a wrong password (they should be alike: no account-existence leak), and the statuses of repeated
failed log-ins on one account (401 until the lock-out, then 429 with Retry-After).

Run::

    python benchmarks/bench_login.py [--clients 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_api import free_port

SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from cordmatch.server import create_app
    from cordmatch.services.throttle import Throttle
    app = create_app(sys.argv[1], search_backend=None)
    app.state.bank.throttle = Throttle(address_failures="10000/minute")  # one address plays every client here
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
    """
)
PW = "benchmark password"


def seed(db: str) -> None:
    from cordmatch.services.bank import BankService
    from cordmatch.store import open_store

    with open_store(db) as store:
        svc = BankService(store)
        svc.users.bootstrap_admin("admin", PW)
        admin = svc.users.authenticate("admin", PW)
        for name in ("alice", "bob", "gone"):
            svc.users.create_user(admin, name, PW, "technician")
        svc.users.set_user_active(admin, "gone", False)


def peak_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


async def logins(base: str, names: list[str]) -> list[tuple[int, float]]:
    async with httpx.AsyncClient(timeout=120) as c:

        async def one(name: str) -> tuple[int, float]:
            t = time.perf_counter()
            r = await c.post(f"{base}/api/v1/auth/token", json={"username": name, "password": "wrong password"})
            return r.status_code, time.perf_counter() - t

        return list(await asyncio.gather(*(one(n) for n in names)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=40)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        db = f"{d}/login.sqlite3"
        seed(db)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", SERVER, db, str(port)])
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/login", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            before = peak_kib(proc.pid)
            t = time.perf_counter()
            burst = asyncio.run(logins(base, [f"nobody{i}" for i in range(a.clients)]))
            took = time.perf_counter() - t
            after = peak_kib(proc.pid)
            codes = {c: sum(1 for x, _ in burst if x == c) for c in sorted({c for c, _ in burst})}
            print(
                f"{a.clients} concurrent failed log-ins: answers {codes} in {took:.1f} s; server peak memory "
                f"{before / 1024:.0f} MiB before, {after / 1024:.0f} MiB after (+{(after - before) / 1024:.0f})"
            )
            timing = {}
            for name in ("someone-unknown", "gone", "bob"):
                times = [asyncio.run(logins(base, [f"{name}"]))[0][1] for _ in range(7)]
                timing[name] = statistics.median(times) * 1000
            print("median answer, wrong password: unknown {:.0f} ms, deactivated {:.0f} ms, active {:.0f} ms".format(
                timing["someone-unknown"], timing["gone"], timing["bob"]))  # fmt: skip
            seq = [asyncio.run(logins(base, ["alice"]))[0][0] for _ in range(7)]
            r = httpx.post(f"{base}/api/v1/auth/token", json={"username": "alice", "password": PW})
            print(
                f"7 failed log-ins on one account: {seq}; then the right password: {r.status_code} "
                f"(Retry-After {r.headers.get('retry-after')} s)"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
