"""GET /console: the merchant console, a static page that speaks the public API.

Everything it loads comes from this service (its scripts, styles and the vendored libraries
under /console/static), and the Content-Security-Policy says so to the browser: no CDN, no
other host, no inline script or style, no eval. The page itself holds no data; it calls
/v1/... with the token the user pasted.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from returns_service.rules.transitions import TRANSITIONS
from returns_service.rules.vocabulary import ReturnStatus, Role

STATIC = Path(__file__).parent / "static"

# 'self' only, for everything. data: images are the one exception, for Chart.js legends
# drawn into canvases (no request leaves the page for them).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@cache
def _page() -> bytes:
    return (STATIC / "index.html").read_bytes()


@router.get("/console")
async def console_page() -> Response:
    """The single page; the app inside routes by the URL fragment (#/queue, #/returns/…)."""
    return Response(_page(), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/console/actions.json")
async def console_actions() -> JSONResponse:
    """Which action a person may take from which state: the server's own transition table.

    The console shows a return's buttons from this, so it never offers what the rules would
    refuse by state and never lags behind a new action. The system's own rows are left out.
    """
    people = {Role.MERCHANT, Role.PLATFORM, Role.BUYER}
    rows = [
        {
            "action": row.action.value,
            "from": row.source.value,
            "to": row.target.value,
            "types": sorted(t.value for t in row.types),
            "roles": sorted(r.value for r in row.roles if r in people),
        }
        for row in TRANSITIONS
        if row.roles & people
    ]
    statuses = [status.value for status in ReturnStatus]
    return JSONResponse(
        {"statuses": statuses, "transitions": rows}, headers={"Cache-Control": "no-cache"}
    )


def install(app: FastAPI) -> None:
    """The page, its action table, and its scripts, styles and vendored libraries."""
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
