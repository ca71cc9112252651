"""Errors as RFC 9457 problem details (``application/problem+json``).

Every 4xx/5xx answer of the API has ``type``, ``title``, ``status``, ``detail`` and, when known, an
``errors`` list whose items name the ``field`` (and the CSV ``line``) that was wrong. cordmatch's typed
errors map to statuses here; nothing ever answers with a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cordmatch.errors import (
    ConflictError,
    CordmatchError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from cordmatch.services.throttle import BusyError, ThrottledError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("cordmatch.api")

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    501: "Not implemented",
    503: "Service unavailable",
}
_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "too-many-requests",
    500: "internal",
    501: "not-implemented",
    503: "unavailable",
}
RETRY_AFTER_S = 5  # said to clients when the database is busy or unreachable


class NotAuthenticatedError(CordmatchError):
    """No (or no valid) credentials: answered 401 with ``WWW-Authenticate: Bearer``."""


class NotImplementedYetError(CordmatchError):
    """A capability that this build does not have (answered 501)."""


def problem_type(status: int) -> str:
    return f"urn:cordmatch:problem:{_SLUGS.get(status, str(status))}"


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(status),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_of(exc: CordmatchError) -> int:
    if isinstance(exc, NotAuthenticatedError):
        return 401
    if isinstance(exc, NotImplementedYetError):
        return 501
    if isinstance(exc, ThrottledError):
        return 429
    if isinstance(exc, BusyError):
        return 503
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, InvalidInputError):
        return 422
    return 400


def errors_of(exc: CordmatchError) -> list[dict[str, Any]]:
    """The ``errors`` list: per-line issues of a CSV import, else the one field the error names."""
    issues = getattr(exc, "issues", None)
    if issues:
        return [{"line": i.line, "field": i.field, "detail": i.message} for i in issues]
    if exc.where:
        return [{"field": exc.where, "detail": exc.message}]
    return []


def _loc_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        item: dict[str, Any] = {"field": _loc_field(err.get("loc", ())), "detail": str(err.get("msg", ""))}
        loc = err.get("loc", ())
        if loc:
            item["in"] = str(loc[0])
        out.append(item)
    return out


def unavailable() -> JSONResponse:
    """503 + Retry-After: the database is busy or unreachable; the request changed nothing."""
    return problem(
        503,
        "the database is busy or unavailable; nothing was changed, retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def install(app: FastAPI) -> None:
    """Register the exception handlers that turn every error into problem+json."""

    @app.exception_handler(CordmatchError)
    async def _cordmatch(request: Request, exc: CordmatchError) -> JSONResponse:
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, ThrottledError):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, BusyError):
            headers = {"Retry-After": str(RETRY_AFTER_S)}
        return problem(status, exc.message, errors=errors_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        status = 400 if malformed else 422
        first = errors[0] if errors else {"field": "body", "detail": "invalid"}
        detail = f"{first['field']}: {first['detail']}"
        if len(errors) > 1:
            detail += f" (+{len(errors) - 1} more)"
        return problem(status, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.url.path}"
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(422, "a value could not be stored (out of range or not representable)")

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        log.warning("number out of range on %s %s: %s", request.method, request.url.path, exc)
        return problem(422, "a number is too large or too small to be used (out of range)")

    @app.exception_handler(RecursionError)
    async def _recursion(request: Request, exc: RecursionError) -> JSONResponse:
        return problem(422, "the input is nested too deeply", errors=[{"field": "body", "detail": "nested too deeply"}])

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        """Database busy (SQLite lock wait timed out, pool exhausted) or unreachable (PostgreSQL restarting)."""
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return unavailable()

    for kind in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(kind, _unavailable)

    @app.exception_handler(DBAPIError)
    async def _dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            log.warning("database connection lost on %s %s: %s", request.method, request.url.path, exc.orig)
            return unavailable()
        log.exception("database error on %s %s", request.method, request.url.path)
        return problem(500, "unexpected server error; it was logged (no details are shown)")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "unexpected server error; it was logged (no details are shown)")
