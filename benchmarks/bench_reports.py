"""Benchmark: the cost of the reports and labels against the search they document.

On a demo bank store (seeded in a temporary directory) it times, per call: the search itself (the
baseline, measured in the same run), the search report's content, its PDF and its HTML print view, the
unit report PDF and the label as PDF and SVG. It prints milliseconds and the ratio to the search.

Run:
    python benchmarks/bench_reports.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PATIENT = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"


def _ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm: fonts, index, caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from cordmatch.bank.din import issue_din
    from cordmatch.imgt import default_nomenclature
    from cordmatch.reports.search_render import render_html, render_pdf
    from cordmatch.reports.service import search_report, unit_label, unit_report_pdf
    from cordmatch.services.bank import BankService
    from cordmatch.services.bank_demo import DEMO_FIN, DEMO_PASSWORD, seed_demo
    from cordmatch.services.bank_search import BankSearch
    from cordmatch.services.search_query import SearchQuery
    from cordmatch.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "bench.sqlite3"))
        svc = BankService(store)
        seed_demo(svc)
        tech, coord = (svc.users.authenticate(u, DEMO_PASSWORD) for u in ("tech", "coord"))
        din = str(issue_din(DEMO_FIN, time.gmtime().tm_year, 1))
        backend = BankSearch(store, default_nomenclature())
        query = SearchQuery(patient_gl=PATIENT, weight_kg=18, antibodies="A*24:02,4200")
        report = search_report(backend, coord, query)
        rows = [
            ("search (baseline)", lambda: backend(coord, query)),
            ("search report content (search + build)", lambda: search_report(backend, coord, query)),
            ("search report PDF (render)", lambda: render_pdf(report)),
            ("search print view HTML (render)", lambda: render_html(report)),
            ("unit report PDF", lambda: unit_report_pdf(svc, coord, din)),
            ("label PDF", lambda: unit_label(svc, tech, din, "pdf")),
            ("label SVG", lambda: unit_label(svc, tech, din, "svg")),
        ]
        base = None
        print(f"{'what':42} {'ms (median)':>12} {'x search':>9}")
        for name, fn in rows:
            ms = _ms(fn, args.repeat)
            base = base or ms
            print(f"{name:42} {ms:12.1f} {ms / base:9.1f}")
        store.close()


if __name__ == "__main__":
    main()
