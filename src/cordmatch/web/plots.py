"""Plots of the pages: the estimated engraftment curve of one graft (SVG); needs a session."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cordmatch.errors import CordmatchError, InvalidInputError
from cordmatch.http.session import session_principal
from cordmatch.plausibility import check_number

router = APIRouter(include_in_schema=False)


def _plot_number(q: Any, name: str, *, integer: bool = False) -> float | int | None:
    raw = q.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw) if integer else float(raw)
    except (ValueError, OverflowError):
        raise InvalidInputError(f"{name} must be a number, got {raw!r}", where=name) from None


@router.get("/plots/engraftment.svg")
def engraftment_plot(request: Request) -> Response:
    """SVG of the estimated cumulative incidence of neutrophil engraftment for one graft (from the query:
    tnc (x10^7/kg), cd34 (x10^5/kg), m8, m6, double=1, dsa=1). Needs a session (401 otherwise)."""
    from cordmatch.io.outcomes_plot import plot_engraftment
    from cordmatch.outcomes import estimate_for_search_result

    if session_principal(request) is None:
        problem = {"type": "urn:cordmatch:problem:unauthenticated", "title": "Not authenticated", "status": 401,
                   "detail": "log in to see plots"}  # fmt: skip
        return Response(json.dumps(problem), status_code=401, media_type="application/problem+json")
    q = request.query_params
    try:
        tnc = check_number(_plot_number(q, "tnc"), "tnc_per_kg", "tnc")
        if tnc is None:
            raise InvalidInputError("tnc (x10^7 cells/kg) is required", where="tnc")
        m8 = check_number(_plot_number(q, "m8", integer=True), "match_grade", "m8")
        m6 = check_number(_plot_number(q, "m6", integer=True), "match_grade", "m6")
        est = estimate_for_search_result(
            float(tnc),
            check_number(_plot_number(q, "cd34"), "cd34_per_kg", "cd34"),
            int(m8) if m8 is not None else None,
            int(m6) if m6 is not None else None,
            q.get("dsa") == "1",
            q.get("double") == "1",
        )
        svg = plot_engraftment([("this graft", est)], "svg")
    except CordmatchError as exc:
        problem = {"type": "urn:cordmatch:problem:invalid-input", "title": "Bad plot request", "status": 422,
                   "detail": str(exc), "errors": [{"field": exc.where or "query", "detail": exc.message}]}  # fmt: skip
        return Response(json.dumps(problem), status_code=422, media_type="application/problem+json")
    return Response(content=svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})
