"""Foundation benchmarks, each printed as a ratio against a baseline measured in the same run.

1. Nomenclature look-ups per second: cordmatch's precomputed integer tables vs py-ard's ``redux`` on the
   same distinct inputs (a fresh py-ard instance, so its caches start empty). Goal: >= 20x.
2. Grading pairs per second for two-field typings: vectorised coded grading (one core) vs the exact
   string-level grading. Goal: >= 100,000 pairs/s.
3. Time from process start to a ready nomenclature with a warm cache, vs a bare ``python -c pass`` and
   vs py-ard's own warm start. Goal: < 2 s.

Run: ``.venv/bin/python benchmarks/bench_foundation.py [--pairs N]``
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np

from cordmatch.hla.loci import REDUCTION_LEVELS
from cordmatch.hla.typing import parse_typing
from cordmatch.imgt import default_nomenclature
from cordmatch.imgt.cache import cache_dir
from cordmatch.imgt.pyard_db import init_pyard
from cordmatch.matching import grade
from cordmatch.matching.coded import code_typing, grade_coded


def bench_lookups(n: int) -> None:
    tables = default_nomenclature()
    rng = random.Random(1)
    names = rng.sample(tables.alleles, n)
    levels = [lv for lv in REDUCTION_LEVELS if lv not in ("W", "S")]
    inputs = [(name, levels[i % len(levels)]) for i, name in enumerate(names)]

    warm = next(a for a in tables.alleles if a not in set(names))
    for lv in levels:  # decode each level's table once (start-up work, like py-ard's init)
        tables.reduce(warm, lv)
    t0 = time.perf_counter()
    ours = [tables.reduce(name, lv) for name, lv in inputs]
    t_ours = time.perf_counter() - t0

    ard = init_pyard(cache_dir(release=tables.release), tables.release)
    t0 = time.perf_counter()
    theirs = [ard.redux(name, lv) for name, lv in inputs]
    t_ard = time.perf_counter() - t0
    agree = sum(sorted(a.split("/")) == sorted(b.split("/")) for a, b in zip(ours, theirs, strict=True))
    print(f"[lookups] {n} distinct (allele, level) inputs, levels {','.join(levels)}")
    print(f"  cordmatch tables: {n / t_ours:,.0f} lookups/s")
    print(f"  py-ard redux:     {n / t_ard:,.0f} lookups/s")
    print(f"  ratio: {t_ard / t_ours:.1f}x (goal >= 20x); answers identical: {agree}/{n}")


def _random_typings(tables, n: int, rng: random.Random) -> list[str]:  # type: ignore[no-untyped-def]
    pools: dict[str, list[str]] = {}
    for locus in ("A", "B", "C", "DRB1"):
        two = sorted(
            {
                tables.lgx_names[int(tables.allele_lgx[i])]
                for i, a in enumerate(tables.alleles)
                if a.startswith(locus + "*") and not tables.allele_null[i]
            }
        )
        pools[locus] = [a for a in two if a.count(":") == 1 and not a.endswith(("N", "Q"))][:60]
    return ["^".join(f"{rng.choice(p)}+{rng.choice(p)}" for p in pools.values()) for _ in range(n)]


def bench_grading(n_pairs: int) -> None:
    tables = default_nomenclature()
    rng = random.Random(2)
    gls = _random_typings(tables, 2000, rng)
    typings = [parse_typing(g, tables) for g in gls]
    coded = [code_typing(t) for t in typings]
    assert all(c is not None for c in coded)
    ag = np.stack([c[0] for c in coded if c])
    al = np.stack([c[1] for c in coded if c])
    i = np.asarray([rng.randrange(len(gls)) for _ in range(n_pairs)])
    j = np.asarray([rng.randrange(len(gls)) for _ in range(n_pairs)])
    p_ag, p_al, d_ag, d_al = ag[i], al[i], ag[j], al[j]
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        out = grade_coded(p_ag, p_al, d_ag, d_al, tables.coded_relation)
        times.append(time.perf_counter() - t0)
    t_vec = statistics.median(times)

    sample = 3000
    t0 = time.perf_counter()
    exact = [grade(typings[a], typings[b]) for a, b in zip(i[:sample], j[:sample], strict=True)]
    t_exact = (time.perf_counter() - t0) / sample
    agree = sum(
        int(out.match_8[k]) == (e.match_8.bidirectional if e.match_8.bidirectional is not None else -1)
        for k, e in enumerate(exact)
    )
    print(f"[grading] {n_pairs:,} random two-field pairs (A, B, C, DRB1), one core")
    print(f"  coded (numpy):      {n_pairs / t_vec:,.0f} pairs/s (goal >= 100,000)")
    print(f"  exact (per pair):   {1 / t_exact:,.0f} pairs/s (sample of {sample})")
    print(f"  ratio: {t_exact * n_pairs / t_vec:.0f}x; 8/8 counts agree on the sample: {agree}/{sample}")


def bench_warm_start() -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    code = "from cordmatch.imgt import default_nomenclature; default_nomenclature()"
    pyard_code = (
        "from cordmatch.imgt.pyard_db import init_pyard; from cordmatch.imgt.cache import cache_dir; "
        "init_pyard(cache_dir(), '3.58.0')"
    )

    def run(c: str, k: int = 5) -> float:
        ts = []
        for _ in range(k):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", c], check=True, env=env, capture_output=True)
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    default_nomenclature()  # make sure the cache is warm
    bare, ours, theirs = run("pass"), run(code), run(pyard_code, 3)
    print("[warm start] process start to a ready nomenclature (median of runs)")
    print(f"  python -c pass:  {bare:.2f} s")
    print(f"  cordmatch:       {ours:.2f} s (goal < 2 s)")
    print(f"  py-ard init:     {theirs:.2f} s; ratio {theirs / ours:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lookups", type=int, default=20_000)
    ap.add_argument("--pairs", type=int, default=1_000_000)
    args = ap.parse_args()
    bench_lookups(args.lookups)
    bench_grading(args.pairs)
    bench_warm_start()


if __name__ == "__main__":
    main()
