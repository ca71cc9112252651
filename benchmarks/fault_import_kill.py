"""Fault test: kill -9 of the importing process at several moments of a large CSV import (SQLite and
PostgreSQL); afterwards the store must hold 0 of the file's units (all or nothing) and an intact audit
chain, and a complete import afterwards must hold every row. Loopback only; a fresh SQLite file and a
fresh PostgreSQL schema (dropped at the end).

Run::

    python benchmarks/fault_import_kill.py [--rows 50000] [--check-kill 5] [--write-kills 0 2 10] [--engine both]

Kill moments: ``--check-kill`` s after start (while the file is being checked), then each of
``--write-kills`` s after the import announced its single write transaction (rows being written).
``--complete`` also runs one import to the end and times it.
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
    from cordmatch.services import bank_csv
    from cordmatch.services.bank import BankService
    from cordmatch.store import open_store
    url, path = sys.argv[1], sys.argv[2]
    store = open_store(url)
    svc = BankService(store)
    tech = svc.users.authenticate("tech", "PASSWORD")
    write = bank_csv._write_import
    def announced(*args, **kw):
        print("writing", flush=True)
        return write(*args, **kw)
    bank_csv._write_import = announced
    print("checking", flush=True)
    result = bank_csv.import_units_csv(svc, tech, open(path, encoding="utf-8").read())
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
        svc.users.bootstrap_admin("admin", PASSWORD)
        admin = svc.users.authenticate("admin", PASSWORD)
        svc.users.create_user(admin, "tech", PASSWORD, "technician")
        svc.catalogue.add_bank(admin, "FAULT", "Fault-test bank", accreditation="FACT-NetCord", facility_id="F0001")
        svc.catalogue.load_product_codes(admin, ProductCodeTable.from_csv("code,description\nX0001,HPC Cord Blood\n"))


def state(url: str) -> tuple[int, bool, int]:
    """(units stored, audit chain intact, audit rows)."""
    from sqlalchemy import func, select

    from cordmatch.store import audit, open_store
    from cordmatch.store.models import Unit

    with open_store(url, migrate=False) as store, store.read() as s:
        units = s.execute(select(func.count(Unit.id))).scalar_one()
        report = audit.verify(s)
    return units, report.ok, report.rows


def run_import(url: str, csv: Path, kill: tuple[str, float] | None) -> tuple[float, str]:
    """Import in a subprocess; ``kill`` = (phase, s): kill -9 it that many seconds after it printed
    ``phase`` ("checking" or "writing"); None = let it finish. Returns (seconds, what happened)."""
    env = {**os.environ, "CORDMATCH_DB_BUSY_TIMEOUT": "600"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", IMPORTER, url, str(csv)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    assert proc.stdout is not None
    for raw in proc.stdout:
        text = raw.strip()
        if kill is not None and text == kill[0]:
            time.sleep(kill[1])
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return time.perf_counter() - t0, f"killed {kill[1]:g} s into {kill[0]}"
        if text.startswith("imported"):
            break
    proc.wait()
    took = time.perf_counter() - t0
    return took, "completed" if proc.returncode == 0 else f"exit {proc.returncode}"


def one_engine(name: str, url: str, csv: Path, rows: int, kills: list[tuple[str, float]], complete: bool) -> bool:
    seed(url)
    good = True
    print(f"\n{name}: kill -9 during a {rows:,}-row import")
    for kill in kills:
        took, what = run_import(url, csv, kill)
        units, chain_ok, audit_rows = state(url)
        partial = units not in (0, rows)
        print(f"  {what} ({took:.1f} s after start): units stored {units:,} (partial: {partial}), "
              f"audit chain intact {chain_ok} ({audit_rows} rows)")  # fmt: skip
        good = good and not partial and chain_ok and units == 0
    if complete:
        took, what = run_import(url, csv, None)
        units, chain_ok, audit_rows = state(url)
        print(f"  complete import: {what} in {took:.1f} s, units {units:,}, audit chain intact {chain_ok}")
        good = good and units == rows and chain_ok
    return good


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
    ap.add_argument("--check-kill", type=float, default=5.0, help="s after start, while checking")
    ap.add_argument("--write-kills", type=float, nargs="*", default=[0.0, 2.0, 10.0],
                    help="s after the write transaction began")  # fmt: skip
    ap.add_argument("--complete", action="store_true", help="also run one import to the end")
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    a = ap.parse_args()
    kills = [("checking", a.check_kill)] + [("writing", w) for w in a.write_kills]
    good = True
    with tempfile.TemporaryDirectory() as d:
        csv = Path(d) / "units.csv"
        write_csv(csv, a.rows, "F0001")
        print(f"CSV: {a.rows:,} rows, {csv.stat().st_size / 1e6:.1f} MB")
        if a.engine in ("sqlite", "both"):
            good = one_engine("sqlite", f"sqlite:///{d}/fault.sqlite3", csv, a.rows, kills, a.complete) and good
        if a.engine in ("postgresql", "both"):
            schema, url = _schema()
            try:
                good = one_engine("postgresql", url, csv, a.rows, kills, a.complete) and good
            finally:
                _drop_schema(schema)
    print("\nresult:", "0 partial imports, chains intact" if good else "FAILED")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
