"""`/schema`: the interactive API documentation (Swagger UI), served from the installed packages.

Litestar's render plugins load their JavaScript, CSS and favicon from a public CDN by default, and a
bank's network has no route to one: the page would render blank. Swagger UI's distribution files come
instead from the `swagger-ui-bundle-v2` wheel (the connexion maintainers' packaging of `swagger-ui-dist`,
Apache-2.0) and are served under `/schema-assets/swagger-ui/`, so the page needs no host but the API's own.
Swagger UI 5 is needed: Litestar publishes OpenAPI 3.1, which Swagger UI 4 refuses to render.
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

SWAGGER_ASSETS_PATH = "/schema-assets/swagger-ui"


def swagger_render_plugin() -> SwaggerRenderPlugin:
    """Swagger UI at `/schema` and `/schema/swagger`, every asset from this origin."""
    return SwaggerRenderPlugin(
        js_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_ASSETS_PATH}/favicon-32x32.png'>",
    )


def swagger_assets_router() -> Router:
    """Swagger UI's distribution files, revalidated on every load so an upgrade of the wheel shows."""
    return create_static_files_router(path=SWAGGER_ASSETS_PATH, directories=[swagger_ui_path],
                                      name="swagger-ui-assets", include_in_schema=False,
                                      cache_control=CacheControlHeader(no_cache=True))
