"""The bank service of the app and the page session: what the API's dependencies and the pages share.

The session cookie, set at password login, is itself an API token (stored hashed, revoked at log-out):
``<token id>.<token>``. The API accepts it only for safe methods (``cordmatch.api.deps``); the pages'
forms carry a CSRF token bound to it (ADR 0501).
"""

from __future__ import annotations

from fastapi import Request

from cordmatch.errors import PermissionDeniedError
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService

SESSION_COOKIE = "cordmatch_session"


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
