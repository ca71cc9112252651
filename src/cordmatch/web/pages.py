"""The pages: log in/out, unit list and detail (timeline), register, results, release checklist,
reservations and search. Every action calls the bank service layer, like the CLI and the API.

Forms post to the page routes (CSRF token checked), which redirect on success (``?msg=``) and
re-render the form with the error naming the field on failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from cordmatch.api.deps import SESSION_COOKIE, bank_service, session_principal, split_session
from cordmatch.bank.lifecycle import GUARDED, UnitState, state_of
from cordmatch.bank.roles import Permission, allows
from cordmatch.errors import CordmatchError, InvalidInputError, PermissionDeniedError
from cordmatch.plausibility import check_number
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService
from cordmatch.services.schemas import STAGES, UnitFilter
from cordmatch.services.search_query import UNAVAILABLE, SearchQuery
from cordmatch.web import forms as f
from cordmatch.web import present

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["zip_self"] = lambda values: [(v, v) for v in values]


def _stamp(value: object) -> str:
    """A timestamp (datetime or ISO text) as ``YYYY-MM-DD HH:MM:SS`` UTC."""
    when: datetime
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S")


templates.env.filters["stamp"] = _stamp
templates.env.filters["num"] = present.number
templates.env.filters["cells"] = present.cells
templates.env.filters["field_label"] = present.field_label
templates.env.filters["human"] = present.human_message
templates.env.filters["plain"] = present.machine_to_human
templates.env.filters["action_words"] = present.action_words
templates.env.globals["not_fields"] = present.NOT_FIELDS
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
SESSION_DAYS = 1
ABO = ("A", "B", "AB", "O")
T = TypeVar("T")


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)
    from cordmatch.web.coverage_page import router as coverage_router

    app.include_router(coverage_router)


# ---------------------------------------------------------------------------------------------- helpers
# The report routes (cordmatch.web.report_routes); the pages link to them only when the app has them.
SEARCH_REPORT_PATH = "/search/report.pdf"
SEARCH_PRINT_PATH = "/search/print"
UNIT_REPORT_PATH = "/units/{din}/report.pdf"
UNIT_LABEL_PATH = "/units/{din}/label.pdf"


def _has_route(request: Request, path: str) -> bool:
    return any(getattr(r, "path", None) == path for r in request.app.routes)


def _svc(request: Request) -> BankService:
    return bank_service(request)


def _user(request: Request) -> Principal:
    principal = session_principal(request)
    if principal is None:
        raise _Redirect("/login?" + urlencode({"next": request.url.path}))
    return principal


def render(
    request: Request,
    name: str,
    ctx: dict[str, Any] | None = None,
    *,
    user: Principal | None = None,
    status: int = 200,
    error: CordmatchError | str | None = None,
) -> HTMLResponse:
    nonce, new = f.csrf_nonce(request)
    context: dict[str, Any] = {
        "user": user,
        "csrf": f.csrf_token(request.app.state.secret, nonce, request.cookies.get(SESSION_COOKIE, "")),
        "msg": request.query_params.get("msg"),
        "error": None,
        "error_field": None,
        "form": {},
        "can": (lambda p: allows(user.role, Permission(p))) if user else (lambda p: False),
    }
    if isinstance(error, CordmatchError):
        context["error"], context["error_field"] = present.human_message(error.message), (error.where or "")
    elif error:
        context["error"] = present.human_message(error)
    context.update(ctx or {})
    if name == "error.html":
        context["error_field"] = None  # no form on the page: nothing to link to
    response = templates.TemplateResponse(request, name, context, status_code=status)
    if new:
        response.set_cookie(
            f.CSRF_COOKIE, nonce, httponly=True, samesite="strict", secure=request.app.state.secure_cookies
        )
    return response


def _status(exc: CordmatchError) -> int:
    from cordmatch.api.problems import status_of

    return status_of(exc)


def _on_field(exc: CordmatchError, service_name: str, form_name: str) -> CordmatchError:
    """The error pointed at the form's field when the service names the same value differently."""
    return type(exc)(exc.message, where=form_name) if exc.where == service_name else exc


def _back(url: str, msg: str) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}msg={quote(msg)}", status_code=303)


async def _form(request: Request) -> FormData:
    form = await request.form()
    if not f.csrf_ok(request, form):
        raise PermissionDeniedError("the form expired or did not come from this site: reload the page", where="csrf")
    return form


