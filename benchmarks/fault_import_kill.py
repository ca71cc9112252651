"""Fault test: kill -9 of the importing process at several moments of a large CSV import (SQLite and
PostgreSQL); afterwards the store must hold 0 of the file's units (all or nothing) and an intact audit
chain, and a complete import afterwards must hold every row. Loopback only; a fresh SQLite file and a
fresh PostgreSQL schema (dropped at the end).

Run::

    python benchmarks/fault_import_kill.py [--rows 50000] [--kills 0.2 0.5 0.8 0.95] [--engine both]

The kill moments are fractions of the duration of a complete import measured first on each engine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

PG = os.environ.get("CORDMATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "fault test password"
TYPING = "A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01"
IMPORTER = textwrap.dedent(
    """
    import sys
    from cordmatch.services.bank import BankService
    from cordmatch.services.bank_csv import import_units_csv
    from cordmatch.store import open_store
    url, path = sys.argv[1], sys.argv[2]
    store = open_store(url)
    svc = BankService(store)
    tech = svc.authenticate("tech", "PASSWORD")
    print("importing", flush=True)
    result = import_units_csv(svc, tech, open(path, encoding="utf-8").read())
    print("imported", result.imported, flush=True)
    """
).replace("PASSWORD", PASSWORD)


def write_csv(path: Path, rows: int, facility: str) -> None:
    from cordmatch.bank.din import issue_din

    when = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    with path.open("w", encoding="utf-8") as f:
        f.write("din,product_code,bank_code,collected_at,collection_volume_ml,collection_tnc,hla_gl,"
                "tank,rack,box,slot\n")  # fmt: skip
        for i in range(1, rows + 1):
            din = issue_din(facility, 26 + i // 999_999, i % 999_999 or 1)
            f.write(f"{din},X0001,FAULT,{when},90,1.5e9,{TYPING},T{i // 10000},R{i // 100 % 100},B,{i % 100}\n")


def seed(url: str) -> None:
    from argon2 import PasswordHasher

    from cordmatch.bank.product_codes import ProductCodeTable
    from cordmatch.services.auth import set_password_hasher
    from cordmatch.services.bank import BankService
    from cordmatch.store import open_store

    set_password_hasher(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))
    with open_store(url) as store:
        svc = BankService(store)
        svc.bootstrap_admin("admin", PASSWORD)
        admin = svc.authenticate("admin", PASSWORD)
        svc.create_user(admin, "tech", PASSWORD, "technician")
        svc.add_bank(admin, "FAULT", "Fault-test bank", accreditation="FACT-NetCord", facility_id="F0001")
        svc.load_product_codes(admin, ProductCodeTable.from_csv("code,description\nX0001,HPC Cord Blood\n"))


def state(url: str) -> tuple[int, bool, int]:
    """(units stored, audit chain intact, audit rows)."""
    from sqlalchemy import func, select

    from cordmatch.store import audit, open_store
    from cordmatch.store.models import Unit

    with open_store(url, migrate=False) as store, store.read() as s:
        units = s.execute(select(func.count(Unit.id))).scalar_one()
        report = audit.verify(s)
    return units, report.ok, report.rows


def run_import(url: str, csv: Path, kill_after: float | None) -> tuple[float, bool]:
    """Import in a subprocess; kill -9 it ``kill_after`` s after it started (None = let it finish)."""
    env = {**os.environ, "CORDMATCH_DB_BUSY_TIMEOUT": "600"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", IMPORTER, url, str(csv)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    if kill_after is None:
        out, _ = proc.communicate()
        ok = proc.returncode == 0
        if not ok:
            print(out.decode()[-2000:])
        return time.perf_counter() - t0, ok
    try:
        proc.wait(timeout=kill_after)
        return time.perf_counter() - t0, False  # finished before the kill
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return time.perf_counter() - t0, True


def one_engine(name: str, url: str, csv: Path, rows: int, kills: list[float]) -> bool:
    seed(url)
    print(f"\n{name}: a complete import of {rows:,} rows first (to time the kill moments)")
    full_s, ok = run_import(url, csv, None)
    units, chain_ok, _ = state(url)
    print(f"  complete import: {full_s:.1f} s, exit ok {ok}, units {units:,}, audit intact {chain_ok}")
    good = ok and units == rows and chain_ok
    # a second store of the same engine for the kills: the file's DINs exist in the first
    return good and _kills(name, url, csv, rows, kills, full_s)


def _kills(name: str, url: str, csv: Path, rows: int, kills: list[float], full_s: float) -> bool:
    good = True
    fresh = _fresh(name, url)
    try:
        seed(fresh)
        for frac in kills:
            at = frac * full_s
            _, killed = run_import(fresh, csv, at)
            units, chain_ok, audit_rows = state(fresh)
            partial = units not in (0, rows)
            print(f"  kill -9 at {frac:.0%} ({at:.1f} s): killed {killed}, units stored {units:,} "
                  f"(partial: {partial}), audit chain intact {chain_ok} ({audit_rows} rows)")  # fmt: skip
            good = good and not partial and chain_ok
            if units == rows:
                print("  (the import had committed before the kill; later kills test nothing new)")
                break
    finally:
        _drop(name, fresh)
    return good


_made: list[str] = []


def _fresh(name: str, url: str) -> str:
    if name == "sqlite":
        return url.replace(".sqlite3", "-kills.sqlite3")
    schema, fresh = _schema()
    _made.append(schema)
    return fresh


def _drop(name: str, url: str) -> None:
    if name != "sqlite":
        _drop_schema(_made.pop())


def _schema() -> tuple[str, str]:
    import psycopg

    schema = f"cm_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema, f"{PG}?options=-csearch_path%3D{schema}"


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--kills", type=float, nargs="+", default=[0.2, 0.5, 0.8, 0.95])
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    a = ap.parse_args()
    good = True
    with tempfile.TemporaryDirectory() as d:
        csv = Path(d) / "units.csv"
        write_csv(csv, a.rows, "F0001")
        print(f"CSV: {a.rows:,} rows, {csv.stat().st_size / 1e6:.1f} MB")
        if a.engine in ("sqlite", "both"):
            good = one_engine("sqlite", f"sqlite:///{d}/fault.sqlite3", csv, a.rows, a.kills) and good
        if a.engine in ("postgresql", "both"):
            schema, url = _schema()
            try:
                good = one_engine("postgresql", url, csv, a.rows, a.kills) and good
            finally:
                _drop_schema(schema)
    print("\nresult:", "0 partial imports, chains intact" if good else "FAILED")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
