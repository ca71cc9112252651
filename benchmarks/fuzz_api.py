"""Longer schemathesis fuzz of the whole REST API (valid and invalid inputs, every role) on SQLite and
PostgreSQL; prints requests sent, 2xx/4xx/5xx and every 5xx found. In-process (ASGI), no network.

Run::

    python benchmarks/fuzz_api.py [--examples 60] [--engine sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def run(url: str, examples: int) -> int:
    from argon2 import PasswordHasher

    from api.conftest import make_api
    from api.fuzzing import DINS, fuzz_app
    from cordmatch.services.auth import set_password_hasher
    from cordmatch.store import open_store
    from services.conftest import to_available, to_quarantine

    set_password_hasher(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))
    store = open_store(url)
    try:
        api = make_api(store, search_backend="auto")
        to_available(api.world, DINS[0], "1")
        to_quarantine(api.world, DINS[1], "2")
        t0 = time.perf_counter()
        report = fuzz_app(api.client.app, api.headers, max_examples=examples, seed=None)
        took = time.perf_counter() - t0
        chain = api.world.svc.catalogue.verify_audit(api.world.admin).ok
    finally:
        store.close()
    print(f"{store.dialect}: {report.line()}  ({took:.0f} s; audit chain intact: {chain})")
    for label, status, what, body in report.server_errors[:20]:
        print(f"  5xx {status} {label}: {what}\n      {body}")
    return len(report.server_errors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=60, help="examples per operation and generation mode")
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--pg", default=PG)
    a = ap.parse_args()
    errors = 0
    if a.engine in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as d:
            errors += run(f"sqlite:///{d}/fuzz.sqlite3", a.examples)
    if a.engine in ("postgresql", "both"):
        import psycopg

        schema = f"cm_fuzz_{uuid.uuid4().hex[:10]}"
        dsn = a.pg.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            errors += run(f"{a.pg}?options=-csearch_path%3D{schema}", a.examples)
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
