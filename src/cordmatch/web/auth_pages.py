"""Log in and log out: the session cookie is an API token of one day, revoked at log-out."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cordmatch.errors import CordmatchError, InvalidInputError, PermissionDeniedError
from cordmatch.http.session import SESSION_COOKIE, session_principal, split_session
from cordmatch.web import forms as f
from cordmatch.web.base import SESSION_DAYS, PostedForm, checked_form, http_status, render, service

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    if session_principal(request) is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/units", status_code=303)


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/units"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next"))})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, posted: PostedForm) -> Response:
    svc = service(request)
    next_url = "/units"
    try:
        form = checked_form(request, posted)
        next_url = _safe_next(f.text(form, "next"))
        username, password = f.text(form, "username") or "", form.get("password")
        if not username:
            raise InvalidInputError("enter your user name", where="username")
        if not isinstance(password, str) or not password:
            raise InvalidInputError("enter your password", where="password")
        client = request.client.host if request.client else None
        principal = svc.users.authenticate(username, password, client=client)
        token = svc.users.issue_token(principal, "web session", days=SESSION_DAYS, throttled=True)
    except CordmatchError as exc:
        status = 401 if type(exc) is PermissionDeniedError and exc.where == "login" else http_status(exc)
        ctx = {"next": next_url, "form": {"username": f.text(posted, "username") or ""}}
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
def logout(request: Request) -> Response:
    response = RedirectResponse("/login?msg=" + quote("logged out"), status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    # No CSRF check here on purpose: logging out always revokes the session's token (a forged request can
    # at worst log the user out), so a copied cookie never outlives a log-out.
    principal = session_principal(request)
    parsed = _session_id(request)
    if principal is not None and parsed is not None:
        service(request).users.revoke_token(principal, parsed[0])
    return response


def _session_id(request: Request) -> tuple[int, str] | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return split_session(cookie) if cookie else None
