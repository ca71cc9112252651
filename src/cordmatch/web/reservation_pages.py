"""The reservations list: cancel, request and record confirmatory typing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from cordmatch.errors import CordmatchError, InvalidInputError
from cordmatch.services.auth import Principal
from cordmatch.web import forms as f
from cordmatch.web.base import (
    PostedForm,
    back,
    checked_form,
    guard,
    http_status,
    on_field,
    render,
    service,
    session_user,
)

router = APIRouter(include_in_schema=False)


@router.get("/reservations", response_class=HTMLResponse)
@guard
def reservations(request: Request) -> Response:
    user = session_user(request)
    status = request.query_params.get("status") or "active"
    if status not in ("active", "cancelled", "expired", "shipped", "all"):
        status = "active"
    try:
        items = service(request).reservations.list_reservations(user, status=None if status == "all" else status)
    except CordmatchError as exc:
        return render(request, "error.html", {}, user=user, status=http_status(exc), error=exc)
    return render(request, "reservations.html", {"items": items, "status": status}, user=user)


@router.post("/reservations/{reservation_id}/cancel", response_class=HTMLResponse)
@guard
def cancel_reservation(request: Request, reservation_id: int, posted: PostedForm) -> Response:
    user = session_user(request)
    try:
        form = checked_form(request, posted)
        service(request).reservations.cancel_reservation(user, reservation_id, f.text(form, "reason") or "")
    except CordmatchError as exc:
        return _failed(request, user, reservation_id, exc)
    return back("/reservations", f"reservation {reservation_id} cancelled")


@router.post("/reservations/{reservation_id}/ct-request", response_class=HTMLResponse)
@guard
def ct_request(request: Request, reservation_id: int, posted: PostedForm) -> Response:
    user = session_user(request)
    try:
        checked_form(request, posted)
        service(request).reservations.request_confirmatory_typing(user, reservation_id)
    except CordmatchError as exc:
        return _failed(request, user, reservation_id, exc)
    return back("/reservations", f"confirmatory typing requested for reservation {reservation_id}")


@router.post("/reservations/{reservation_id}/ct-result", response_class=HTMLResponse)
@guard
def ct_result(request: Request, reservation_id: int, posted: PostedForm) -> Response:
    """Record the confirmatory typing of a reserved unit (it supersedes the unit's typing, history kept)."""
    user = session_user(request)
    form: FormData | None = None
    try:
        form = checked_form(request, posted)
        gl = f.text(form, "gl")
        if not gl:
            raise InvalidInputError("enter the confirmatory typing as a GL string", where="gl")
        service(request).reservations.record_confirmatory_typing(user, reservation_id, gl, lab=f.text(form, "lab"))
    except CordmatchError as exc:
        return _failed(request, user, reservation_id, on_field(exc, "hla_gl", "gl"), form)
    return back("/reservations", f"confirmatory typing recorded for reservation {reservation_id}")


def _failed(
    request: Request, user: Principal, reservation_id: int, exc: CordmatchError, form: FormData | None = None
) -> Response:
    """The active reservations again, with the error on the one whose action failed (and its form)."""
    items = service(request).reservations.list_reservations(user, status="active")
    ctx: dict[str, Any] = {"items": items, "status": "active", "failed_id": reservation_id}
    if form is not None:
        ctx["form"] = dict(form)
    return render(request, "reservations.html", ctx, user=user, status=http_status(exc), error=exc)
