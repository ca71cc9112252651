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

from cordmatch.bank.roles import Permission, allows
from cordmatch.errors import CordmatchError, InvalidInputError, PermissionDeniedError
from cordmatch.http.problems import NotImplementedYetError
from cordmatch.services.auth import Principal
from cordmatch.services.search_query import UNAVAILABLE, SearchQuery
from cordmatch.web import forms as f
from cordmatch.web.base import guard, http_status, render, service, session_user

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}
FIELD_NAMES = {"weight_kg": "weight (kg)", "top": "number of units", "patient_gl": "patient typing"}


def _safe(din: str) -> str:
    """A DIN as typed, reduced to DIN characters (for a file name in a header)."""
    return re.sub(r"[^0-9A-Z*]", "", din.upper())[:16]


def _problem(request: Request, user: Principal, exc: CordmatchError) -> Response:
    return render(request, "error.html", {}, user=user, status=http_status(exc), error=exc)


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


def _report(request: Request, user: Principal) -> Any:
    """The search report's content for the query of ``request``."""
    from cordmatch.reports.service import search_report

    backend = request.app.state.search_backend
    if backend is None:
        raise NotImplementedYetError(UNAVAILABLE)
    query = _query(request, user)
    return search_report(backend, user, query, request.query_params.get("patient_ref") or None)


@router.get("/search/report.pdf")
@guard
def search_report_pdf(request: Request) -> Response:
    user = session_user(request)
    try:
        from cordmatch.reports.search_render import render_pdf

        pdf = render_pdf(_report(request, user))
    except CordmatchError as exc:
        return _problem(request, user, exc)
    name = f"search-report-{datetime.now(UTC):%Y%m%d-%H%M}.pdf"
    headers = {**NO_STORE, "Content-Disposition": f'inline; filename="{name}"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.get("/search/print", response_class=HTMLResponse)
@guard
def search_print(request: Request) -> Response:
    user = session_user(request)
    try:
        from cordmatch.reports.search_render import PRINT_CSP, render_html

        html = render_html(_report(request, user))
    except CordmatchError as exc:
        return _problem(request, user, exc)
    return HTMLResponse(html, headers={**NO_STORE, "Content-Security-Policy": PRINT_CSP})


@router.get("/units/{din}/report.pdf")
@guard
def unit_report(request: Request, din: str) -> Response:
    from cordmatch.reports.service import unit_report_pdf

    user = session_user(request)
    try:
        pdf = unit_report_pdf(service(request), user, din)
    except CordmatchError as exc:
        return _problem(request, user, exc)
    headers = {**NO_STORE, "Content-Disposition": f'inline; filename="unit-{_safe(din)}-report.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


def _label(request: Request, din: str, fmt: str) -> Response:
    from cordmatch.reports.service import unit_label

    user = session_user(request)
    try:
        data = unit_label(service(request), user, din, fmt)
    except CordmatchError as exc:
        return _problem(request, user, exc)
    from cordmatch.reports.label import SVG_CSP

    media = "application/pdf" if fmt == "pdf" else "image/svg+xml"
    headers = {**NO_STORE, "Content-Disposition": f'inline; filename="label-{_safe(din)}.{fmt}"'}
    if fmt == "svg":  # its inline styles must apply when the label is opened on its own
        headers["Content-Security-Policy"] = SVG_CSP
    return Response(data, media_type=media, headers=headers)


@router.get("/units/{din}/label.pdf")
@guard
def label_pdf(request: Request, din: str) -> Response:
    return _label(request, din, "pdf")


@router.get("/units/{din}/label.svg")
@guard
def label_svg(request: Request, din: str) -> Response:
    return _label(request, din, "svg")