async def _call(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    return await run_in_threadpool(fn, *args, **kw)


def _guard(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Redirect to the login page when there is no session."""
    import functools

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kw: Any) -> Any:
        try:
            return await handler(*args, **kw)
        except _Redirect as r:
            return RedirectResponse(r.url, status_code=303)

    return wrapper


# ---------------------------------------------------------------------------------------------- log in/out
@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    if session_principal(request) is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/units", status_code=303)


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/units"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next"))})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    svc = _svc(request)
    next_url = "/units"
    try:
        form = await _form(request)
        next_url = _safe_next(f.text(form, "next"))
        username, password = f.text(form, "username") or "", form.get("password")
        if not username:
            raise InvalidInputError("enter your user name", where="username")
        if not isinstance(password, str) or not password:
            raise InvalidInputError("enter your password", where="password")
        client = request.client.host if request.client else None
        principal = await _call(svc.authenticate, username, password, client=client)
        token = await _call(svc.issue_token, principal, "web session", days=SESSION_DAYS, throttled=True)
    except CordmatchError as exc:
        status = 401 if type(exc) is PermissionDeniedError and exc.where == "login" else _status(exc)
        ctx = {"next": next_url, "form": {"username": f.text(await request.form(), "username") or ""}}
        if exc.where == "login":
            exc = PermissionDeniedError(exc.message, where="password")
        return render(request, "login.html", ctx, status=status, error=exc)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        f"{token.id}.{token.token}",
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.app.state.secure_cookies,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/login?msg=" + quote("logged out"), status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    # No CSRF check here on purpose: logging out always revokes the session's token (a forged request can
    # at worst log the user out), so a copied cookie never outlives a log-out.
    principal = session_principal(request)
    parsed = f_split(request)
    if principal is not None and parsed is not None:
        await _call(_svc(request).revoke_token, principal, parsed[0])
    return response


def f_split(request: Request) -> tuple[int, str] | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return split_session(cookie) if cookie else None


# ---------------------------------------------------------------------------------------------- units
@router.get("/units", response_class=HTMLResponse)
@_guard
async def units(request: Request) -> Response:
    user = _user(request)
    svc = _svc(request)
    q = request.query_params
    filt = {k: (q.get(k) or "").strip() for k in ("state", "bank_code", "abo", "text")}
    try:
        page_no = max(1, int(q.get("page") or 1))
    except ValueError:
        page_no = 1
    banks = await _call(svc.list_banks, user)
    error: CordmatchError | None = None
    page = None
    try:
        filters = UnitFilter(
            state=filt["state"] or None,
            bank_code=filt["bank_code"] or None,
            abo=filt["abo"] or None,
            din_prefix=_din_prefix(filt["text"]) or None,
        )
        page = await _call(svc.list_units, user, filters, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
    except CordmatchError as exc:
        error = exc
    pages = max(1, -(-page.total // PAGE_SIZE)) if page else 1

    def link(n: int) -> str:
        return "/units?" + urlencode({**{k: v for k, v in filt.items() if v}, "page": n})

    export = {k: v for k, v in {"state": filt["state"], "bank_code": filt["bank_code"], "abo": filt["abo"],
                                "din_prefix": filt["text"]}.items() if v}  # fmt: skip
    ctx = {
        "page": page,
        "export_url": "/api/v1/units/export.csv" + ("?" + urlencode(export) if export else ""),
        "filt": filt,
        "banks": banks,
        "states": [s.value for s in UnitState],
        "abos": ABO,
        "page_no": page_no,
        "pages": pages,
        "prev_url": link(page_no - 1) if page_no > 1 else None,
        "next_url": link(page_no + 1) if page_no < pages else None,
    }
    return render(request, "units.html", ctx, user=user, error=error, status=_status(error) if error else 200)


def _din_prefix(text: str) -> str:
    """The start of a DIN as stored: spaces dropped, a whole labelled DIN without its check character."""
    from cordmatch.bank.din import parse_din

    compact = text.replace(" ", "")
    try:
        return str(parse_din(compact)) if len(compact) >= 13 else compact
    except InvalidInputError:
        return compact


async def _new_ctx(request: Request, user: Principal) -> dict[str, Any]:
    svc = _svc(request)
    banks = await _call(svc.list_banks, user)
    codes = await _call(svc.product_codes)
    return {"banks": banks, "codes": sorted(codes.codes.items()), "abos": ABO}


@router.get("/units/new", response_class=HTMLResponse)
@_guard
async def new_unit_page(request: Request) -> Response:
    user = _user(request)
    if not allows(user.role, Permission.UNIT_WRITE):
        denied = PermissionDeniedError(f"{user.username} with role {user.role.value} may not unit.write")
        return render(request, "error.html", {}, user=user, status=403, error=denied)
    return render(request, "unit_new.html", await _new_ctx(request, user), user=user)


@router.post("/units/new", response_class=HTMLResponse)
@_guard
async def new_unit(request: Request) -> Response:
    user = _user(request)
    svc = _svc(request)
    form: FormData | None = None
    try:
        form = await _form(request)
        data: dict[str, Any] = {
            "din": f.text(form, "din") or "",
            "product_code": f.text(form, "product_code") or "",
            "bank_code": f.text(form, "bank_code") or "",
            "collected_at": f.when(form, "collected_at"),
            "collection_volume_ml": f.number(form, "collection_volume_ml"),
            "hla_gl": f.text(form, "hla_gl"),
        }
        if not data["din"]:
            raise InvalidInputError("the DIN is required", where="din")
        if data["collected_at"] is None:
            raise InvalidInputError("the collection date and time are required", where="collected_at")
        collection = f.measurement(form, "collection.")
        if collection:
            data["collection"] = collection
        position = {p: f.text(form, f"storage.{p}") for p in ("tank", "rack", "box", "slot")}
        if any(position.values()):
            missing = [p for p, v in position.items() if not v]
            if missing:
                raise InvalidInputError(
                    "a storage position needs tank, rack, box and slot", where=f"storage.{missing[0]}"
                )
            data["storage"] = position
        out = await _call(svc.register_unit, user, data)
    except CordmatchError as exc:
        ctx = await _new_ctx(request, user)
        ctx["form"] = dict(form) if form else {}
        return render(request, "unit_new.html", ctx, user=user, status=_status(exc), error=exc)
    return _back(f"/units/{out.din}", f"unit {out.din_labelled} registered")


# ---------------------------------------------------------------------------------------------- CSV import
MAX_IMPORT_BYTES = 5_000_000


async def _import_ctx(request: Request) -> dict[str, Any]:
    from cordmatch.services.bank_csv import COLUMNS, REQUIRED

    return {"columns": COLUMNS, "required": REQUIRED, "issues": [], "imported": None}


@router.get("/units/import", response_class=HTMLResponse)
@_guard
async def import_page(request: Request) -> Response:
    user = _user(request)
    if not allows(user.role, Permission.UNIT_WRITE):
        denied = PermissionDeniedError(f"{user.username} with role {user.role.value} may not unit.write", where="role")
        return render(request, "error.html", {}, user=user, status=403, error=denied)
    return render(request, "import.html", await _import_ctx(request), user=user)


@router.post("/units/import", response_class=HTMLResponse)
@_guard
async def import_units(request: Request) -> Response:
    """All or nothing: the per-line report of a refused file, or the list of the units registered."""
    from cordmatch.services.bank_csv import CsvImportError, import_units_csv

    user = _user(request)
    ctx = await _import_ctx(request)
    try:
        form = await _form(request)
        text = await _csv_text(form)
        result = await _call(import_units_csv, _svc(request), user, text)
    except CsvImportError as exc:
        ctx["issues"] = exc.issues
        n = len(exc.issues)
        summary = InvalidInputError(
            f"nothing imported: {n} problem{'' if n == 1 else 's'} in the file, each listed below with its line",
            where="file",
        )
        return render(request, "import.html", ctx, user=user, status=422, error=summary)
    except CordmatchError as exc:
        return render(request, "import.html", ctx, user=user, status=_status(exc), error=exc)
    ctx["imported"] = result.dins
    return render(request, "import.html", ctx, user=user)


async def _csv_text(form: FormData) -> str:
    """The uploaded file's (or the pasted) CSV text; an empty, too large or non-UTF-8 file is named."""
    upload = form.get("file")
    raw: bytes = b""
    if upload is not None and not isinstance(upload, str):
        raw = await upload.read(MAX_IMPORT_BYTES + 1)
    if not raw:
        pasted = form.get("csv")
        raw = pasted.encode("utf-8") if isinstance(pasted, str) else b""
    if not raw.strip():
        raise InvalidInputError("choose a CSV file (or paste its text)", where="file")
    if len(raw) > MAX_IMPORT_BYTES:
        raise InvalidInputError(f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB", where="file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"the file is not UTF-8 text (byte {exc.start})", where="file") from None


async def _unit_ctx(request: Request, user: Principal, din: str) -> dict[str, Any]:
    svc = _svc(request)
    unit = await _call(svc.get_unit, user, din)
    timeline: list[dict[str, Any]] = []
    if allows(user.role, Permission.UNIT_READ):
        timeline = await _call(svc.timeline, user, din)
        for entry in timeline:
            entry["changes"] = f.changes(entry["before"], entry["after"])
    plain = [
        s
        for s in unit.allowed_next
        if (state_of(unit.state), state_of(s)) not in GUARDED
        and s not in ("discarded", "research")
        and (unit.state, s) != ("received", "processed")  # the processing form asks for its counts
    ]
    return {
        "unit": unit,
        "timeline": timeline,
        "plain_next": plain,
        "stages": STAGES,
        "abos": ABO,
        "can_discard": any(s in unit.allowed_next for s in ("discarded", "research")),
        # the unit report and bag label: linked only when the app has their routes
        "unit_report_url": f"/units/{unit.din}/report.pdf" if _has_route(request, UNIT_REPORT_PATH) else None,
        "unit_label_url": f"/units/{unit.din}/label.pdf" if _has_route(request, UNIT_LABEL_PATH) else None,
    }


@router.get("/units/{din}", response_class=HTMLResponse)
@_guard
async def unit_page(request: Request, din: str) -> Response:
    user = _user(request)
    try:
        ctx = await _unit_ctx(request, user, din)
    except CordmatchError as exc:
        return render(request, "error.html", {}, user=user, status=_status(exc), error=exc)
    return render(request, "unit.html", ctx, user=user)


def _unit_action(
    action: Callable[[BankService, Principal, str, FormData], Any], done: str
) -> Callable[[Request, str], Any]:
    """A POST on the unit page: check CSRF, call the service, redirect; or re-render with the error."""

    @_guard
    async def handler(request: Request, din: str) -> Response:
        user = _user(request)
        svc = _svc(request)
        form: FormData | None = None
        try:
            form = await _form(request)
            result = await _call(action, svc, user, din, form)
        except CordmatchError as exc:
            try:
                ctx = await _unit_ctx(request, user, din)
            except CordmatchError as exc2:
                return render(request, "error.html", {}, user=user, status=_status(exc2), error=exc2)
            ctx["form"] = dict(form) if form else {}
            ctx["failed_action"] = done
            return render(request, "unit.html", ctx, user=user, status=_status(exc), error=exc)
        target = result if isinstance(result, str) and result.startswith("/") else f"/units/{din}"
        return _back(target, done)

    return handler


def _transition(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    target = f.text(form, "target")
    if not target:
        raise InvalidInputError("choose the next state", where="target")
    return svc.transition(user, din, target, reason=f.text(form, "reason"))


def _processing(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    return svc.record_processing(
        user, din, f.measurement(form), red_cell_depleted=f.checkbox(form, "red_cell_depleted")
    )


def _measurement(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    stage = f.text(form, "stage") or ""
    values = f.measurement(form)
    if not values:
        raise InvalidInputError("enter at least one count", where="tnc")
    if f.checkbox(form, "correction"):  # a released unit: audited correction with a reason
        return svc.correct_measurement(user, din, stage, values, reason=f.text(form, "reason") or "")
    return svc.record_measurement(user, din, stage, values)


def _tests(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    data: dict[str, Any] = {k: f.text(form, k) for k in ("abo", "rh", "idm_result", "sterility", "hb_screen")}
    data["segments"] = f.integer(form, "segments")
    data = {k: v for k, v in data.items() if v is not None}
    if not data:
        raise InvalidInputError("enter at least one result", where="abo")
    return svc.record_tests(user, din, data)


def _typing(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    gl = f.text(form, "gl")
    if not gl:
        raise InvalidInputError("enter the typing as a GL string", where="gl")
    try:
        return svc.record_typing(user, din, gl, kind=f.text(form, "kind") or "initial", lab=f.text(form, "lab"))
    except CordmatchError as exc:
        raise _on_field(exc, "hla_gl", "gl") from None


def _storage(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    pos = {p: f.text(form, f"storage.{p}") or "" for p in ("tank", "rack", "box", "slot")}
    for p, v in pos.items():
        if not v:
            raise InvalidInputError(f"the storage {p} is required", where=f"storage.{p}")
    return svc.set_storage(user, din, pos)


def _discard(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    return svc.discard(user, din, f.text(form, "reason") or "", research=f.checkbox(form, "research"))


def _reserve(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    days = f.integer(form, "days")
    return svc.reserve(
        user,
        din,
        f.text(form, "patient_ref") or "",
        centre=f.text(form, "centre"),
        days=days if days is not None else 30,
        request_ct=f.checkbox(form, "request_ct"),
    )


def _ship(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    return svc.ship(user, din, note=f.text(form, "note"))


def _infuse(svc: BankService, user: Principal, din: str, form: FormData) -> Any:
    return svc.infuse(user, din, note=f.text(form, "note"))


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
@_guard
async def probability_page(request: Request, din: str) -> Response:
    """P(0/1/2 mismatches) per locus and the 8/8, 6/6 distributions of a patient and this unit
    (services.probability; imputed from haplotype frequencies)."""
    user = _user(request)
    q = request.query_params
    form = {"patient_gl": q.get("patient_gl", ""), "population": q.get("population", "")}
    try:
        unit = await _call(_svc(request).get_unit, user, din)
    except CordmatchError as exc:
        return render(request, "error.html", {}, user=user, status=_status(exc), error=exc)
    ctx: dict[str, Any] = {"unit": unit, "form": form, "result": None, "populations": PROBABILITY_POPULATIONS}
    if not form["patient_gl"]:
        return render(request, "probability.html", ctx, user=user)
    try:
        if not unit.hla_gl:
            raise InvalidInputError(f"unit {unit.din_labelled} has no HLA typing recorded", where="unit")
        ctx["result"] = await _call(_match_probability, form["patient_gl"], unit.hla_gl, form["population"])
    except CordmatchError as exc:
        return render(request, "probability.html", ctx, user=user, status=_status(exc), error=exc)
    return render(request, "probability.html", ctx, user=user)


def _match_probability(patient_gl: str, unit_gl: str, population: str) -> dict[str, Any]:
    from cordmatch.errors import CordmatchError as _Err
    from cordmatch.services.probability import match_probability, parse_population
    from cordmatch.sim.haplotypes import MIX_WEIGHTS

    pop: Any = parse_population(population) if population.strip() else MIX_WEIGHTS
    try:
        result = match_probability(patient_gl, unit_gl, pop)
    except _Err as exc:  # the patient's typing is the only thing typed on this page
        if exc.where in (None, "", "--population", "population"):
            raise
        raise InvalidInputError(exc.message, where="patient_gl") from None
    return result.to_dict()


# ---------------------------------------------------------------------------------------------- release
async def _release_ctx(request: Request, user: Principal, din: str) -> dict[str, Any]:
    svc = _svc(request)
    unit = await _call(svc.get_unit, user, din)
    decision = await _call(svc.release_check, user, din)
    return {"unit": unit, "decision": decision}


@router.get("/units/{din}/release", response_class=HTMLResponse)
@_guard
async def release_page(request: Request, din: str) -> Response:
    user = _user(request)
    try:
        ctx = await _release_ctx(request, user, din)
    except CordmatchError as exc:
        return render(request, "error.html", {}, user=user, status=_status(exc), error=exc)
    return render(request, "release.html", ctx, user=user)


@router.post("/units/{din}/release", response_class=HTMLResponse)
@_guard
async def release(request: Request, din: str) -> Response:
    user = _user(request)
    form: FormData | None = None
    try:
        form = await _form(request)
        out = await _call(_svc(request).release, user, din, exceptional_reason=f.text(form, "exceptional_reason"))
    except CordmatchError as exc:
        try:
            ctx = await _release_ctx(request, user, din)
        except CordmatchError as exc2:
            return render(request, "error.html", {}, user=user, status=_status(exc2), error=exc2)
        ctx["form"] = dict(form) if form else {}
        if exc.where == "qc":  # the reason field is what would make it pass
            exc = type(exc)(exc.message, where="exceptional_reason")
        return render(request, "release.html", ctx, user=user, status=_status(exc), error=exc)
    what = "released (exceptional release)" if out.exceptional else "released: now available"
    return _back(f"/units/{din}", f"unit {what}")


# ---------------------------------------------------------------------------------------------- reservations
@router.get("/reservations", response_class=HTMLResponse)
@_guard
async def reservations(request: Request) -> Response:
    user = _user(request)
    status = request.query_params.get("status") or "active"
    if status not in ("active", "cancelled", "expired", "shipped", "all"):
        status = "active"
    try:
        items = await _call(_svc(request).list_reservations, user, status=None if status == "all" else status)
    except CordmatchError as exc:
        return render(request, "error.html", {}, user=user, status=_status(exc), error=exc)
    return render(request, "reservations.html", {"items": items, "status": status}, user=user)


@router.post("/reservations/{reservation_id}/cancel", response_class=HTMLResponse)
@_guard
async def cancel_reservation(request: Request, reservation_id: int) -> Response:
    user = _user(request)
    try:
        form = await _form(request)
        await _call(_svc(request).cancel_reservation, user, reservation_id, f.text(form, "reason") or "")
    except CordmatchError as exc:
        items = await _call(_svc(request).list_reservations, user, status="active")
        ctx = {"items": items, "status": "active", "failed_id": reservation_id}
        return render(request, "reservations.html", ctx, user=user, status=_status(exc), error=exc)
    return _back("/reservations", f"reservation {reservation_id} cancelled")


@router.post("/reservations/{reservation_id}/ct-request", response_class=HTMLResponse)
@_guard
async def ct_request(request: Request, reservation_id: int) -> Response:
    user = _user(request)
    try:
        await _form(request)
        await _call(_svc(request).request_confirmatory_typing, user, reservation_id)
    except CordmatchError as exc:
        items = await _call(_svc(request).list_reservations, user, status="active")
        ctx = {"items": items, "status": "active", "failed_id": reservation_id}
        return render(request, "reservations.html", ctx, user=user, status=_status(exc), error=exc)
    return _back("/reservations", f"confirmatory typing requested for reservation {reservation_id}")


@router.post("/reservations/{reservation_id}/ct-result", response_class=HTMLResponse)
@_guard
async def ct_result(request: Request, reservation_id: int) -> Response:
    """Record the confirmatory typing of a reserved unit (it supersedes the unit's typing, history kept)."""
    user = _user(request)
    form: FormData | None = None
    try:
        form = await _form(request)
        gl = f.text(form, "gl")
        if not gl:
            raise InvalidInputError("enter the confirmatory typing as a GL string", where="gl")
        await _call(_svc(request).record_confirmatory_typing, user, reservation_id, gl, lab=f.text(form, "lab"))
    except CordmatchError as exc:
        exc = _on_field(exc, "hla_gl", "gl")
        items = await _call(_svc(request).list_reservations, user, status="active")
        ctx = {"items": items, "status": "active", "failed_id": reservation_id, "form": dict(form) if form else {}}
        return render(request, "reservations.html", ctx, user=user, status=_status(exc), error=exc)
    return _back("/reservations", f"confirmatory typing recorded for reservation {reservation_id}")


# ---------------------------------------------------------------------------------------------- search
SEARCH_FIELDS = (
    "patient_gl", "weight_kg", "policy", "diagnosis", "abo", "top", "antibodies", "explain", "population", "research"
)  # fmt: skip


@router.get("/search", response_class=HTMLResponse)
@_guard
async def search_page(request: Request) -> Response:
    user = _user(request)
    backend = request.app.state.search_backend
    q = request.query_params
    ctx: dict[str, Any] = {"available": backend is not None, "unavailable": UNAVAILABLE, "view": None}
    ctx["form"] = {k: q.get(k, "") for k in SEARCH_FIELDS}
    # the research option as the checkbox sends it ("on" or ""), so that it survives the compare form
    ctx["form"]["research"] = "on" if q.get("research") in ("on", "true", "1") else ""
    ctx["compare_dins"] = compare = list(dict.fromkeys(q.getlist("compare")))
    ctx["compare"], ctx["compare_rules"] = [], []
    if not q.get("patient_gl"):
        return render(request, "search.html", ctx, user=user)
    if backend is None:
        return render(request, "search.html", ctx, user=user, status=501, error=UNAVAILABLE)
    query_string = urlencode({k: v for k, v in ctx["form"].items() if v})
    if _has_route(request, SEARCH_REPORT_PATH):
        ctx["report_url"] = f"{SEARCH_REPORT_PATH}?{query_string}"
    if _has_route(request, SEARCH_PRINT_PATH):
        ctx["print_url"] = f"{SEARCH_PRINT_PATH}?{query_string}"
    try:
        if not allows(user.role, Permission.UNIT_SEARCH):
            raise PermissionDeniedError(
                f"{user.username} with role {user.role.value} may not unit.search", where="role"
            )
        query = _search_query(q)
        outcome = await _call(backend, user, query)
    except CordmatchError as exc:
        return render(request, "search.html", ctx, user=user, status=_status(exc), error=exc)
    ctx["view"] = view = present.search_view(outcome)
    ctx["now"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    ctx["probability_query"] = urlencode({"patient_gl": ctx["form"]["patient_gl"]})
    if compare:
        chosen = [r for r in view["rows"] if r.dins[0] in compare]
        if not 2 <= len(compare) <= 3:
            err = InvalidInputError("select two or three units to compare side by side", where="compare")
            return render(request, "search.html", ctx, user=user, status=422, error=err)
        ctx["compare"] = chosen
        ctx["compare_rules"] = list(dict.fromkeys(c["rule"] for r in chosen for c in r.checks))
    return render(request, "search.html", ctx, user=user)


def _unit_id(text: str) -> str:
    """A DIN as the index holds it (spaces and check character dropped: the unit list shows them), or the
    text as typed when it is no DIN (other registries' ids); a wrong check character is refused."""
    from cordmatch.bank.din import parse_din

    text = text.strip()
    if not text:
        return text
    compact = text.replace(" ", "")
    try:
        return str(parse_din(compact))
    except InvalidInputError as exc:
        try:
            parse_din(compact[:13])  # 13 good characters: what follows is a wrong check character
        except InvalidInputError:
            return text
        raise InvalidInputError(exc.message, where="explain") from None


def _search_query(q: Any) -> SearchQuery:
    """The API's SearchQuery from the page's query string; a bad value names the field, in words."""
    from pydantic import ValidationError

    weight = f.number(q, "weight_kg")
    if weight is None:
        raise InvalidInputError("enter the patient's weight in kg", where="weight_kg")
    top = f.integer(q, "top")
    try:
        return SearchQuery(
            patient_gl=q.get("patient_gl", ""),
            weight_kg=weight,
            policy=q.get("policy") or "nmdp",
            top=top or 10,
            diagnosis=q.get("diagnosis") or None,
            abo=q.get("abo") or None,
            antibodies=q.get("antibodies") or None,
            explain=_unit_id(q.get("explain") or "") or None,
            population=q.get("population") or None,
            research=q.get("research") in ("on", "true", "1"),
        )
    except ValidationError as exc:  # the message, never the library's URL
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or "weight_kg"
        msg = str(first.get("msg", "not valid")).removeprefix("Input ").removeprefix("Value error, ")
        raise InvalidInputError(msg[:1].lower() + msg[1:], where=name) from None


# ---------------------------------------------------------------------------------------------- plots
def _plot_number(q: Any, name: str, *, integer: bool = False) -> float | int | None:
    raw = q.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw) if integer else float(raw)
    except (ValueError, OverflowError):
        raise InvalidInputError(f"{name} must be a number, got {raw!r}", where=name) from None


@router.get("/plots/engraftment.svg")
async def engraftment_plot(request: Request) -> Response:
    """SVG of the estimated cumulative incidence of neutrophil engraftment for one graft (from the query:
    tnc (x10^7/kg), cd34 (x10^5/kg), m8, m6, double=1, dsa=1). Needs a session (401 otherwise)."""
    from cordmatch.outcomes import estimate_for_search_result
    from cordmatch.outcomes_plot import plot_engraftment

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
        svg = await run_in_threadpool(plot_engraftment, [("this graft", est)], "svg")
    except CordmatchError as exc:
        problem = {"type": "urn:cordmatch:problem:invalid-input", "title": "Bad plot request", "status": 422,
                   "detail": str(exc), "errors": [{"field": exc.where or "query", "detail": exc.message}]}  # fmt: skip
        return Response(json.dumps(problem), status_code=422, media_type="application/problem+json")
    return Response(content=svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})
