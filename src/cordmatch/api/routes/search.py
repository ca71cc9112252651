"""``POST /search``: ranked, explained units for a patient (through the search seam)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from cordmatch.api.deps import Actor
from cordmatch.bank.roles import Permission, require
from cordmatch.http.problems import NotImplementedYetError
from cordmatch.services.search_query import UNAVAILABLE, SearchBackend, SearchQuery

router = APIRouter(tags=["search"])


def backend_of(request: Request) -> SearchBackend | None:
    backend: SearchBackend | None = request.app.state.search_backend
    return backend


@router.post(
    "/search",
    summary="Ranked, explained available units for a patient (selection policies, rules with sources)",
    responses={501: {"description": "search not enabled on this server (problem+json)"}},
)
def search(request: Request, actor: Actor, body: SearchQuery) -> dict[str, Any]:
    require(actor.role, Permission.UNIT_SEARCH, who=actor.username)
    backend = backend_of(request)
    if backend is None:
        raise NotImplementedYetError(UNAVAILABLE, where="search")
    return backend(actor, body)
