"""Request dependencies of the API: the bank service of the app and the acting principal.

Who is acting comes from ``Authorization: Bearer <API token>`` or, for the pages, the session cookie
set at password login (``cordmatch.http.session``). The session cookie is itself an API token (stored
hashed, revoked at log-out) and is accepted by the API only for safe methods (GET/HEAD): state-changing
API calls need the Bearer header, and the pages' forms carry a CSRF token instead (ADR 0501).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cordmatch.errors import PermissionDeniedError
from cordmatch.http.problems import NotAuthenticatedError
from cordmatch.http.session import bank_service, session_principal
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
