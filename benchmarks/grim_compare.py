"""Compare cordmatch's imputation with py-graph-imputation (GRIMM) on the same frequencies and inputs.

py-graph-imputation is NOT a cordmatch dependency: install it into your own environment
(``pip install py-graph-imputation``) to run this. Both tools get the same CAU frequencies (cordmatch's
index, written with current lgx names) and the same typings: people drawn from those frequencies, masked
to antigen level and written as explicit allele lists of the names present in the set (GRIMM does not
expand XX codes by itself).

    python benchmarks/grim_compare.py --people 200 --seed 7 [--json out.json]

Prints: share of subjects whose top genotype agrees, the largest probability difference over the
genotypes either tool reports, and the time per subject of each tool (ratio).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("CORDMATCH_DATA_DIR", str(Path(__file__).resolve().parent.parent / ".pytest-data"))


def _allele_lists(index, pop: str) -> dict[tuple[int, str], list[str]]:  # type: ignore[no-untyped-def]
    """(locus index, first field) -> names present in the population at that locus."""
    w = index.population_weights(pop)
    live = (index.frequencies @ w) > 0
    out: dict[tuple[int, str], set[str]] = {}
    for li in range(len(index.loci)):
        for code in np.unique(index.codes[live, li]):
            name = index.code_name(int(code))
            out.setdefault((li, name.split(":")[0]), set()).add(name)
    return {k: sorted(v) for k, v in out.items()}


def masked_gl(index, genotype, lists) -> str:  # type: ignore[no-untyped-def]
    parts = []
    for li in range(len(index.loci)):
        names = []
        for k in range(2):
            fam = index.code_name(int(genotype[li, k])).split(":")[0]
            names.append("/".join(lists[(li, fam)]))
        parts.append("+".join(names))
    return "^".join(parts)


def muug_key(gl: str) -> str:
    """Canonical unphased genotype: loci sorted by name, two alleles sorted."""
    loci = []
    for part in gl.split("^"):
        a, b = sorted(part.split("+"))
        loci.append(f"{a}+{b}")
    return "^".join(sorted(loci))


PRIORITY = {"alpha": 0.4999999, "eta": 0, "beta": 1e-7, "gamma": 1e-7, "delta": 0.4999999}


def build_grim(index, pop: str):  # type: ignore[no-untyped-def]
    """A GRIMM imputation object over the index's frequencies of ``pop`` (graph built in a temp dir)."""
    from graph_generation import generate_neo4j_multi_hpf
    from grim.imputation.impute import Imputation
    from grim.imputation.networkx_graph import Graph

    col = index.populations.index(pop)
    work = Path(tempfile.mkdtemp(prefix="grim-"))
    hpf = work / "hpf.csv"
    with hpf.open("w") as fh:
        fh.write("hap,pop,freq\n")
        for row in np.flatnonzero(index.frequencies[:, col] > 0):
            fh.write(f"{index.haplotype_names(int(row))},{pop},{float(index.frequencies[row, col])!r}\n")
    conf = {
        "populations": [pop],
        "freq_trim_threshold": 1e-12,
        "priority": PRIORITY,
        "UNK_priors": "SR",
        "FULL_LOCI": "ABCQR",
        "loci_map": {"A": 1, "B": 2, "C": 3, "DQB1": 4, "DRB1": 5},
        "factor_missing_data": 0.0001,
        "planb": False,
        "number_of_options_threshold": 100000,
        "epsilon": 1e-12,
        "number_of_results": 100000,
        "number_of_pop_results": 100,
        "output_MUUG": True,
        "output_haplotypes": False,
        "freq_file": str(hpf),
        "graph_files_path": str(work / "csv") + "/",
        "node_csv_file": "nodes.csv",
        "edges_csv_file": "edges.csv",
        "info_node_csv_file": "info_node.csv",
        "top_links_csv_file": "top_links.csv",
        "imputation_in_file": str(work / "in.csv"),
        "imputation_out_umug_freq_filename": "o.umug",
        "imputation_out_umug_pops_filename": "o.umug.pops",
        "imputation_out_hap_freq_filename": "o.pmug",
        "imputation_out_hap_pops_filename": "o.pmug.pops",
        "imputation_out_miss_filename": "o.miss",
        "imputation_out_problem_filename": "o.problem",
        "max_haplotypes_number_in_phase": 100000,
        "imputation_out_path": str(work / "out"),
    }
    conf_path = work / "conf.json"
    conf_path.write_text(json.dumps(conf))
    argv = sys.argv
    sys.argv = [argv[0], "-c", str(conf_path)]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        generate_neo4j_multi_hpf.generate_graph(config_file=str(conf_path))
    sys.argv = argv
    config = {
        "pops": [pop],
        "priority": conf["priority"],
        "UNK_priors": "SR",
        "epsilon": conf["epsilon"],
        "number_of_results": conf["number_of_results"],
        "number_of_pop_results": 100,
        "output_MUUG": True,
        "output_haplotypes": False,
        "factor_missing_data": 0.0001,
        "loci_map": conf["loci_map"],
        "matrix_planb": [[[1, 2, 3, 4, 5]]],
        "planb": False,
        "pops_count_file": "",
        "use_pops_count_file": False,
        "number_of_options_threshold": 100000,
        "max_haplotypes_number_in_phase": 100000,
        "nodes_for_plan_A": [],
        "save_mode": False,
        "full_loci": "12345",
        "node_file": str(work / "csv" / "nodes.csv"),
        "top_links_file": str(work / "csv" / "top_links.csv"),
        "edges_file": str(work / "csv" / "edges.csv"),
    }
    graph = Graph(config)
    graph.build_graph(config["node_file"], config["top_links_file"], config["edges_file"])
    return Imputation(graph, config)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--population", default="CAU")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    try:
        import grim  # noqa: F401
    except ImportError:
        print("py-graph-imputation is not installed: pip install py-graph-imputation (not a cordmatch dependency)")
        sys.exit(0)

    from cordmatch.imgt import default_nomenclature
    from cordmatch.io.frequency_sets import load_index
    from cordmatch.probability.imputation import constraints_from_gl, impute
    from cordmatch.probability.simulate import sample_people

    tables = default_nomenclature()
    index = load_index(tables=tables)
    pop = args.population
    t0 = time.perf_counter()
    grimm = build_grim(index, pop)
    graph_build = time.perf_counter() - t0
    conf = {"priority": PRIORITY, "epsilon": 1e-12}
    rng = np.random.default_rng(args.seed)
    truth = sample_people(index, pop, args.people, rng)
    lists = _allele_lists(index, pop)
    gls = [masked_gl(index, g, lists) for g in truth]

    agree = 0
    compared = 0
    max_diff = 0.0
    worst: dict = {}
    diffs: list[float] = []
    t_grim = 0.0
    t_ours = 0.0
    problems = 0
    parts: dict = {}
    for i, gl in enumerate(gls):
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            _sid, muugs, _haps = grimm.impute_one(
                str(i), gl, [1] * 4, None, None, conf["priority"], conf["epsilon"], 1000, True, False, False, False
            )
        t_grim += time.perf_counter() - t0
        t0 = time.perf_counter()
        _, c = constraints_from_gl(gl, tables, index.loci, None, parts)
        post = impute(c, index, pop)
        t_ours += time.perf_counter() - t0
        if muugs is None or not len(muugs["Haps"]) or not post.ok:
            problems += 1
            continue
        g_probs: dict[str, float] = {}
        for hap, p in muugs["Haps"].items():
            key = muug_key(hap)
            g_probs[key] = g_probs.get(key, 0.0) + float(p)
        total = sum(g_probs.values())
        g_probs = {k: v / total for k, v in g_probs.items()}
        ours = {muug_key(post.genotype_gl(j)): float(post.probabilities[j]) for j in range(post.size)}
        compared += 1
        if max(g_probs, key=lambda k: g_probs[k]) == max(ours, key=lambda k: ours[k]):
            agree += 1
        d = max(abs(g_probs.get(k, 0.0) - ours.get(k, 0.0)) for k in set(g_probs) | set(ours))
        diffs.append(d)
        if d > max_diff:
            worst = {
                "typing": gl,
                "cordmatch_top": sorted(ours.items(), key=lambda kv: -kv[1])[:3],
                "grim_top": sorted(g_probs.items(), key=lambda kv: -kv[1])[:3],
                "cordmatch_genotypes": len(ours),
                "grim_genotypes": len(g_probs),
            }
        max_diff = max(max_diff, d)
    within = sum(d <= 0.01 for d in diffs)
    result = {
        "population": pop,
        "people": args.people,
        "seed": args.seed,
        "compared": compared,
        "problems": problems,
        "top_genotype_agreement": agree / compared if compared else None,
        "subjects_all_probabilities_within_0.01": within / compared if compared else None,
        "max_probability_difference": max_diff,
        "grim_graph_build_s": graph_build,
        "grim_s_per_subject": t_grim / len(gls),
        "cordmatch_s_per_subject": t_ours / len(gls),
        "speed_ratio_grim_over_cordmatch": (t_grim / t_ours) if t_ours else None,
        "worst_subject": worst,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
