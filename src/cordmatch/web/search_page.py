"""The search page: a patient's typing and weight in, the ranked and explained units out (the app's search
backend, as ``POST /api/v1/search``); two or three units side by side."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cordmatch.bank.roles import Permission, allows
from cordmatch.errors import CordmatchError, InvalidInputError, PermissionDeniedError
from cordmatch.services.search_query import UNAVAILABLE, SearchQuery
from cordmatch.web import forms as f
from cordmatch.web import present
from cordmatch.web.base import (
    SEARCH_PRINT_PATH,
    SEARCH_REPORT_PATH,
    guard,
    has_route,
    http_status,
    render,
    session_user,
)

router = APIRouter(include_in_schema=False)


SEARCH_FIELDS = (
    "patient_gl", "weight_kg", "policy", "diagnosis", "abo", "top", "antibodies", "explain", "population", "research"
)  # fmt: skip


@router.get("/search", response_class=HTMLResponse)
@guard
def search_page(request: Request) -> Response:
    user = session_user(request)
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
    if has_route(request, SEARCH_REPORT_PATH):
        ctx["report_url"] = f"{SEARCH_REPORT_PATH}?{query_string}"
    if has_route(request, SEARCH_PRINT_PATH):
        ctx["print_url"] = f"{SEARCH_PRINT_PATH}?{query_string}"
    try:
        if not allows(user.role, Permission.UNIT_SEARCH):
            raise PermissionDeniedError(
                f"{user.username} with role {user.role.value} may not unit.search", where="role"
            )
        query = _search_query(q)
        outcome = backend(user, query)
    except CordmatchError as exc:
        return render(request, "search.html", ctx, user=user, status=http_status(exc), error=exc)
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
