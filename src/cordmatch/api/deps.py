"""Request dependencies: the bank service of the app and the acting principal.

Who is acting comes from ``Authorization: Bearer <API token>`` or, for the pages, the session cookie
set at password login. The session cookie is itself an API token (stored hashed, revoked at log-out)
and is accepted by the API only for safe methods (GET/HEAD): state-changing API calls need the Bearer
header, and the pages' forms carry a CSRF token instead (ADR 0501).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cordmatch.api.problems import NotAuthenticatedError
from cordmatch.errors import PermissionDeniedError
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService

SESSION_COOKIE = "cordmatch_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bank_service(request: Request) -> BankService:
    svc: BankService = request.app.state.bank
    return svc


def split_session(cookie: str) -> tuple[int, str] | None:
    """``<token id>.<token>`` -> (id, token); None when malformed."""
    ident, sep, token = cookie.partition(".")
    if not sep or not ident.isdigit() or not token:
        return None
    return int(ident), token


def session_principal(request: Request) -> Principal | None:
    """The principal of the page session cookie, or None (absent, expired, revoked)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    parsed = split_session(cookie) if cookie else None
    if parsed is None:
        return None
    try:
        return bank_service(request).users.authenticate_token(parsed[1])
    except PermissionDeniedError:
        return None


def current_principal(request: Request) -> Principal:
    """The caller: Bearer token, else (safe methods only) the page session; 401 otherwise."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticatedError("Authorization must be 'Bearer <API token>'", where="Authorization")
        try:
            return bank_service(request).users.authenticate_token(token.strip())
        except PermissionDeniedError as exc:
            raise NotAuthenticatedError(exc.message, where="Authorization") from None
    if request.method in SAFE_METHODS:
        principal = session_principal(request)
        if principal is not None:
            return principal
    raise NotAuthenticatedError(
        "authentication required: send 'Authorization: Bearer <API token>' (POST /api/v1/auth/token)",
        where="Authorization",
    )


Actor = Annotated[Principal, Depends(current_principal)]
Bank = Annotated[BankService, Depends(bank_service)]
