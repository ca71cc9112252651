"""The application: the REST API (``cordmatch.api``) under ``/api/v1`` (OpenAPI at /openapi.json, /docs) and
the pages (``cordmatch.web``) on one FastAPI app. Assembled here, above both, so that neither imports the
other; what they share lives in ``cordmatch.http``."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from cordmatch.api.docs import DOCS_ASSETS_URL, install_docs
from cordmatch.api.headers import SecurityHeaders
from cordmatch.api.nul_guard import NulGuard
from cordmatch.http import problems
from cordmatch.services.search_query import SearchBackend
from cordmatch.store.engine import Store
from cordmatch.store.types import utcnow

if TYPE_CHECKING:
    from cordmatch.bootstrap import Application

API_PREFIX = "/api/v1"
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
    application: Application | None = None,
) -> FastAPI:
    """The app on ``application`` (what :func:`cordmatch.bootstrap.build` made of the settings).

    Without it, one is built here from the current settings and these arguments: the store at ``store_url``
    (URL or SQLite path; None = the settings' ``$CORDMATCH_DB`` / default file), or ``store``, an already
    opened store (it is then not closed by the app). ``search_backend`` is the search seam ("auto" = the bank
    store's search). ``secret`` signs the pages' CSRF tokens (default ``$CORDMATCH_SECRET``, else random per
    process). ``web=False`` serves the API only.
    """
    from cordmatch.api.routes import admin, coverage, reports, reservations, search, transfer, units

    if application is None:
        from cordmatch.bootstrap import build
        from cordmatch.config import current

        chosen = current().replace(db=store_url, secret=secret, secure_cookies=secure_cookies or None)
        application = build(chosen, store=store, clock=clock, search_backend=search_backend)
    built = application

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        built.close()

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
    settings = built.settings
    app.state.application = built
    app.state.store = built.store
    app.state.bank = built.bank
    app.state.search_backend = built.search_backend
    app.state.secret = (settings.secret or secrets.token_hex(32)).encode("utf-8")
    app.state.secure_cookies = settings.secure_cookies
    problems.install(app)
    app.add_middleware(NulGuard)
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
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
    """The app of one server worker process (``uvicorn --factory cordmatch.server:app_from_env``): the
    settings read from the environment the parent process gave it (``cordmatch serve --workers N`` passes its
    own through :func:`cordmatch.config.child_environment`): the store ``$CORDMATCH_DB``, pool size
    ``$CORDMATCH_DB_POOL``, the CSRF secret ``$CORDMATCH_SECRET`` (the same in every worker, so that each
    accepts the others' forms), ``$CORDMATCH_SECURE_COOKIES``."""
    from cordmatch.bootstrap import build
    from cordmatch.config import Settings, activate

    settings = Settings.from_env()
    activate(settings)
    return create_app(application=build(settings))
