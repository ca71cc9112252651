"""Benchmark: one patient's search over a large partitioned Parquet registry (10,000,000 units by default).

    CORDMATCH_DATA_DIR=/tmp/cmdata python benchmarks/bench_scale_parquet.py [--units 10000000]
        [--partitions 8] [--patients 15] [--keep DIR]

Prints, from one run: generation and open times, the resident search index in bytes per unit (target
<= 64), the process's resident memory, and the median over the patients of (a) the vectorised search
(grade every unit, hard filters, rank: ``prepare`` + ``top_slots``) and (b) the whole service search
(exact grades, checks and explanations of the top 10, double units when needed); target (b) < 150 ms.
Baseline in the same run: the same search on a 1,000,000-unit slice, to show the per-unit scaling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

TODAY = dt.date(2026, 11, 29)


def _median_ms(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=10_000_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--patients", type=int, default=15)
    ap.add_argument("--keep", default=None, help="write (or reuse) the registry here instead of a temporary dir")
    args = ap.parse_args()

    from cordmatch.imgt import default_nomenclature
    from cordmatch.io.partitions import is_partitioned, write_partitions
    from cordmatch.selection.search import prepare, search, top_slots
    from cordmatch.services.registry import open_registry
    from cordmatch.services.search import SearchRequest, build_patient
    from cordmatch.sim.patients import generate_patients
    from cordmatch.sim.registry import generate_registry

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    tables = default_nomenclature()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cm-bench-pq-"))
    reg = work / "reg"
    try:
        if not is_partitioned(reg):
            t0 = time.perf_counter()
            write_partitions(reg, generate_registry(args.units, 2026, "mix", tables), tables.release, args.units,
                             args.partitions)  # fmt: skip
            print(f"generated {args.units:,} units into {args.partitions} partitions: {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        index, source = open_registry(str(reg), tables)
        print(f"opened (read all partitions, build the index from the coded columns): "
              f"{time.perf_counter() - t0:.1f} s; {len(index):,} units")  # fmt: skip
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        bpu = index.bytes_per_unit()
        print(f"resident search index: {bpu:.1f} bytes/unit (target <= 64: {'meets' if bpu <= 64 else 'MISSES'}); "
              f"scanned per search {index.bytes_scanned_per_unit()} bytes/unit; process peak RSS {rss:,.0f} MiB "
              f"(includes the Parquet records kept for the results)")  # fmt: skip
        patients = []
        for p in generate_patients(args.patients, 11, "mix", tables):
            req = SearchRequest(target="", patient_gl=p.hla, weight_kg=p.weight_kg, malignant=p.malignant, abo=p.abo)
            patients.append(build_patient(req, tables)[0])
        kernel_ms, full_ms = [], []
        t0 = time.perf_counter()
        search(index, source, patients[0], tables, top=10, today=TODAY)
        print(f"first search (builds the unit-id look-up of the records): {time.perf_counter() - t0:.2f} s")
        for patient in patients:
            kernel_ms.append(_median_ms(lambda: top_slots(prepare(index, patient, tables, today=TODAY), 10)))  # noqa: B023
            full_ms.append(_median_ms(lambda: search(index, source, patient, tables, top=10, today=TODAY)))  # noqa: B023
        k, f = statistics.median(kernel_ms), statistics.median(full_ms)
        print(f"one patient's search over {len(index):,} units, median of {len(patients)} patients: vectorised "
              f"{k:.0f} ms; whole search {f:.0f} ms (target < 150 ms: {'meets' if f < 150 else 'MISSES'})")  # fmt: skip
        print(f"  per unit: {k * 1e6 / len(index):.1f} ns vectorised, {f * 1e6 / len(index):.1f} ns whole")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
