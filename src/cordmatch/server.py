"""The application: the REST API (``cordmatch.api``) under ``/api/v1`` (OpenAPI at /openapi.json, /docs) and
the pages (``cordmatch.web``) on one FastAPI app. Assembled here, above both, so that neither imports the
other; what they share lives in ``cordmatch.http``."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Literal

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from cordmatch.api.docs import DOCS_ASSETS_URL, install_docs
from cordmatch.api.headers import SecurityHeaders
from cordmatch.api.nul_guard import NulGuard
from cordmatch.http import problems
from cordmatch.services.bank_search import discover_backend
from cordmatch.services.search_query import SearchBackend
from cordmatch.store.engine import Store
from cordmatch.store.types import utcnow

API_PREFIX = "/api/v1"
SECRET_ENV = "CORDMATCH_SECRET"  # signs the pages' CSRF tokens; shared by all worker processes
SECURE_COOKIES_ENV = "CORDMATCH_SECURE_COOKIES"  # "1": Secure cookies + HSTS (serve --secure-cookies)
DESCRIPTION = (
    "Cord blood bank and unit search. Decision support: it explains, people decide.\n\n"
    "Authenticate with `POST /api/v1/auth/token` and send `Authorization: Bearer <token>`. "
    "Errors are `application/problem+json` (RFC 9457) with an `errors` list naming the field "
    "(and the CSV line). Lists are paginated with `limit`/`offset`, `total` and `links`."
)


def create_app(
    store_url: str | None = None,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime] = utcnow,
    search_backend: SearchBackend | Literal["auto"] | None = "auto",
    web: bool = True,
    secret: str | None = None,
    secure_cookies: bool = False,
) -> FastAPI:
    """The app on the store at ``store_url`` (URL or SQLite path; None = ``$CORDMATCH_DB`` / default file).

    ``store`` passes an already opened store instead (it is then not closed by the app). ``search_backend``
    is the search seam ("auto" = whatever this build provides). ``secret`` signs the pages' CSRF tokens
    (``$CORDMATCH_SECRET``, else random per process). ``web=False`` serves the API only.
    """
    from cordmatch.api.routes import admin, coverage, reports, reservations, search, transfer, units
    from cordmatch.services.bank import BankService
    from cordmatch.store import open_store

    own_store = store is None
    opened = store if store is not None else open_store(store_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if own_store:
            opened.close()

    # /docs (Swagger UI) and /redoc: fastapi-offline's shipped assets, our pages (api/docs.py); no CDN
    app = FastAPIOffline(
        docs_url=None,
        redoc_url=None,
        static_url=DOCS_ASSETS_URL,
        lifespan=lifespan,
        title="cordmatch",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
    )
    install_docs(app, app.title)
    app.state.store = opened
    app.state.bank = BankService(opened, clock=clock)
    app.state.search_backend = discover_backend(opened) if search_backend == "auto" else search_backend
    app.state.secret = (secret or os.environ.get(SECRET_ENV) or secrets.token_hex(32)).encode("utf-8")
    app.state.secure_cookies = secure_cookies
    problems.install(app)
    app.add_middleware(NulGuard)
    app.add_middleware(SecurityHeaders, hsts=secure_cookies)
    # transfer first: /units/export.csv must win over /units/{din}
    for module in (transfer, units, reservations, admin, search, reports, coverage):
        app.include_router(module.router, prefix=API_PREFIX)
    if web:
        from cordmatch.web.pages import install as install_pages
        from cordmatch.web.report_routes import router as report_router

        app.include_router(report_router)  # reports and labels (before the pages' /units/{din} routes)
        install_pages(app)
    return app


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory cordmatch.server:app_from_env`` (several worker processes):
    the store from ``$CORDMATCH_DB`` and the CSRF secret from ``$CORDMATCH_SECRET`` (set it, so that
    every worker accepts the others' forms); ``$CORDMATCH_DB_POOL`` sizes each worker's pool."""
    from cordmatch.store import open_store

    pool = os.environ.get("CORDMATCH_DB_POOL")
    secure = os.environ.get(SECURE_COOKIES_ENV) == "1"
    return create_app(store=open_store(None, pool_size=int(pool) if pool else None), secure_cookies=secure)
