"""Benchmark: a bank store as a search registry (persistent coded index) and bulk writes.

    CORDMATCH_DATA_DIR=/tmp/cmdata python benchmarks/bench_scale_store.py [--units 100000]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test --pg-units 1000000]

Prints, from one run on this machine (figures and ratios against baselines measured in the same run):
- ``cordmatch sim registry --db X.sqlite``: units/s (target >= 20,000), and into Parquet for comparison;
- ``cordmatch search --db X.sqlite`` as separate processes (process start included): the first search (no
  index file yet; target < 5 s) and the median of later ones (target < 1 s); baselines: the same search on
  the Parquet file, ``cordmatch --help`` (process start), and the old path in-process (every unit read
  through the ORM feed and parsed again: what each search cost before);
- the CLI processes run as an installed package does: cordmatch's modules compiled to ``.pyc`` first, and
  without ``PYTHONDONTWRITEBYTECODE`` in their environment (the development environment sets it, so every
  process would recompile every module), after one warm-up process;
- with ``--pg``: PostgreSQL bulk write (COPY), the first open of the store's index (target < 30 s) and a
  later open (index file + change log) against opening the same units from Parquet (target: as fast).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PATIENT = "A*02:01+A*01:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01"


CPU: dict[str, float] = {}
LOAD: dict[str, float] = {}
#: The CLI processes' environment: this one without ``PYTHONDONTWRITEBYTECODE`` (an installed package has its
#: modules compiled; see :func:`_compile_package`).
CLI_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _compile_package() -> str:
    """Compile cordmatch's modules to ``.pyc`` as ``pip install`` does (an editable install writes them on the
    first import), so the CLI figures are what a user gets rather than a recompilation on every start; returns
    a note for the output."""
    import compileall

    import cordmatch

    package = Path(cordmatch.__file__).parent
    compileall.compile_dir(str(package), quiet=1)
    had = "set" if "PYTHONDONTWRITEBYTECODE" in os.environ else "not set"
    return (f"CLI processes: modules compiled to .pyc beforehand (as an install does), PYTHONDONTWRITEBYTECODE "
            f"removed from their environment (it is {had} here), one warm-up process before timing")  # fmt: skip


def _load() -> float:
    return os.getloadavg()[0]


def _cli(*args: str) -> float:
    """Seconds one ``cordmatch`` process takes (it must succeed); its CPU seconds (user + system) are kept in
    ``CPU[args[0]]`` and the 1-minute load average when it ended in ``LOAD[args[0]]`` (on a machine shared
    with other work, CPU time shows what load hides)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cordmatch", *args], check=True, stdout=subprocess.DEVNULL, env=CLI_ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[args[0]] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    LOAD[args[0]] = _load()
    return wall


def _median_cli(times: int, *args: str) -> tuple[float, float, float]:
    """Median wall seconds, median CPU seconds and the largest load average of ``times`` runs of ``args``."""
    walls, cpus, loads = [], [], []
    for _ in range(times):
        walls.append(_cli(*args))
        cpus.append(CPU[args[0]])
        loads.append(LOAD[args[0]])
    return statistics.median(walls), statistics.median(cpus), max(loads)


