"""Limit/offset pagination: ``total`` and ``self``/``next``/``prev`` links in the body and a Link header."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import Request, Response

from cordmatch.api.models import Links

T = TypeVar("T")
MAX_LIMIT = 1000
MAX_ID = 2**31 - 1  # identifiers in paths (integer columns of SQLite and PostgreSQL hold them)
MAX_OFFSET = 2**31 - 1  # larger offsets overflow the databases' integer types


def links(request: Request, total: int, limit: int, offset: int, response: Response | None = None) -> Links:
    def at(off: int) -> str:
        return str(request.url.include_query_params(limit=limit, offset=off))

    nxt = at(offset + limit) if offset + limit < total else None
    prev = at(max(0, offset - limit)) if offset > 0 else None
    out = Links(self=at(offset), next=nxt, prev=prev, first=at(0))
    if response is not None:
        parts = [f'<{out.first}>; rel="first"']
        if nxt:
            parts.append(f'<{nxt}>; rel="next"')
        if prev:
            parts.append(f'<{prev}>; rel="prev"')
        response.headers["Link"] = ", ".join(parts)
        response.headers["X-Total-Count"] = str(total)
    return out


def page_of(items: Sequence[T], request: Request, response: Response, limit: int, offset: int) -> dict[str, Any]:
    """A page of an in-memory list (for the short lists: reservations, users)."""
    total = len(items)
    return {
        "items": list(items[offset : offset + limit]),
        "total": total,
        "limit": limit,
        "offset": offset,
        "links": links(request, total, limit, offset, response),
    }
