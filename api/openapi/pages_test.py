"""The documentation pages work with no internet access: every asset comes from the service."""

from __future__ import annotations

import re

import httpx
import pytest

ASSET_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def referenced_urls(html: str) -> list[str]:
    return ASSET_REFERENCE.findall(html)


@pytest.mark.parametrize(
    ("page", "expected_assets"),
    [
        (
            "/docs",
            {
                "/docs/assets/swagger-ui-bundle.js": "text/javascript",
                "/docs/assets/swagger-ui.css": "text/css",
                "/docs/assets/favicon.png": "image/png",
            },
        ),
        (
            "/redoc",
            {
                "/docs/assets/redoc.standalone.js": "text/javascript",
                "/docs/assets/favicon.png": "image/png",
            },
        ),
    ],
)
def test_pages_load_every_asset_from_the_service(
    client: httpx.Client, page: str, expected_assets: dict[str, str]
) -> None:
    response = client.get(page)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "://" not in response.text, "the page names an outside URL"
    assert sorted(set(referenced_urls(response.text))) == sorted(expected_assets)
    assert "'/openapi.json'" in response.text or '"/openapi.json"' in response.text
    for url, media_type in expected_assets.items():
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].split(";")[0] == media_type, url
        assert len(asset.content) > 1000, url


def test_swagger_ui_is_configured_for_the_oauth2_redirect_page(client: httpx.Client) -> None:
    page = client.get("/docs")
    redirect = client.get("/docs/oauth2-redirect")

    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in page.text
    assert redirect.status_code == 200
    assert redirect.headers["content-type"] == "text/html; charset=utf-8"
    assert "swaggerUIRedirectOauth2" in redirect.text
    assert "://" not in redirect.text


def test_an_unknown_asset_is_a_404_problem(client: httpx.Client) -> None:
    response = client.get("/docs/assets/no-such-file.js")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_the_pages_stay_out_of_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert [path for path in paths if path.startswith(("/docs", "/redoc"))] == []
