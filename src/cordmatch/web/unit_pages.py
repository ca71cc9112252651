"""The unit list, registering a unit (form or CSV import) and the unit page with its timeline."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from cordmatch.bank.lifecycle import GUARDED, UnitState, state_of
from cordmatch.bank.roles import Permission, allows
from cordmatch.errors import CordmatchError, InvalidInputError, PermissionDeniedError
from cordmatch.services.auth import Principal
from cordmatch.services.schemas import STAGES, UnitFilter
from cordmatch.web import forms as f
from cordmatch.web.base import (
    ABO,
    PAGE_SIZE,
    UNIT_LABEL_PATH,
    UNIT_REPORT_PATH,
    PostedForm,
    back,
    checked_form,
    guard,
    has_route,
    http_status,
    render,
    service,
    session_user,
)

router = APIRouter(include_in_schema=False)


@router.get("/units", response_class=HTMLResponse)
@guard
def units(request: Request) -> Response:
    user = session_user(request)
    svc = service(request)
    q = request.query_params
    filt = {k: (q.get(k) or "").strip() for k in ("state", "bank_code", "abo", "text")}
    try:
        page_no = max(1, int(q.get("page") or 1))
    except ValueError:
        page_no = 1
    banks = svc.catalogue.list_banks(user)
    error: CordmatchError | None = None
    page = None
    try:
        filters = UnitFilter(
            state=filt["state"] or None,
            bank_code=filt["bank_code"] or None,
            abo=filt["abo"] or None,
            din_prefix=_din_prefix(filt["text"]) or None,
        )
        page = svc.catalogue.list_units(user, filters, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
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
    return render(request, "units.html", ctx, user=user, error=error, status=http_status(error) if error else 200)


def _din_prefix(text: str) -> str:
    """The start of a DIN as stored: spaces dropped, a whole labelled DIN without its check character."""
    from cordmatch.bank.din import parse_din

    compact = text.replace(" ", "")
    try:
        return str(parse_din(compact)) if len(compact) >= 13 else compact
    except InvalidInputError:
        return compact


def _new_ctx(request: Request, user: Principal) -> dict[str, Any]:
    svc = service(request)
    banks = svc.catalogue.list_banks(user)
    codes = svc.catalogue.product_codes()
    return {"banks": banks, "codes": sorted(codes.codes.items()), "abos": ABO}


@router.get("/units/new", response_class=HTMLResponse)
@guard
def new_unit_page(request: Request) -> Response:
    user = session_user(request)
    if not allows(user.role, Permission.UNIT_WRITE):
        denied = PermissionDeniedError(f"{user.username} with role {user.role.value} may not unit.write")
        return render(request, "error.html", {}, user=user, status=403, error=denied)
    return render(request, "unit_new.html", _new_ctx(request, user), user=user)


@router.post("/units/new", response_class=HTMLResponse)
@guard
def new_unit(request: Request, posted: PostedForm) -> Response:
    user = session_user(request)
    svc = service(request)
    form: FormData | None = None
    try:
        form = checked_form(request, posted)
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
        out = svc.units.register_unit(user, data)
    except CordmatchError as exc:
        ctx = _new_ctx(request, user)
        ctx["form"] = dict(form) if form else {}
        return render(request, "unit_new.html", ctx, user=user, status=http_status(exc), error=exc)
    return back(f"/units/{out.din}", f"unit {out.din_labelled} registered")


# ---------------------------------------------------------------------------------------------- CSV import
MAX_IMPORT_BYTES = 5_000_000


def _import_ctx(request: Request) -> dict[str, Any]:
    from cordmatch.services.bank_csv import COLUMNS, REQUIRED

    return {"columns": COLUMNS, "required": REQUIRED, "issues": [], "imported": None}


@router.get("/units/import", response_class=HTMLResponse)
@guard
def import_page(request: Request) -> Response:
    user = session_user(request)
    if not allows(user.role, Permission.UNIT_WRITE):
        denied = PermissionDeniedError(f"{user.username} with role {user.role.value} may not unit.write", where="role")
        return render(request, "error.html", {}, user=user, status=403, error=denied)
    return render(request, "import.html", _import_ctx(request), user=user)


@router.post("/units/import", response_class=HTMLResponse)
@guard
def import_units(request: Request, posted: PostedForm) -> Response:
    """All or nothing: the per-line report of a refused file, or the list of the units registered."""
    from cordmatch.services.bank_csv import CsvImportError, import_units_csv

    user = session_user(request)
    ctx = _import_ctx(request)
    try:
        form = checked_form(request, posted)
        text = _csv_text(form)
        result = import_units_csv(service(request), user, text)
    except CsvImportError as exc:
        ctx["issues"] = exc.issues
        n = len(exc.issues)
        summary = InvalidInputError(
            f"nothing imported: {n} problem{'' if n == 1 else 's'} in the file, each listed below with its line",
            where="file",
        )
        return render(request, "import.html", ctx, user=user, status=422, error=summary)
    except CordmatchError as exc:
        return render(request, "import.html", ctx, user=user, status=http_status(exc), error=exc)
    ctx["imported"] = result.dins
    return render(request, "import.html", ctx, user=user)


def _csv_text(form: FormData) -> str:
    """The uploaded file's (or the pasted) CSV text; an empty, too large or non-UTF-8 file is named."""
    upload = form.get("file")
    raw: bytes = b""
    if upload is not None and not isinstance(upload, str):
        raw = upload.file.read(MAX_IMPORT_BYTES + 1)
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


def unit_ctx(request: Request, user: Principal, din: str) -> dict[str, Any]:
    svc = service(request)
    unit = svc.catalogue.get_unit(user, din)
    timeline: list[dict[str, Any]] = []
    if allows(user.role, Permission.UNIT_READ):
        timeline = svc.catalogue.timeline(user, din)
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
        "unit_report_url": f"/units/{unit.din}/report.pdf" if has_route(request, UNIT_REPORT_PATH) else None,
        "unit_label_url": f"/units/{unit.din}/label.pdf" if has_route(request, UNIT_LABEL_PATH) else None,
    }


@router.get("/units/{din}", response_class=HTMLResponse)
@guard
def unit_page(request: Request, din: str) -> Response:
    user = session_user(request)
    try:
        ctx = unit_ctx(request, user, din)
    except CordmatchError as exc:
        return render(request, "error.html", {}, user=user, status=http_status(exc), error=exc)
    return render(request, "unit.html", ctx, user=user)
