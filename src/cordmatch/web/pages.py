"""The pages: log in/out, unit list and detail (timeline), register, results, release checklist,
reservations, search, coverage and plots. Every action calls the bank service layer, like the CLI and the API.

Forms post to the page routes (CSRF token checked), which redirect on success (``?msg=``) and
re-render the form with the error naming the field on failure. One module per page area; ``install``
mounts them all (the report and label routes, ``report_routes``, are included before them by the app).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cordmatch.web.base import HERE


def install(app: FastAPI) -> None:
    from cordmatch.web import (
        auth_pages,
        coverage_page,
        plots,
        reservation_pages,
        search_page,
        unit_actions,
        unit_pages,
    )

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    # in the order of the routes before the split: /units/new and /units/import before /units/{din}
    for module in (auth_pages, unit_pages, unit_actions, reservation_pages, search_page, plots, coverage_page):
        app.include_router(module.router)
