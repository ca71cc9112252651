"""Form helpers of the pages: CSRF tokens, turning form text into typed values that name the field."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from cordmatch.errors import InvalidInputError
from cordmatch.http.session import SESSION_COOKIE
from cordmatch.plausibility import TEXT_LIMITS

CSRF_COOKIE = "cordmatch_csrf"
CSRF_FIELD = "csrf"


def csrf_nonce(request: Request) -> tuple[str, bool]:
    """The browser's CSRF nonce (cookie) and whether it is new (to be set on the response)."""
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if len(nonce) >= 32:
        return nonce, False
    return secrets.token_urlsafe(32), True


def csrf_token(secret: bytes, nonce: str, session: str) -> str:
    """The form token: HMAC of the nonce cookie bound to the session cookie (signed double submit)."""
    return hmac.new(secret, f"{nonce}|{session}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, form: FormData) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    given = form.get(CSRF_FIELD)
    if len(nonce) < 32 or not isinstance(given, str):
        return False
    expected = csrf_token(request.app.state.secret, nonce, request.cookies.get(SESSION_COOKIE, ""))
    return hmac.compare_digest(given, expected)


MAX_FIELD = max(n for kind, n in TEXT_LIMITS.items() if kind != "json")  # the longest text a form field may hold


def text(form: Mapping[str, Any], name: str) -> str | None:
    """A text field, stripped (empty = None); longer than MAX_FIELD characters is an error naming it."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) > MAX_FIELD:
        raise InvalidInputError(f"{name} is longer than {MAX_FIELD} characters", where=name)
    return value or None


def number(form: Mapping[str, Any], name: str) -> float | None:
    """A number field (empty = None); accepts 1.6e9 and 1,600,000,000."""
    raw = text(form, name)
    if raw is None:
        return None
    try:
        value = float(raw.replace(",", "").replace("_", ""))
    except ValueError:
        raise InvalidInputError(f"{raw!r} is not a number", where=name) from None
    if math.isnan(value) or math.isinf(value):
        raise InvalidInputError(f"{raw!r} is not a number", where=name)
    return value


def integer(form: Mapping[str, Any], name: str) -> int | None:
    value = number(form, name)
    if value is None:
        return None
    if value != int(value):
        raise InvalidInputError(f"{value:g} is not a whole number", where=name)
    return int(value)


def checkbox(form: Mapping[str, Any], name: str) -> bool:
    return text(form, name) in ("on", "true", "1", "yes")


def when(form: Mapping[str, Any], name: str) -> datetime | None:
    """A ``datetime-local`` field, read as UTC (the pages say so), or ISO 8601 with a zone."""
    raw = text(form, name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{raw!r} is not a date and time", where=name) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def measurement(form: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    fields = ("volume_ml", "tnc", "cd34", "viability_pct", "viable_cd34_pct", "viable_cd45_pct", "cfu")
    return {f: v for f in fields if (v := number(form, prefix + f)) is not None}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}


def changes(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """What an audit row changed: (field, before, after) for every differing leaf."""
    b, a = flatten(before or {}), flatten(after or {})
    skip = {"version"}
    return [(k, b.get(k), a.get(k)) for k in sorted(set(a) | set(b)) if k not in skip and a.get(k) != b.get(k)]