def _verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def bench_sqlite(units: int, work: Path) -> None:
    db = work / "bank.sqlite3"
    pq = work / "same.parquet"
    print(_compile_package())
    _cli("--help")  # warm-up (file cache)
    t_db = _cli("sim", "registry", "--units", str(units), "--seed", "1", "--db", str(db))
    cpu_db, load_db = CPU["sim"], LOAD["sim"]
    t_pq = _cli("sim", "registry", "--units", str(units), "--seed", "1", "--db", str(pq))
    cpu_pq, load_pq = CPU["sim"], LOAD["sim"]
    rate = units / t_db
    print(f"sim registry into SQLite: {t_db:.2f} s for {units:,} units = {rate:,.0f} units/s "
          f"(process start included; target >= 20,000: {_verdict(rate >= 20_000)}; CPU {cpu_db:.2f} s = "
          f"{units / cpu_db:,.0f} units per CPU-second; load {load_db:.1f}); "
          f"into Parquet {t_pq:.2f} s, CPU {cpu_pq:.2f} s (load {load_pq:.1f}); ratio SQLite/Parquet "
          f"{t_db / t_pq:.2f} wall, {cpu_db / cpu_pq:.2f} CPU")  # fmt: skip
    search = ["search", "--patient", PATIENT, "--weight", "30", "--top", "10", "--json"]
    index_file = Path(str(db) + ".cmindex.npz")
    index_file.unlink(missing_ok=True)
    first = _cli(*search, "--db", str(db))
    cpu_first, load_first = CPU["search"], LOAD["search"]
    later, cpu_later, load_later = _median_cli(5, *search, "--db", str(db))
    parquet, cpu_parquet, load_parquet = _median_cli(3, *search, "--db", str(pq))
    start, cpu_start, load_start = _median_cli(3, "--help")
    print(f"CLI search, {units:,}-unit SQLite bank: first {first:.2f} s (target < 5 s: {_verdict(first < 5)}; "
          f"CPU {cpu_first:.2f} s; load {load_first:.1f}), later median of 5 {later:.2f} s (target < 1 s: "
          f"{_verdict(later < 1)}; CPU {cpu_later:.2f} s; load up to {load_later:.1f})")  # fmt: skip
    print(f"  baselines in this run: same search on Parquet {parquet:.2f} s, CPU {cpu_parquet:.2f} s (load up to "
          f"{load_parquet:.1f}; ratio later/Parquet {later / parquet:.2f} wall, {cpu_later / cpu_parquet:.2f} CPU); "
          f"'cordmatch --help' {start:.2f} s, CPU {cpu_start:.2f} s (process start; load up to {load_start:.1f}): "
          f"the search itself adds {cpu_later - cpu_start:.2f} CPU-s")  # fmt: skip
    from cordmatch.imgt import default_nomenclature
    from cordmatch.services.registry_store import index_records, records_from_store
    from cordmatch.store import open_store

    tables = default_nomenclature()
    store = open_store(str(db))
    t0 = time.perf_counter()
    index_records(records_from_store(store), tables)
    old = time.perf_counter() - t0
    store.close()
    print(f"  old path (ORM feed + parse every GL string, in-process, no process start): {old:.2f} s "
          f"(load {_load():.1f}); later CLI search is {old / later:.1f}x faster")  # fmt: skip


def _log_rows(store: Any) -> int:
    from sqlalchemy import text

    with store.read() as s:
        return int(s.execute(text("SELECT count(*) FROM search_changes")).scalar_one())


