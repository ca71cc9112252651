"""CSV import speed: rows/s of the bulk write (``BankService.units.register_many``) against the former
one-unit-at-a-time write, measured in the same run on fresh SQLite and PostgreSQL stores.

Run::

    python benchmarks/bench_import.py [--rows 50000] [--old-rows 5000] [--engine both]

The old path (one single registration per row, as before the bulk write) is kept here only, for comparison; it
is slow (about 480 rows/s), so by default it imports ``--old-rows`` rows, and the new path is timed on the
same count as well, so the ratio compares like with like. Timings cover the whole import (checking every
line, then the one write transaction); the chain is verified and the unit count checked after each run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault_import_kill import PASSWORD, _drop_schema, _schema, seed, state, write_csv


def _old_write_import(svc: Any, actor: Any, parsed: Any) -> Any:
    """The write as it was before the bulk path: one registration (queries, flushes, audit row) per row."""
    from cordmatch.services import bank_csv
    from cordmatch.services.bank_registration import SessionLookup, new_unit
    from cordmatch.services.bank_views import snapshot, unit_out
    from cordmatch.store.models import Measurement

    ctx = svc.ctx
    with ctx.tx() as s:
        dins: list[str] = []
        for _line, item in parsed:
            new = new_unit(item.registration, SessionLookup(s), ctx.clock)
            unit = new.unit
            s.add(unit)
            s.flush()
            s.add_all(new.children(actor.user_id))
            s.flush()
            ctx.audit(s, actor, "unit.register", "unit", unit.din, None, snapshot(unit_out(s, unit)))
            for stage, m in item.measurements.items():
                s.add(Measurement(unit_id=unit.id, stage=stage, recorded_by=actor.user_id,
                                  recorded_at=ctx.clock(), **m.model_dump()))  # fmt: skip
            dins.append(unit.din)
        s.flush()
        ctx.audit(s, actor, "units.import", "import", f"{len(dins)} units", None, {"dins": dins})
    return bank_csv.ImportResult(len(dins), tuple(dins))


def timed_import(url: str, csv: Path, rows: int, old: bool) -> float:
    """Seconds to import ``csv`` into the fresh store at ``url`` (old or new write); checks the result."""
    from cordmatch.services import bank_csv
    from cordmatch.services.bank import BankService
    from cordmatch.store import open_store

    seed(url)
    new_write = bank_csv._write_import
    with open_store(url) as store:
        svc = BankService(store)
        tech = svc.users.authenticate("tech", PASSWORD)
        text = csv.read_text(encoding="utf-8")
        bank_csv._write_import = _old_write_import if old else new_write  # type: ignore[assignment]
        try:
            t0 = time.perf_counter()
            result = bank_csv.import_units_csv(svc, tech, text)
            took = time.perf_counter() - t0
        finally:
            bank_csv._write_import = new_write
    units, chain_ok, _ = state(url)
    assert result.imported == rows == units and chain_ok, (result.imported, units, chain_ok)
    return took


def engine_urls(engine: str, d: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if engine in ("sqlite", "both"):
        out.append(("sqlite", lambda tag: (None, f"sqlite:///{d}/{tag}.sqlite3")))
    if engine in ("postgresql", "both"):
        out.append(("postgresql", lambda tag: _schema()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--old-rows", type=int, default=5_000, help="rows for the old path (slow)")
    ap.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        big, small = Path(d) / "big.csv", Path(d) / "small.csv"
        write_csv(big, a.rows, "F0001")
        write_csv(small, a.old_rows, "F0001")
        for name, make in engine_urls(a.engine, d):
            times: dict[str, float] = {}
            for tag, csv, rows, old in (("old", small, a.old_rows, True), ("new_small", small, a.old_rows, False),
                                        ("new", big, a.rows, False)):  # fmt: skip
                schema, url = make(tag)
                try:
                    times[tag] = timed_import(url, csv, rows, old)
                finally:
                    if schema:
                        _drop_schema(schema)
            old_rate, small_rate = a.old_rows / times["old"], a.old_rows / times["new_small"]
            print(f"{name}: old {a.old_rows:,} rows {times['old']:.1f} s = {old_rate:,.0f} rows/s; "
                  f"new {a.old_rows:,} rows {times['new_small']:.1f} s = {small_rate:,.0f} rows/s "
                  f"(ratio new/old {small_rate / old_rate:.1f}x); "
                  f"new {a.rows:,} rows {times['new']:.1f} s = {a.rows / times['new']:,.0f} rows/s "
                  f"(ratio new@{a.rows:,}/old@{a.old_rows:,} {a.rows / times['new'] / old_rate:.1f}x)",
                  flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
