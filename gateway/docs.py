"""The API's documentation page, whole from the gateway: Swagger UI at ``/docs``, its script,
style and icon under ``/docs/assets`` from the pinned ``fastapi-offline`` package (which
bundles Swagger UI 5, Apache-2.0).

FastAPI's own pages load their scripts from a public CDN and their icon from FastAPI's site:
without internet, or where a browser may not run third-party scripts against the service,
they are blank. This page asks nothing of any other host. ReDoc is not served: its page
loads a logo from Redocly's CDN whatever it is told.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = "/docs/assets"
#: Swagger UI would otherwise send the document to swagger.io's validator for a badge.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def install_docs(app: FastAPI) -> None:
    """Replace FastAPI's documentation pages with Swagger UI whose every asset ``app``
    serves."""
    openapi_url = app.openapi_url

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        redirect = app.swagger_ui_oauth2_redirect_url
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=f"{root}{redirect}" if redirect else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), **SWAGGER_UI_PARAMETERS},
        )

    dropped = {app.docs_url, app.redoc_url}
    app.redoc_url = None
    app.router.routes[:] = [
        route
        for route in app.router.routes
        if not (isinstance(route, Route) and route.path in dropped)
    ]
    if openapi_url is None or app.docs_url is None:
        return
    app.add_route(app.docs_url, swagger_ui, include_in_schema=False)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")
