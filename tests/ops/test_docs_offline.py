"""/api/docs (Swagger UI) and /api/redoc work without internet: every asset they load comes from us."""

import re
from urllib.parse import urljoin, urlsplit

import pytest
from rest_framework.test import APIClient

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def assets_of(page: str) -> list[str]:
    client = APIClient()
    response = client.get(page)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return [urljoin(page, ref) for ref in ASSET.findall(response.content.decode())]


@pytest.mark.parametrize(
    ("page", "bundle"), [("/api/docs/", "swagger-ui-bundle.js"), ("/api/redoc/", "redoc")]
)
def test_the_docs_pages_load_only_same_origin_assets_that_we_serve(db, page, bundle):
    assets = assets_of(page)
    assert any(bundle in ref for ref in assets), assets
    for ref in assets:
        parts = urlsplit(ref)
        assert not parts.scheme and not parts.netloc, f"{page} loads {ref} from another origin"
        response = APIClient().get(ref)
        assert response.status_code == 200, ref
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 100, ref


def test_the_asset_route_serves_nothing_outside_the_docs_package(db):
    response = APIClient().get("/static/drf_spectacular_sidecar/../../../django/conf/global_settings.py")
    assert response.status_code in (400, 404)  # Django refuses the path before reading anything
    assert b"SECRET_KEY" not in response.content
