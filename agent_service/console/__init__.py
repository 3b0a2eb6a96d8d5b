"""The admin console at ``/console``: static pages the service serves itself.

The console is a small front end in plain JavaScript (no framework, no build step) that runs in
the admin's browser and talks to the service only through the public ``/v1`` API, with the key
the admin pasted (kept in ``sessionStorage``). The server sends files and nothing else, so the
console can never do what the API does not allow, and there is no second way in to secure.

Why not server-rendered templates: a page rendered by the server would need the admin's key on
the server side (a cookie, which the brief forbids) or console-only HTML endpoints beside the
API (a second surface to authorise and keep in step). Rendering the API's JSON in the browser
keeps one surface.

Every asset is in ``static/`` inside the package: nothing is loaded from another host, and the
Content-Security-Policy sent with the page says so to the browser as well.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

# Only this host: scripts, styles, API calls. Charts are SVG the API returns, shown from blob:
# URLs; the eval HTML report is shown in a sandboxed frame (srcdoc, its own inline styles).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "frame-src 'self' blob:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

router = APIRouter(include_in_schema=False)


@router.get("/console")
async def console_page() -> FileResponse:
    """The console's one page; the pages inside it are chosen by the URL's #fragment."""
    return FileResponse(
        STATIC / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )


@router.get("/console/")
async def console_slash() -> RedirectResponse:
    return RedirectResponse("/console", status_code=308)


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/console`` and its assets at ``/console/static``."""
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
