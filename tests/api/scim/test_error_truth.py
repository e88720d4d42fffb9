"""Only what the client sent is the client's mistake (a body scim2-models refuses is a 400,
a response rosterd fails to build is a 500); and what a PATCH costs."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from rosterd.api.app import create_app
from rosterd.api.scim import mapping
from rosterd.runtime import Runtime
from tests.api.scim.support import SCIM, USER_SCHEMA, in_background
from tests.factories import TenantHandle


def test_a_body_scim_refuses_is_a_400(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(
        f"{SCIM}/Users",
        json={"schemas": [USER_SCHEMA], "userName": "x", "emails": "not-a-list"},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 400, r.text
    assert r.json()["scimType"] == "invalidValue"


def test_a_response_that_cannot_be_built_is_a_500(
    runtime: Runtime, tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = TestClient(create_app(runtime), raise_server_exceptions=False)
    r = http.post(
        f"{SCIM}/Users",
        json={"schemas": [USER_SCHEMA], "userName": "ok"},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 201, r.text

    def broken(*args: Any, **kwargs: Any) -> Any:
        return {**r.json(), "userName": ["not", "a", "string"]}

    # Choosing attributes has scim2-models read the rendered user: what it refuses there is
    # rosterd's fault, not the client's.
    monkeypatch.setattr(mapping, "user_document", broken)
    r = http.get(
        f"{SCIM}/Users/{r.json()['id']}",
        params={"attributes": "userName"},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 500, r.text
    assert r.json()["status"] == "500"
    assert "scimType" not in r.json() or r.json()["scimType"] is None


def test_a_one_attribute_patch_is_a_handful_of_statements(
    http: TestClient, tenant: TenantHandle
) -> None:
    """Okta and Entra send a PATCH per changed attribute: it costs the SCIM token's check, the
    user's lock, its groups, the UPDATE and the audit row, whatever the user holds."""
    headers = tenant.scim_headers()
    r = http.post(
        f"{SCIM}/Users",
        json={
            "schemas": [USER_SCHEMA],
            "userName": "lean@example.com",
            "emails": [{"value": "lean@example.com", "type": "work", "primary": True}],
            "phoneNumbers": [{"value": "555-0100", "type": "work"}],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    engines = {tenant.runtime.db.engine, tenant.runtime.db.write_engine}
    seen: list[str] = []

    def capture(*args: Any) -> None:
        if not in_background():
            seen.append(" ".join(str(args[2]).split()))

    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    try:
        patched = http.patch(
            f"{SCIM}/Users/{r.json()['id']}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}],
            },
            headers=headers,
        )
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", capture)
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "Engineer"
    assert len(seen) <= 5, seen
