"""SCIM is dispatched on its prefix: a SCIM request is not matched against the routes of the
other surfaces, and both prefixes serve the same API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from rosterd.api.app import create_app
from rosterd.api.scim.router import PREFIXES
from rosterd.runtime import Runtime
from tests.factories import TenantHandle


def test_a_scim_request_is_matched_against_scim_routes_only(
    runtime: Runtime, tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(runtime)
    asked: list[Any] = []
    for route in app.router.routes:
        if isinstance(route, Mount) and route.path in PREFIXES:
            continue
        real = route.matches
        monkeypatch.setattr(
            route,
            "matches",
            lambda scope, real=real, route=route: asked.append(route) or real(scope),
        )
    http = TestClient(app)
    for prefix in PREFIXES:
        r = http.get(f"{prefix}/ServiceProviderConfig", headers=tenant.scim_headers())
        assert r.status_code == 200, r.text
        r = http.get(f"{prefix}/Users", headers=tenant.scim_headers())
        assert r.status_code == 200, r.text
        assert r.json()["totalResults"] == 0
    # Only FastAPI's own documentation routes, registered when the app is made, come first.
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    assert {getattr(route, "path", None) for route in asked} <= docs
    asked.clear()
    # The spies do see what is not SCIM.
    assert http.get("/integration/v2/groups", headers=tenant.headers()).status_code == 200
    assert asked


def test_scim_routes_are_documented_once_at_scim_v2(runtime: Runtime) -> None:
    paths = TestClient(create_app(runtime)).get("/openapi.json").json()["paths"]
    assert {
        "/scim/v2/Users",
        "/scim/v2/Users/{user_id}",
        "/scim/v2/Groups",
        "/scim/v2/Bulk",
    } <= set(paths)
    assert not [p for p in paths if p.startswith("/api/scim/v2")]
