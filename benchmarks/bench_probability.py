"""Benchmarks of imputation and match probability.

    python benchmarks/bench_probability.py [--units 100000] [--patients 100] [--no-grim]

1. Per patient: imputation of a patient and a unit (antigen-level typings at five loci) and their match
   probability, cordmatch against py-graph-imputation (GRIMM) imputing the same two typings from the same
   frequencies, measured in this run; prints the ratio (goal: cordmatch >= 10x faster). GRIMM is optional
   (not a cordmatch dependency); without it the baseline is skipped and said so.
2. Registry batch: imputation of ``--units`` cord blood units (A, B at antigen level, DRB1 at two fields:
   the classic cord typing) drawn from CAU, no cache, then scoring all of them against one patient with
   the search hook. If ``--units`` is below 100,000 the 100,000 figure is extrapolated linearly and the
   output says so.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("CORDMATCH_DATA_DIR", str(Path(__file__).resolve().parent.parent / ".pytest-data"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--patients", type=int, default=100)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--no-grim", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from cordmatch.imgt import default_nomenclature
    from cordmatch.io.frequency_sets import load_index
    from cordmatch.probability.imputation import constraints_from_gl, impute
    from cordmatch.probability.match import match_probability_from_posteriors
    from cordmatch.probability.simulate import sample_people, typing_gl
    from cordmatch.services.probability import impute_registry, score_units

    tables = default_nomenclature()
    t0 = time.perf_counter()
    index = load_index(tables=tables)
    out: dict[str, object] = {"index_load_s": round(time.perf_counter() - t0, 3), "haplotypes": index.size}
    rng = np.random.default_rng(args.seed)

    # 1. per patient ---------------------------------------------------------------------------
    from grim_compare import _allele_lists, masked_gl

    people = sample_people(index, "CAU", 2 * args.patients, rng)
    lists = _allele_lists(index, "CAU")
    gls = [masked_gl(index, g, lists) for g in people]
    parts: dict = {}
    t0 = time.perf_counter()
    for k in range(args.patients):
        pa = impute(constraints_from_gl(gls[2 * k], tables, index.loci, None, parts)[1], index, "CAU")
        do = impute(constraints_from_gl(gls[2 * k + 1], tables, index.loci, None, parts)[1], index, "CAU")
        match_probability_from_posteriors(pa, do)
    ours = (time.perf_counter() - t0) / args.patients
    out["cordmatch_s_per_patient_pair"] = round(ours, 5)
    grim = None
    if not args.no_grim:
        grim = _grim_time(index, gls, args.patients)
    if grim is None:
        out["grim"] = "py-graph-imputation not installed or --no-grim: no baseline measured"
    else:
        out["grim_s_per_patient_pair_imputation_only"] = round(grim, 5)
        out["ratio_grim_over_cordmatch"] = round(grim / ours, 1)

    # 2. registry batch -------------------------------------------------------------------------
    units_true = sample_people(index, "CAU", args.units, rng)
    units = [
        (f"U{i}", typing_gl(index, g, antigen_loci=("A", "B"), loci=("A", "B", "DRB1")))
        for i, g in enumerate(units_true)
    ]
    t0 = time.perf_counter()
    reg = impute_registry(units, "CAU", tables=tables, index=index, use_cache=False)
    batch = time.perf_counter() - t0
    patient_gl = typing_gl(index, people[0], loci=("A", "B", "C", "DRB1", "DQB1"))
    pat = impute(constraints_from_gl(patient_gl, tables, index.loci)[1], index, "CAU")
    t0 = time.perf_counter()
    s = score_units(pat, reg.packed)
    score = time.perf_counter() - t0
    # later patients reuse the units' distinct locus genotypes computed by the first call
    later = []
    for g in people[1:6]:
        p2 = impute(constraints_from_gl(typing_gl(index, g), tables, index.loci)[1], index, "CAU")
        t0 = time.perf_counter()
        score_units(p2, reg.packed)
        later.append(time.perf_counter() - t0)
    out.update(
        {
            "batch_units": args.units,
            "batch_distinct_typings": reg.distinct_typings,
            "batch_genotype_rows": int(reg.packed.codes.shape[0]),
            "batch_no_estimate": len(reg.problems),
            "batch_imputation_s": round(batch, 1),
            "batch_units_per_s": round(args.units / batch),
            "score_all_units_first_patient_s": round(score, 3),
            "score_all_units_next_patients_s_mean": round(float(np.mean(later)), 3),
            "units_with_p8_over_0.5": int(np.nansum(s.p_8_of_8 > 0.5)),
        }
    )
    if args.units < 100_000:
        out["batch_100k_extrapolated_s"] = round(batch * 100_000 / args.units, 1)
        out["note"] = "100,000-unit time extrapolated linearly from a smaller run (dedup makes it pessimistic)"
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


def _grim_time(index, gls: list[str], patients: int) -> float | None:  # type: ignore[no-untyped-def]
    try:
        import grim_compare
        from graph_generation import generate_neo4j_multi_hpf  # noqa: F401
    except ImportError:
        return None
    grim = grim_compare.build_grim(index, "CAU")
    t0 = time.perf_counter()
    for k in range(2 * patients):
        with contextlib.redirect_stdout(io.StringIO()):
            grim.impute_one(
                str(k), gls[k], [1] * 4, None, None, grim_compare.PRIORITY, 1e-12, 1000, True, False, False, False
            )
    return (time.perf_counter() - t0) / patients


if __name__ == "__main__":
    main()