def bench_pg(url: str, units: int, work: Path) -> None:
    import uuid

    import psycopg

    from cordmatch.imgt import default_nomenclature
    from cordmatch.io.partitions import read_table
    from cordmatch.services import store_index
    from cordmatch.services.registry import export_store, index_from_table, write_registry
    from cordmatch.sim.registry import generate_registry
    from cordmatch.store import open_store

    tables = default_nomenclature()
    schema = f"cm_bench_{uuid.uuid4().hex[:8]}"
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    schema_url = f"{url}{sep}options=-csearch_path%3D{schema}"
    try:
        t0 = time.perf_counter()
        write_registry(schema_url, generate_registry(units, 1, "mix", tables), tables.release)
        t_write = time.perf_counter() - t0
        print(f"PostgreSQL bulk write (COPY, one transaction per 50,000): {units:,} units in {t_write:.1f} s "
              f"= {units / t_write:,.0f} units/s (load {_load():.1f})")  # fmt: skip
        store = open_store(schema_url)
        path = work / "pg.cmindex.npz"
        store_index._memo.clear()
        log_rows = _log_rows(store)
        t0 = time.perf_counter()  # as `cordmatch search --db URL` opens it: codes, index built once, file written
        store_index.open_store_index(store, tables, path=path)
        first = time.perf_counter() - t0
        load_first = _load()
        print(f"  change log: {log_rows:,} rows after the bulk write, {_log_rows(store):,} after the first open "
              "(compaction: at most 250,000 rows per index-file write)")  # fmt: skip
        laters = []
        for _ in range(3):
            store_index._memo.clear()  # as a new process: from the index file, then the change log
            t0 = time.perf_counter()
            store_index.open_store_index(store, tables, path=path)
            laters.append(time.perf_counter() - t0)
        later = statistics.median(laters)
        store.close()
        reg = work / "pg-export"
        export_store(schema_url, reg, 1, tables)
        pq_times = []
        for _ in range(3):
            t0 = time.perf_counter()
            index_from_table(read_table(reg), tables)
            pq_times.append(time.perf_counter() - t0)
        parquet = statistics.median(pq_times)
        print(f"PostgreSQL {units:,} units: first open of the search index {first:.1f} s (target < 30 s: "
              f"{_verdict(first < 30)}; load {load_first:.1f}); later open {later:.2f} s; same units from Parquet "
              f"{parquet:.2f} s (ratio later/Parquet {later / parquet:.2f}: {_verdict(later <= parquet * 1.1)} "
              f"'as fast'; load {_load():.1f})")  # fmt: skip
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def bench_pg_log(url: str, units: int) -> None:
    """PostgreSQL bulk write with one change-log row per new unit (the triggers disabled inside each chunk's
    transaction) against the per-row triggers, twice each, in this run."""
    import contextlib
    import uuid

    import psycopg

    from cordmatch.imgt import default_nomenclature
    from cordmatch.services.registry import write_registry
    from cordmatch.sim.registry import generate_registry
    from cordmatch.store import bulk

    tables = default_nomenclature()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    chunks = list(generate_registry(units, 1, "mix", tables))
    once = bulk.logged_once

    @contextlib.contextmanager
    def per_row(conn: Any, first_id: int, last_id: int) -> Any:
        yield

    rates: dict[str, list[float]] = {"per-row triggers": [], "one log row per unit": []}
    try:
        for name, swap in [("per-row triggers", per_row), ("one log row per unit", once)] * 2:
            bulk.logged_once = swap  # type: ignore[assignment]
            schema = f"cm_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                sep = "&" if "?" in url else "?"
                t0 = time.perf_counter()
                write_registry(f"{url}{sep}options=-csearch_path%3D{schema}", iter(chunks), tables.release)
                rates[name].append(units / (time.perf_counter() - t0))
            finally:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            print(f"  PostgreSQL bulk write, {name}: {rates[name][-1]:,.0f} units/s (load {_load():.1f})")
    finally:
        bulk.logged_once = once
    ratio = statistics.mean(rates["one log row per unit"]) / statistics.mean(rates["per-row triggers"])
    print(f"PostgreSQL bulk write of {units:,} units: one log row per unit is {ratio:.2f}x the per-row triggers")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--pg", default=None, help="PostgreSQL URL (a schema of its own is created and dropped)")
    ap.add_argument("--pg-units", type=int, default=1_000_000)
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--pg-log-compare", type=int, default=0, metavar="UNITS",
                    help="with --pg: also compare the bulk write's change logging (one row per unit vs per-row "
                    "triggers) at this many units")  # fmt: skip
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    work = Path(tempfile.mkdtemp(prefix="cm-bench-scale-"))
    try:
        if not args.skip_sqlite:
            bench_sqlite(args.units, work)
        if args.pg and args.pg_log_compare:
            bench_pg_log(args.pg, args.pg_log_compare)
        if args.pg and args.pg_units:
            bench_pg(args.pg, args.pg_units, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
