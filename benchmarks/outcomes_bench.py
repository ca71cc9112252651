"""Benchmark: cost of the engraftment estimate per ranked search result.

Prints microseconds per call and the ratio to a baseline measured in the same run (building and
validating the inputs alone), so the figure is comparable across machines. Run:
    python benchmarks/outcomes_bench.py
"""

from __future__ import annotations

import random
import timeit

from cordmatch.outcomes import EngraftmentInputs, estimate, estimate_for_search_result, load_parameters


def main(n: int = 20_000) -> None:
    load_parameters()  # fit once, outside the timing
    rng = random.Random(7)
    cases = []
    for _ in range(1000):
        cd34 = rng.choice([None, rng.uniform(0.5, 4.0)])
        cases.append((rng.uniform(1.5, 8.0), cd34, rng.randint(3, 8), rng.random() < 0.1))

    def baseline() -> None:
        for tnc, cd34, m8, dsa in cases:
            EngraftmentInputs(tnc, cd34, m8, None, False, dsa).validate()

    def search_estimates() -> None:  # uncached path
        for tnc, cd34, m8, dsa in cases:
            estimate(EngraftmentInputs(tnc, cd34, m8, None, False, dsa))

    def cached_estimates() -> None:  # the search entry point, warm cache (repeated searches)
        for tnc, cd34, m8, dsa in cases:
            estimate_for_search_result(tnc, cd34, m8, None, dsa, False)

    def with_explanations() -> None:
        for tnc, cd34, m8, dsa in cases:
            _ = estimate_for_search_result(tnc, cd34, m8, None, dsa, False).explanations

    reps = max(1, n // len(cases))
    base = min(timeit.repeat(baseline, number=reps, repeat=3)) / (reps * len(cases))
    est = min(timeit.repeat(search_estimates, number=reps, repeat=3)) / (reps * len(cases))
    warm = min(timeit.repeat(cached_estimates, number=reps, repeat=3)) / (reps * len(cases))
    expl = min(timeit.repeat(with_explanations, number=reps, repeat=3)) / (reps * len(cases))
    print(f"inputs only (baseline):        {1e6 * base:8.2f} us/result")
    print(f"estimate (uncached):           {1e6 * est:8.2f} us/result  ratio {est / base:6.1f}x baseline")
    print(f"estimate_for_search_result:    {1e6 * warm:8.2f} us/result  ratio {warm / base:6.1f}x baseline (warm)")
    print(f"  + explanation strings:       {1e6 * expl:8.2f} us/result  ratio {expl / base:6.1f}x baseline")


if __name__ == "__main__":
    main()
