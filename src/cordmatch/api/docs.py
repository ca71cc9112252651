"""API documentation pages served offline: Swagger UI at /docs and ReDoc at /redoc from the assets that the
``fastapi-offline`` package ships (mounted by ``FastAPIOffline`` at ``DOCS_ASSETS_URL``).

No inline script (a strict Content-Security-Policy may forbid it): Swagger UI starts from a small script
served here; each page carries its own same-origin policy (inline styles allowed: both UIs inject them),
so that nothing, e.g. ReDoc's logo, is fetched from the internet.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

DOCS_URL, REDOC_URL = "/docs", "/redoc"
DOCS_ASSETS_URL = "/static-docs"
SWAGGER_INIT_URL = "/docs/swagger-init.js"
OPENAPI_URL = "/openapi.json"

#: The documentation pages' policy: only this server; inline styles and blob: workers for the UIs.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'"
)

_SWAGGER_INIT = f"""window.addEventListener("load", function () {{
  window.ui = SwaggerUIBundle({{
    url: "{OPENAPI_URL}", dom_id: "#swagger-ui", deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset], layout: "BaseLayout",
    validatorUrl: null
  }});
}});
"""


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="{DOCS_ASSETS_URL}/favicon.png">{head}</head><body>{body}</body></html>'
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_POLICY})


def install_docs(app: FastAPI, title: str) -> None:
    """/docs, /redoc and the Swagger UI start script (the assets are mounted by FastAPIOffline)."""

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(
            f"{title} API (Swagger UI)",
            f'<link rel="stylesheet" href="{DOCS_ASSETS_URL}/swagger-ui.css">',
            f'<div id="swagger-ui"></div><script src="{DOCS_ASSETS_URL}/swagger-ui-bundle.js"></script>'
            f'<script src="{SWAGGER_INIT_URL}"></script>',
        )

    @app.get(SWAGGER_INIT_URL, include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(_SWAGGER_INIT, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _page(
            f"{title} API (ReDoc)",
            "",
            f'<redoc spec-url="{OPENAPI_URL}"></redoc><script src="{DOCS_ASSETS_URL}/redoc.standalone.js"></script>',
        )
