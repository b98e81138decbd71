"""`/docs` (Swagger UI) and `/redoc`, with every script, style and icon served by the service.

The assets come from the `fastapi-offline` package (Swagger UI and Redoc bundles, kept in step
with their releases), so the pages work on a machine without the internet and name no host
but this one: no CDN, no web fonts, no validator badge.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from returns_service.errors import NotFound

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs/assets"
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
# The bundles change only with the package: a day's caching spares every page load a megabyte.
_CACHE_CONTROL = "public, max-age=86400"


def install(app: FastAPI, openapi_path: str) -> None:
    """Serve the two pages and their assets; none of them appears in the OpenAPI document."""
    favicon = f"{ASSETS_PATH}/favicon.png"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_path,
            title=f"{app.title} - docs",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=favicon,
            # Swagger UI would otherwise send the spec to an online validator for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_path,
            title=f"{app.title} - reference",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )

    @app.get(f"{ASSETS_PATH}/{{name}}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        media_type = _MEDIA_TYPES.get(name)
        if media_type is None:
            raise NotFound(f"no docs asset {name}")
        return FileResponse(
            _ASSETS_DIR / name, media_type=media_type, headers={"Cache-Control": _CACHE_CONTROL}
        )
