"""/docs works offline: Swagger UI's files come from this server (swagger-ui-bundle)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_docs_load_swagger_ui_from_this_server(http: TestClient) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        assert http.get(f"/docs/assets/{asset}").status_code == 200
