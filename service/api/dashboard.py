"""`GET /`: the operator's dashboard, one static page that polls the JSON API.

The page keeps no state on the server: it reads `/v1/stats`, `/v1/models` and `/v1/alerts` every few
seconds and accumulates the time series in the browser, so it shows the same thing whichever API process
answers. Its assets (including the vendored uPlot chart library, MIT, see `static/uPlot.LICENSE`) are
served from the package, so it works without any network beyond the API itself.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

# Resolved: from a strict editable install, the checkout's folder rather than the install's tree of links (whose
# files are symlinks out of it, and miss a file added since the install).
STATIC_DIR = Path(__file__).resolve().with_name("static")
ASSETS_PATH = "/dashboard"

# The page runs only its own scripts and talks only to its own origin; uPlot sets inline styles through
# the CSSOM, which `style-src 'self'` allows, so nothing here needs 'unsafe-inline'.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@cache
def _index_html() -> str:
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


@get("/", include_in_schema=False, sync_to_thread=False)
def dashboard_page() -> Response[str]:
    return Response(_index_html(), media_type="text/html", headers={  # Litestar adds "; charset=utf-8"
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    })


def dashboard_router() -> Router:
    """The page at `/` and its assets under `/dashboard/` (revalidated on every load, so upgrades show)."""
    assets = create_static_files_router(path=ASSETS_PATH, directories=[STATIC_DIR], name="dashboard-assets",
                                        cache_control=CacheControlHeader(no_cache=True))
    return Router(path="/", route_handlers=[dashboard_page, assets])
