"""Report and label pages: ``/search/report.pdf`` and ``/search/print`` (same query as ``/search``),
``/units/{din}/report.pdf``, ``/units/{din}/label.pdf`` and ``/units/{din}/label.svg``.

Each needs a logged-in session (else the login page) and the role the service asks for (searching,
seeing the unit; labels: bank staff). Errors are the pages' error page with the right status, in words.
Responses carry ``Cache-Control: no-store``: they hold patient and unit data.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from cordmatch.api.problems import NotImplementedYetError
from cordmatch.bank.roles import Permission, allows
from cordmatch.errors import CordmatchError, InvalidInputError, PermissionDeniedError
from cordmatch.services.auth import Principal
from cordmatch.services.search_query import UNAVAILABLE, SearchQuery
from cordmatch.web import forms as f
from cordmatch.web.pages import _call, _guard, _status, _svc, _user, render

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}
FIELD_NAMES = {"weight_kg": "weight (kg)", "top": "number of units", "patient_gl": "patient typing"}


def _safe(din: str) -> str:
    """A DIN as typed, reduced to DIN characters (for a file name in a header)."""
    return re.sub(r"[^0-9A-Z*]", "", din.upper())[:16]


def _problem(request: Request, user: Principal, exc: CordmatchError) -> Response:
    return render(request, "error.html", {}, user=user, status=_status(exc), error=exc)


def _query(request: Request, user: Principal) -> SearchQuery:
    """The search of the query string (the search page's fields), checked."""
    if not allows(user.role, Permission.UNIT_SEARCH):
        raise PermissionDeniedError(f"{user.username} may not search units", where="role")
    q = request.query_params
    if not q.get("patient_gl"):
        raise InvalidInputError("enter the patient's HLA typing to make a report", where="patient_gl")
    weight = f.number(q, "weight_kg")
    if weight is None:
        raise InvalidInputError("enter the patient's weight in kg", where="weight_kg")
    try:
        return SearchQuery(
            patient_gl=q.get("patient_gl", ""),
            weight_kg=weight,
            policy=q.get("policy") or "nmdp",
            top=f.integer(q, "top") or 10,
            diagnosis=q.get("diagnosis") or None,
            abo=q.get("abo") or None,
            antibodies=q.get("antibodies") or None,
            explain=q.get("explain") or None,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or "weight_kg"
        name = FIELD_NAMES.get(field, field)
        msg = str(err.get("msg", "is not accepted")).replace("Input should be", "must be")
        raise InvalidInputError(f"the {name} {msg}", where=field) from None


async def _report(request: Request, user: Principal) -> Any:
    """The search report's content for the query of ``request``."""
    from cordmatch.reports.service import search_report

    backend = request.app.state.search_backend
    if backend is None:
        raise NotImplementedYetError(UNAVAILABLE)
    query = _query(request, user)
    return await _call(search_report, backend, user, query, request.query_params.get("patient_ref") or None)


@router.get("/search/report.pdf")
@_guard
async def search_report_pdf(request: Request) -> Response:
    user = _user(request)
    try:
        from cordmatch.reports.search_render import render_pdf

        pdf = await _call(render_pdf, await _report(request, user))
    except CordmatchError as exc:
        return _problem(request, user, exc)
    name = f"search-report-{datetime.now(UTC):%Y%m%d-%H%M}.pdf"
    headers = {**NO_STORE, "Content-Disposition": f'inline; filename="{name}"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.get("/search/print", response_class=HTMLResponse)
@_guard
async def search_print(request: Request) -> Response:
    user = _user(request)
    try:
        from cordmatch.reports.search_render import PRINT_CSP, render_html

        html = await _call(render_html, await _report(request, user))
    except CordmatchError as exc:
        return _problem(request, user, exc)
    return HTMLResponse(html, headers={**NO_STORE, "Content-Security-Policy": PRINT_CSP})


@router.get("/units/{din}/report.pdf")
@_guard
async def unit_report(request: Request, din: str) -> Response:
    from cordmatch.reports.service import unit_report_pdf

    user = _user(request)
    try:
        pdf = await _call(unit_report_pdf, _svc(request), user, din)
    except CordmatchError as exc:
        return _problem(request, user, exc)
    headers = {**NO_STORE, "Content-Disposition": f'inline; filename="unit-{_safe(din)}-report.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


async def _label(request: Request, din: str, fmt: str) -> Response:
    from cordmatch.reports.service import unit_label

    user = _user(request)
    try:
        data = await _call(unit_label, _svc(request), user, din, fmt)
    except CordmatchError as exc:
        return _problem(request, user, exc)
    from cordmatch.reports.label import SVG_CSP

    media = "application/pdf" if fmt == "pdf" else "image/svg+xml"
    headers = {**NO_STORE, "Content-Disposition": f'inline; filename="label-{_safe(din)}.{fmt}"'}
    if fmt == "svg":  # its inline styles must apply when the label is opened on its own
        headers["Content-Security-Policy"] = SVG_CSP
    return Response(data, media_type=media, headers=headers)


@router.get("/units/{din}/label.pdf")
@_guard
async def label_pdf(request: Request, din: str) -> Response:
    return await _label(request, din, "pdf")


@router.get("/units/{din}/label.svg")
@_guard
async def label_svg(request: Request, din: str) -> Response:
    return await _label(request, din, "svg")
