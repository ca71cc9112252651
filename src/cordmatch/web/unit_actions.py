"""What the unit page changes (state, counts, tests, typing, storage, discard, reserve, ship, infuse), the
release checklist and the match probability of a patient and the unit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from cordmatch.errors import CordmatchError, InvalidInputError
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService
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
from cordmatch.web.unit_pages import unit_ctx

if TYPE_CHECKING:
    from cordmatch.hla.tables import NomenclatureTables

router = APIRouter(include_in_schema=False)


def _unit_action(action: Callable[[BankService, Principal, str, FormData], Any], done: str) -> Callable[..., Response]:
    """A POST on the unit page: check CSRF, call the service, redirect; or re-render with the error."""

    @guard
    def handler(request: Request, din: str, posted: PostedForm) -> Response:
        user = session_user(request)
        svc = service(request)
        form: FormData | None = None
        try:
            form = checked_form(request, posted)
            result = action(svc, user, din, form)
        except CordmatchError as exc:
            try:
                ctx = unit_ctx(request, user, din)
            except CordmatchError as exc2:
                return render(request, "error.html", {}, user=user, status=http_status(exc2), error=exc2)
            ctx["form"] = dict(form) if form else {}
            ctx["failed_action"] = done
            return render(request, "unit.html", ctx, user=user, status=http_status(exc), error=exc)
        target = result if isinstance(result, str) and result.startswith("/") else f"/units/{din}"
        return back(target, done)

    return handler


def _transition(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    target = f.text(form, "target")
    if not target:
        raise InvalidInputError("choose the next state", where="target")
    return svc.units.transition(user, din, target, reason=f.text(form, "reason"))


def _processing(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    return svc.units.record_processing(
        user, din, f.measurement(form), red_cell_depleted=f.checkbox(form, "red_cell_depleted")
    )


def _measurement(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    stage = f.text(form, "stage") or ""
    values = f.measurement(form)
    if not values:
        raise InvalidInputError("enter at least one count", where="tnc")
    if f.checkbox(form, "correction"):  # a released unit: audited correction with a reason
        return svc.units.correct_measurement(user, din, stage, values, reason=f.text(form, "reason") or "")
    return svc.units.record_measurement(user, din, stage, values)


def _tests(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    data: dict[str, Any] = {k: f.text(form, k) for k in ("abo", "rh", "idm_result", "sterility", "hb_screen")}
    data["segments"] = f.integer(form, "segments")
    data = {k: v for k, v in data.items() if v is not None}
    if not data:
        raise InvalidInputError("enter at least one result", where="abo")
    return svc.units.record_tests(user, din, data)


def _typing(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    gl = f.text(form, "gl")
    if not gl:
        raise InvalidInputError("enter the typing as a GL string", where="gl")
    try:
        return svc.units.record_typing(user, din, gl, kind=f.text(form, "kind") or "initial", lab=f.text(form, "lab"))
    except CordmatchError as exc:
        raise on_field(exc, "hla_gl", "gl") from None


def _storage(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    pos = {p: f.text(form, f"storage.{p}") or "" for p in ("tank", "rack", "box", "slot")}
    for p, v in pos.items():
        if not v:
            raise InvalidInputError(f"the storage {p} is required", where=f"storage.{p}")
    return svc.units.set_storage(user, din, pos)


def _discard(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    return svc.units.discard(user, din, f.text(form, "reason") or "", research=f.checkbox(form, "research"))


def _reserve(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    days = f.integer(form, "days")
    return svc.reservations.reserve(
        user,
        din,
        f.text(form, "patient_ref") or "",
        centre=f.text(form, "centre"),
        days=days if days is not None else 30,
        request_ct=f.checkbox(form, "request_ct"),
    )


def _ship(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    return svc.reservations.ship(user, din, note=f.text(form, "note"))


def _infuse(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    return svc.reservations.infuse(user, din, note=f.text(form, "note"))


for _path, _fn, _done in (
    ("transition", _transition, "state changed"),
    ("processing", _processing, "processing recorded"),
    ("measurement", _measurement, "counts recorded"),
    ("tests", _tests, "test results recorded"),
    ("typing", _typing, "typing recorded"),
    ("storage", _storage, "storage position recorded"),
    ("discard", _discard, "unit discarded"),
    ("reserve", _reserve, "unit reserved"),
    ("ship", _ship, "unit shipped"),
    ("infuse", _infuse, "infusion recorded"),
):
    router.add_api_route(
        f"/units/{{din}}/{_path}", _unit_action(_fn, _done), methods=["POST"], response_class=HTMLResponse
    )


# ---------------------------------------------------------------------------------------------- match probability
PROBABILITY_POPULATIONS = (("", "US mix (CAU, HIS, AFA, API)"), ("CAU", "CAU"), ("HIS", "HIS"), ("AFA", "AFA"),
                           ("API", "API"))  # fmt: skip


@router.get("/units/{din}/probability", response_class=HTMLResponse)
@guard
def probability_page(request: Request, din: str) -> Response:
    """P(0/1/2 mismatches) per locus and the 8/8, 6/6 distributions of a patient and this unit
    (services.probability; imputed from haplotype frequencies)."""
    user = session_user(request)
    q = request.query_params
    form = {"patient_gl": q.get("patient_gl", ""), "population": q.get("population", "")}
    try:
        unit = service(request).catalogue.get_unit(user, din)
    except CordmatchError as exc:
        return render(request, "error.html", {}, user=user, status=http_status(exc), error=exc)
    ctx: dict[str, Any] = {"unit": unit, "form": form, "result": None, "populations": PROBABILITY_POPULATIONS}
    if not form["patient_gl"]:
        return render(request, "probability.html", ctx, user=user)
    try:
        if not unit.hla_gl:
            raise InvalidInputError(f"unit {unit.din_labelled} has no HLA typing recorded", where="unit")
        tables = request.app.state.application.tables  # what cordmatch.bootstrap built
        ctx["result"] = _match_probability(form["patient_gl"], unit.hla_gl, form["population"], tables)
    except CordmatchError as exc:
        return render(request, "probability.html", ctx, user=user, status=http_status(exc), error=exc)
    return render(request, "probability.html", ctx, user=user)


def _match_probability(patient_gl: str, unit_gl: str, population: str, tables: NomenclatureTables) -> dict[str, Any]:
    from cordmatch.errors import CordmatchError as _Err
    from cordmatch.probability.populations import MIX_WEIGHTS
    from cordmatch.services.probability import match_probability, parse_population

    pop: Any = parse_population(population) if population.strip() else MIX_WEIGHTS
    try:
        result = match_probability(patient_gl, unit_gl, pop, tables=tables)
    except _Err as exc:  # the patient's typing is the only thing typed on this page
        if exc.where in (None, "", "--population", "population"):
            raise
        raise InvalidInputError(exc.message, where="patient_gl") from None
    return result.to_dict()


# ---------------------------------------------------------------------------------------------- release
def _release_ctx(request: Request, user: Principal, din: str) -> dict[str, Any]:
    svc = service(request)
    unit = svc.catalogue.get_unit(user, din)
    decision = svc.release.release_check(user, din)
    return {"unit": unit, "decision": decision}


@router.get("/units/{din}/release", response_class=HTMLResponse)
@guard
def release_page(request: Request, din: str) -> Response:
    user = session_user(request)
    try:
        ctx = _release_ctx(request, user, din)
    except CordmatchError as exc:
        return render(request, "error.html", {}, user=user, status=http_status(exc), error=exc)
    return render(request, "release.html", ctx, user=user)


@router.post("/units/{din}/release", response_class=HTMLResponse)
@guard
def release(request: Request, din: str, posted: PostedForm) -> Response:
    user = session_user(request)
    form: FormData | None = None
    try:
        form = checked_form(request, posted)
        out = service(request).release.release(user, din, exceptional_reason=f.text(form, "exceptional_reason"))
    except CordmatchError as exc:
        try:
            ctx = _release_ctx(request, user, din)
        except CordmatchError as exc2:
            return render(request, "error.html", {}, user=user, status=http_status(exc2), error=exc2)
        ctx["form"] = dict(form) if form else {}
        if exc.where == "qc":  # the reason field is what would make it pass
            exc = type(exc)(exc.message, where="exceptional_reason")
        return render(request, "release.html", ctx, user=user, status=http_status(exc), error=exc)
    what = "released (exceptional release)" if out.exceptional else "released: now available"
    return back(f"/units/{din}", f"unit {what}")
