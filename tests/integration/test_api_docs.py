"""`/schema` works in an air-gapped network: the Swagger UI page names no other host, and every asset it
loads is served by the API itself from the installed package."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from fraudlog.api.problems import PROBLEM_TYPE_BASE
from fraudlog.config import Settings
from tests.support.api import api_client

# Every URL an HTML page can make a browser fetch: src=, href=, url(...), and any absolute URL in scripts.
_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")
_ABSOLUTE = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient[Any]]:
    with api_client(Settings(database_url=sqlite_url, secret_key=b"k")) as client:
        yield client


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
def test_the_docs_page_references_no_other_host_and_every_asset_is_served(client: TestClient[Any],
                                                                          page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    references = [a or b for a, b in _REFERENCES.findall(html)]
    assert len(references) >= 4, references  # the bundle, the preset, the stylesheet, the icon
    # The embedded OpenAPI document names the problem `type` URIs: identifiers (RFC 9457), never fetched.
    identifiers = html.replace(PROBLEM_TYPE_BASE, "")
    outside = [ref for ref in references if not ref.startswith("/")] + _ABSOLUTE.findall(identifiers)
    assert not outside, f"{page} loads from another host: {outside}"
    for reference in references:
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 0
    scripts = [ref for ref in references if ref.endswith(".js")]
    assert any("SwaggerUIBundle" in client.get(ref).text for ref in scripts)


def test_the_swagger_assets_are_swagger_ui_5_which_renders_openapi_3_1(client: TestClient[Any]) -> None:
    assert client.get("/schema/openapi.json").json()["openapi"].startswith("3.1")
    bundle = client.get("/schema-assets/swagger-ui/swagger-ui-bundle.js").text
    version = re.search(r'PACKAGE_VERSION:"(\d+)\.', bundle)
    assert version is not None and int(version.group(1)) >= 5  # Swagger UI 4 refuses OpenAPI 3.1


def test_the_openapi_document_spells_patterns_as_json_schema_reads_them(client: TestClient[Any]) -> None:
    """Validation anchors with Python's \\A and \\Z; in JSON Schema's regex dialect those are the letters A and
    Z, so the document must say ^ and $ (which there mean the whole string)."""
    document = client.get("/schema/openapi.json").text
    patterns = re.findall(r'"pattern":\s*"((?:[^"\\]|\\.)*)"', document)
    assert patterns and not [p for p in patterns if "\\\\A" in p or "\\\\Z" in p], patterns
    assert '"^[A-Za-z0-9._:-]{1,128}$"' in document
