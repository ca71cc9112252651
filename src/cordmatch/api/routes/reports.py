"""Reports and labels through the API (Bearer token): the same documents as the pages.

``POST /search/report.pdf`` (body: the search query; ``?patient_ref=``), ``GET /units/{din}/report.pdf``,
``GET /units/{din}/label.pdf`` and ``GET /units/{din}/label.svg``. Errors are problem+json.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cordmatch.api.deps import Actor, Bank
from cordmatch.bank.roles import Permission, require
from cordmatch.http.problems import NotImplementedYetError
from cordmatch.services.search_query import UNAVAILABLE, SearchQuery

router = APIRouter(tags=["reports"])
NO_STORE = {"Cache-Control": "no-store"}
PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}, "description": "the PDF"}}


@router.post("/search/report.pdf", summary="Search and return the search report (PDF)", responses=PDF,
             response_class=Response)  # fmt: skip
def search_report_pdf(
    request: Request,
    actor: Actor,
    body: SearchQuery,
    patient_ref: Annotated[str | None, Query(description="patient reference printed on the report")] = None,
) -> Response:
    from cordmatch.reports.search_render import render_pdf
    from cordmatch.reports.service import search_report

    require(actor.role, Permission.UNIT_SEARCH, who=actor.username)
    backend = request.app.state.search_backend
    if backend is None:
        raise NotImplementedYetError(UNAVAILABLE, where="search")
    pdf = render_pdf(search_report(backend, actor, body, patient_ref))
    return Response(pdf, media_type="application/pdf", headers=NO_STORE)


@router.get("/units/{din}/report.pdf", summary="The unit report for the transplant centre (PDF)", responses=PDF,
            response_class=Response)  # fmt: skip
def unit_report_pdf(svc: Bank, actor: Actor, din: str) -> Response:
    from cordmatch.reports.service import unit_report_pdf as make

    return Response(make(svc, actor, din), media_type="application/pdf", headers=NO_STORE)


@router.get("/units/{din}/label.{fmt}", summary="The ISBT 128 bag label (pdf or svg; bank staff)",
            response_class=Response)  # fmt: skip
def unit_label(
    svc: Bank,
    actor: Actor,
    din: str,
    fmt: str,
    donation_type: Annotated[str, Query(description="ISBT 128 type of donation")] = "V",
    division: Annotated[str, Query(description="ISBT 128 division, 2 characters")] = "00",
) -> Response:
    from cordmatch.reports.service import unit_label as make

    data = make(svc, actor, din, fmt, donation_type, division)
    from cordmatch.reports.label import SVG_CSP

    media = "application/pdf" if fmt == "pdf" else "image/svg+xml"
    headers = {**NO_STORE, "Content-Security-Policy": SVG_CSP} if fmt == "svg" else NO_STORE
    return Response(data, media_type=media, headers=headers)
