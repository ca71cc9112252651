"""The coverage report of the app's bank (its available units): ``GET /api/v1/coverage`` and the page."""

from __future__ import annotations

from typing import Any

from fastapi import Request


def coverage_report(request: Request, q: Any, *, plot: bool = False, candidates: Any = None) -> dict[str, Any]:
    """The report for the bank's available units (shared by the API and the director's page); with
    ``candidates`` (checked unit records) their recruitment value."""
    from cordmatch.hla.tables import NomenclatureTables
    from cordmatch.services.coverage_query import API_MAX_PATIENTS, API_MAX_SIZES, run_query, store_index
    from cordmatch.sim.coverage_patients import simulate_patients

    tables: NomenclatureTables = request.app.state.application.tables  # what cordmatch.bootstrap built
    index = store_index(request.app.state.store, tables)
    out = run_query(
        index,
        tables,
        q,
        simulate=simulate_patients,
        max_patients=API_MAX_PATIENTS,
        max_sizes=API_MAX_SIZES,
        candidates=candidates,
    )
    if plot and "sizes" in out:
        import base64

        from cordmatch.services.coverage import plot_curve

        svg = plot_curve(out["sizes"], "svg", "Coverage against bank size")
        # a data: image: the SVG's own style attributes are not subject to the page's style-src policy
        out["plot_src"] = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    return out
