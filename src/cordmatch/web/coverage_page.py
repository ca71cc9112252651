"""The bank director's coverage page: who this inventory serves (simulated patients), the curve against
bank size and the under-served haplotypes; the same report as ``GET /api/v1/coverage``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cordmatch.bank.roles import Permission, allows
from cordmatch.errors import CordmatchError, InvalidInputError, PermissionDeniedError
from cordmatch.web.base import guard, http_status, render, session_user

router = APIRouter(include_in_schema=False)

FIELDS = ("population", "patients", "seed", "policy", "weight_kg", "sizes", "level", "underserved")
DEFAULTS = {"population": "all", "patients": "500", "seed": "1", "policy": "nmdp", "weight_kg": "", "sizes": "",
            "level": "5/6", "underserved": "10"}  # fmt: skip


def _int(form: dict[str, str], name: str) -> int:
    text = form[name].strip()
    if not text.lstrip("-").isdigit():
        raise InvalidInputError(f"{text!r} is not a whole number", where=name)
    return int(text)


def _query(form: dict[str, str]) -> Any:
    from cordmatch.services.coverage_query import CoverageQuery

    weight = form["weight_kg"].strip()
    try:
        weight_kg = float(weight) if weight else None
    except ValueError:
        raise InvalidInputError(f"{weight!r} is not a weight in kg", where="weight_kg") from None
    return CoverageQuery(
        population=form["population"],
        patients=_int(form, "patients"),
        seed=_int(form, "seed"),
        weight_kg=weight_kg,
        no_dose=form.get("no_dose") == "1",
        policy=form["policy"],
        sizes=form["sizes"].strip() or None,
        level=form["level"],
        underserved=_int(form, "underserved"),
    )


@router.get("/coverage", response_class=HTMLResponse)
@guard
def coverage_page(request: Request) -> Response:
    from cordmatch.coverage.engine import LEVELS
    from cordmatch.http.coverage import coverage_report

    user = session_user(request)
    params = request.query_params
    form = {k: params.get(k, DEFAULTS[k]) for k in FIELDS}
    form["no_dose"] = params.get("no_dose", "")
    ctx: dict[str, Any] = {"form": form, "levels": LEVELS, "report": None}
    if not allows(user.role, Permission.UNIT_READ):
        err = PermissionDeniedError(f"{user.username} may not see the bank's coverage", where="role")
        return render(request, "coverage.html", ctx, user=user, status=403, error=err)
    if "run" not in params:
        return render(request, "coverage.html", ctx, user=user)
    try:
        ctx["report"] = coverage_report(request, _query(form), plot=True)
    except CordmatchError as exc:
        return render(request, "coverage.html", ctx, user=user, status=http_status(exc), error=exc)
    return render(request, "coverage.html", ctx, user=user)
