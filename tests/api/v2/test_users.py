from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import V2, TenantHandle


def test_create_get_patch_delete(http: TestClient, tenant: TenantHandle) -> None:
    h = tenant.headers()
    r = http.post(
        f"{V2}/users",
        json={"email": "jane@example.com", "firstName": "Jane", "lastName": "Doe", "title": "AE"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "jane@example.com"
    assert user["username"] == "jane@example.com"
    assert user["status"] == "active" and user["isActive"] is True

    r = http.get(f"{V2}/users/{user['id']}", headers=h)
    assert r.status_code == 200 and r.json()["title"] == "AE"

    r = http.patch(f"{V2}/users/{user['id']}", json={"department": "Sales"}, headers=h)
    assert r.status_code == 200
    assert r.json()["department"] == "Sales" and r.json()["title"] == "AE"

    r = http.delete(f"{V2}/users/{user['id']}", headers=h)
    assert r.status_code == 204
    assert http.get(f"{V2}/users/{user['id']}", headers=h).status_code == 404
