"""Produce the calibration table and plot of docs/validation/probability.md.

    python benchmarks/probability_validation.py --population CAU --people 100000 --seed 2026

Writes docs/validation/probability-calibration-<POP>.json and .png (matplotlib, Agg backend).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("CORDMATCH_DATA_DIR", str(Path(__file__).resolve().parent.parent / ".pytest-data"))
OUT = Path(__file__).resolve().parent.parent / "docs" / "validation"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", default="CAU")
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cordmatch.imgt import default_nomenclature
    from cordmatch.io.frequency_sets import load_index
    from cordmatch.probability.calibration import calibrate

    tables = default_nomenclature()
    index = load_index(tables=tables)
    t0 = time.perf_counter()
    res = calibrate(index, tables, args.population, people=args.people, seed=args.seed)
    elapsed = time.perf_counter() - t0
    doc = {
        "population": args.population,
        "people": args.people,
        "seed": args.seed,
        "pairs": res.pairs,
        "groups": res.groups,
        "tolerance": res.tolerance,
        "passed": res.passed,
        "mean_predicted": float(res.predicted.mean()),
        "observed_share": float(res.observed.mean()),
        "seconds": round(elapsed, 1),
        "bins": res.table(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stem = OUT / f"probability-calibration-{args.population}"
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=2))
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    xs = [b.mean_predicted for b in res.bins if b.pairs]
    ys = [b.observed for b in res.bins if b.pairs]
    ns = [b.pairs for b in res.bins if b.pairs]
    tested = [b.tested for b in res.bins if b.pairs]
    ax.plot([0, 1], [0, 1], color="grey", lw=1, label="perfect calibration")
    ax.fill_between([0, 1], [-0.05, 0.95], [0.05, 1.05], color="grey", alpha=0.15, label="±0.05")
    ax.scatter(
        xs,
        ys,
        s=[max(12, min(200, n / 5)) for n in ns],
        c=["tab:blue" if t else "tab:orange" for t in tested],
        zorder=3,
    )
    for x, y, n in zip(xs, ys, ns, strict=True):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(6, -10), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted P(8/8) (bin mean)")
    ax.set_ylabel("observed share of true 8/8 pairs")
    ax.set_title(
        f"{args.population}: {res.pairs} antigen-identical pairs\n"
        f"({args.people} simulated people, seed {args.seed}; blue = bin tested, orange = too few pairs)",
        fontsize=9,
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=110)
    print(json.dumps({k: v for k, v in doc.items() if k != "bins"}, indent=2))
    for row in doc["bins"]:
        print(row)


if __name__ == "__main__":
    main()
