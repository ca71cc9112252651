"""Benchmark: search-batch and impute-registry on a LocalCluster, 1 worker against 2 (same run).

    CORDMATCH_DATA_DIR=/tmp/cmdata python benchmarks/bench_scale_dask.py [--units 400000] [--patients 1000]
        [--impute-units 100000] [--partitions 4]

Prints the wall time of each with 1 and with 2 worker processes (one thread each), the speed-up (target
>= 1.7x on 2 cores) and whether the answers are equal (to each other and, for a sample of patients, to the
single-process search). Index loading on the workers is timed apart (a warm-up batch of 4 patients; the
haplotype sets loaded on every worker and one partition imputed before the imputation is timed), so the figures
are the steady throughput of warm workers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

TODAY = dt.date(2026, 11, 29)


def _patients(path: Path, n: int, seed: int) -> None:
    """Generated patients (antibody names the release does not know are left out)."""
    from cordmatch.errors import InvalidInputError
    from cordmatch.imgt import default_nomenclature
    from cordmatch.sim.patients import generate_patients

    tables = default_nomenclature()
    lines = []
    for p in generate_patients(n, seed, "mix", tables):
        row = p.to_dict()
        keep = []
        for a in row["antibodies"]:
            try:
                tables.member_ids(a["specificity"])
                keep.append(a)
            except InvalidInputError:
                pass
        row["antibodies"] = keep
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _key(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, sort_keys=True, default=str)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=400_000)
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--impute-units", type=int, default=100_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--check-local", type=int, default=50, help="patients also searched in one process")
    args = ap.parse_args()

    from cordmatch.imgt import default_nomenclature
    from cordmatch.io.cluster import ClusterSpec, open_client
    from cordmatch.io.partitions import read_manifest, write_partitions
    from cordmatch.scale.impute import impute_distributed, warm_workers
    from cordmatch.scale.search_batch import load_patients, search_batch, search_local
    from cordmatch.sim.registry import generate_registry

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    tables = default_nomenclature()
    work = Path(tempfile.mkdtemp(prefix="cm-bench-dask-"))
    try:
        reg, imp = work / "reg", work / "imp"
        t0 = time.perf_counter()
        write_partitions(reg, generate_registry(args.units, 7, "mix", tables), tables.release, args.units,
                         args.partitions)  # fmt: skip
        write_partitions(imp, generate_registry(args.impute_units, 8, "CAU", tables), tables.release,
                         args.impute_units, args.partitions)  # fmt: skip
        print(f"generated {args.units:,} + {args.impute_units:,} units in {args.partitions} partitions each: "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        _patients(work / "p.jsonl", args.patients, 3)
        patients = load_patients(work / "p.jsonl")
        parts, imp_parts = read_manifest(reg), read_manifest(imp)
        search_out: dict[int, tuple[float, float, list[dict[str, Any]]]] = {}
        impute_out: dict[int, tuple[float, list[Any]]] = {}
        for workers in (1, 2):
            with open_client(ClusterSpec(workers=workers)) as client:
                t0 = time.perf_counter()
                search_batch(client, parts, patients[:4], top=10, today=TODAY)  # workers load their indexes
                warm = time.perf_counter() - t0
                t0 = time.perf_counter()
                res = search_batch(client, parts, patients, top=10, today=TODAY)
                search_out[workers] = (warm, time.perf_counter() - t0, res)
                warm_workers(client)  # every worker loads the haplotype sets
                impute_distributed(client, imp_parts[:1], "CAU", None)
                t0 = time.perf_counter()
                rows = impute_distributed(client, imp_parts, "CAU", None)
                impute_out[workers] = (time.perf_counter() - t0, [r for p in rows for r in p.rows])
            w, s, _ = search_out[workers]
            print(f"{workers} worker(s): search-batch of {len(patients)} patients {s:.1f} s "
                  f"({len(patients) / s:.1f} patients/s; index load {w:.1f} s); "
                  f"impute-registry of {args.impute_units:,} units {impute_out[workers][0]:.1f} s "
                  f"({args.impute_units / impute_out[workers][0]:,.0f} units/s)")  # fmt: skip
        s_speed = search_out[1][1] / search_out[2][1]
        i_speed = impute_out[1][0] / impute_out[2][0]
        same_s = _key(search_out[1][2]) == _key(search_out[2][2])
        same_i = impute_out[1][1] == impute_out[2][1]
        k = min(args.check_local, len(patients))
        local = search_local(str(reg), patients[:k], top=10, today=TODAY)
        same_local = _key(local) == _key(search_out[2][2][:k])
        print(f"speed-up 2 workers / 1: search-batch {s_speed:.2f}x, impute-registry {i_speed:.2f}x "
              f"(target >= 1.7x: {'meets' if min(s_speed, i_speed) >= 1.7 else 'MISSES'})")  # fmt: skip
        print(f"answers equal: search 1 vs 2 workers {same_s}; first {k} patients vs one process {same_local}; "
              f"imputation 1 vs 2 workers {same_i}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
