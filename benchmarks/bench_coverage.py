"""Benchmark: population coverage of 10,000 simulated patients against 1,000,000 generated units.

    CORDMATCH_DATA_DIR=/tmp/cmdata nice python benchmarks/bench_coverage.py [--units 1000000] [--patients 10000]
        [--dask] [--dask-patients 2000]

Prints, from one run on this machine (2 shared cores: run it with ``nice``, once):
- the time to generate and code the registry and the patients (not part of the target);
- the wall time of the coverage evaluation in-process (target: under 60 s for 10,000 x 1,000,000);
- the ratio to a baseline measured in the same run: one selection-kernel call per patient
  (:func:`cordmatch.selection.kernel.grade_index`, what a loop over ``cordmatch search`` would grade) plus
  counting its match levels, timed on a sample of patients and extrapolated linearly (stated);
- with ``--dask``: the same evaluation on a LocalCluster of 1 and of 2 workers (the ratio 1 / 2 workers),
  checking that both give the in-process answer.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--baseline-sample", type=int, default=100, help="patients timed for the baseline")
    ap.add_argument("--dask", action="store_true", help="also time 1 and 2 Dask workers")
    ap.add_argument("--dask-patients", type=int, default=2000, help="patients for the Dask ratio")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from cordmatch.coverage.engine import LEVEL_LUT, CoverageIndex, DoseRule, evaluate
    from cordmatch.imgt import default_nomenclature
    from cordmatch.io.cluster import ClusterSpec
    from cordmatch.selection import kernel
    from cordmatch.selection.index import UnitIndex
    from cordmatch.selection.settings import default_settings
    from cordmatch.sim.coverage_patients import simulate_patients
    from cordmatch.sim.registry import generate_registry

    print(f"cordmatch coverage benchmark: {args.patients:,} patients x {args.units:,} units, pid {os.getpid()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    tables = default_nomenclature()

    def build() -> UnitIndex:
        index = UnitIndex(release=tables.release, capacity=args.units)
        for chunk in generate_registry(args.units, args.seed, "mix", tables):
            index.add(chunk.cols)
        return index

    index, t_build = _timed(build)
    sim, t_pat = _timed(lambda: simulate_patients(args.patients, args.seed + 1, "mix", tables))
    pats = sim.coded
    settings = default_settings()
    dose = DoseRule.from_settings(settings, settings.policy("nmdp"))
    cidx, t_cidx = _timed(lambda: CoverageIndex.from_unit_index(index))
    print(f"setup: registry generated and coded {t_build:.1f} s, patients simulated {t_pat:.1f} s, "
          f"coverage index {t_cidx:.2f} s (not part of the target)")  # fmt: skip

    cpu0 = time.process_time()
    cov, t_eval = _timed(lambda: evaluate(cidx, pats, dose))
    cpu = time.process_time() - cpu0
    verdict = "PASS" if t_eval < 60 else "FAIL"
    print(f"coverage evaluation in-process: {t_eval:.1f} s wall ({cpu:.1f} s CPU) for {args.patients:,} x "
          f"{args.units:,} ({1e3 * t_eval / args.patients:.2f} ms per patient, "
          f"{1e9 * cpu / args.patients / args.units:.2f} ns CPU per patient-unit pair) "
          f"target < 60 s: {verdict}")  # fmt: skip
    print(f"  >= 5/6: {cov.count[:, 1].astype(bool).mean():.3f}, with dose "
          f"{cov.count_dose[:, 1].astype(bool).mean():.3f}")  # type: ignore[index]  # fmt: skip

    k = min(args.baseline_sample, args.patients)

    def baseline() -> None:
        for p in range(k):
            g = kernel.grade_index(index, pats.ag[p], pats.al[p], pats.profiles[p])
            np.bincount(g.match_8().astype(np.int64) + 1, minlength=10)
            np.bincount(g.match_6().astype(np.int64) + 1, minlength=8)

    _, t_base = _timed(baseline)
    t_base_all = t_base / k * args.patients
    print(f"baseline (one kernel.grade_index per patient + level counts): {t_base / k * 1e3:.2f} ms per patient "
          f"on a sample of {k}, extrapolated to {t_base_all:.1f} s; ratio baseline / coverage engine: "
          f"{t_base_all / t_eval:.2f}x (the baseline also skips the dose, DSA and worst-case rules)")  # fmt: skip
    assert LEVEL_LUT.shape[0] == 6

    if args.dask:
        from cordmatch.services.coverage import coverage_client

        n = min(args.dask_patients, args.patients)
        sub = pats.take(np.arange(n))
        ref, t_ref = _timed(lambda: evaluate(cidx, sub, dose))
        print(f"in-process reference: {t_ref:.1f} s for {n:,} patients")
        times = {}
        for workers in (1, 2):
            (out, t), t_total = _timed(
                lambda w=workers: _on_cluster(coverage_client, ClusterSpec(workers=w), cidx, sub, dose)
            )
            same = np.array_equal(out.count, ref.count) and np.array_equal(out.count_dose, ref.count_dose)
            times[workers] = t
            print(f"dask LocalCluster {workers} worker(s): {t:.1f} s for {n:,} patients (index scattered and "
                  f"ordered by a warm-up task first; {t_total:.1f} s with cluster start); "
                  f"same answer as in-process: {same}")  # fmt: skip
        print(f"ratio 1 worker / 2 workers: {times[1] / times[2]:.2f}x (2 shared cores)")


def _on_cluster(open_client, spec, cidx, pats, dose):  # type: ignore[no-untyped-def]
    """Open the cluster, warm every worker up (scatter + capacity ordering), then time the evaluation."""
    from cordmatch.services.coverage import run_coverage

    with open_client(spec) as client:
        run_coverage(cidx, pats.take(np.arange(min(len(pats), 64))), dose, chunk=8, client=client)
        return _timed(lambda: run_coverage(cidx, pats, dose, client=client))


if __name__ == "__main__":
    main()
