"""What every page shares: the templates and their filters, rendering with the session's user and CSRF
token, the login redirect, the posted form and its CSRF check, and the error status of a page."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from cordmatch.bank.roles import Permission, allows
from cordmatch.errors import CordmatchError, PermissionDeniedError
from cordmatch.http.problems import status_of
from cordmatch.http.session import SESSION_COOKIE, bank_service, session_principal
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService
from cordmatch.sourced import ABO_GROUPS
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
PAGE_SIZE = 25
SESSION_DAYS = 1
ABO = ABO_GROUPS


class LoginRedirect(Exception):
    """Raised by a handler to send the browser to the login page."""

    def __init__(self, url: str) -> None:
        self.url = url


# ---------------------------------------------------------------------------------------------- helpers
# The report routes (cordmatch.web.report_routes); the pages link to them only when the app has them.
SEARCH_REPORT_PATH = "/search/report.pdf"
SEARCH_PRINT_PATH = "/search/print"
UNIT_REPORT_PATH = "/units/{din}/report.pdf"
UNIT_LABEL_PATH = "/units/{din}/label.pdf"


def has_route(request: Request, path: str) -> bool:
    return any(getattr(r, "path", None) == path for r in request.app.routes)


def service(request: Request) -> BankService:
    return bank_service(request)


def session_user(request: Request) -> Principal:
    principal = session_principal(request)
    if principal is None:
        raise LoginRedirect("/login?" + urlencode({"next": request.url.path}))
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


def http_status(exc: CordmatchError) -> int:
    return status_of(exc)


def on_field(exc: CordmatchError, service_name: str, form_name: str) -> CordmatchError:
    """The error pointed at the form's field when the service names the same value differently."""
    return type(exc)(exc.message, where=form_name) if exc.where == service_name else exc


def back(url: str, msg: str) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}msg={quote(msg)}", status_code=303)


async def posted_form(request: Request) -> FormData:
    """The posted form, read on the event loop before the handler (a plain ``def``) runs in the thread pool."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(posted_form)]


def checked_form(request: Request, form: FormData) -> FormData:
    """``form`` if its CSRF token is good; else the error that asks to reload the page."""
    if not f.csrf_ok(request, form):
        raise PermissionDeniedError("the form expired or did not come from this site: reload the page", where="csrf")
    return form


def guard(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Redirect to the login page when there is no session. Page handlers are plain ``def``: FastAPI runs
    them in its thread pool, so their database calls never block the event loop."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kw: Any) -> Response:
        try:
            return handler(*args, **kw)
        except LoginRedirect as r:
            return RedirectResponse(r.url, status_code=303)

    return wrapper
