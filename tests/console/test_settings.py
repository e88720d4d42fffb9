"""Tenant settings: saved, audited as the console admin, refused when they cannot hold."""

from __future__ import annotations

from tests.console.conftest import Console
from tests.factories import V2


def test_settings_are_saved_and_audited(console: Console) -> None:
    page = console.get("/admin/settings")
    assert page.status_code == 200
    r = console.post("/admin/settings", {"scim_delete": "deactivate", "sso_only": "true"})
    assert r.status_code == 303
    assert "notice=" in r.headers["location"]
    shown = console.get("/admin/settings").text
    assert 'value="deactivate" checked' in shown
    assert 'name="sso_only" value="true" checked' in shown
    events = console.tenant.http.get(
        f"{V2}/audit-events",
        params={"resourceType": "tenant"},
        headers=console.tenant.headers(),
    ).json()["items"]
    assert events[0]["action"] == "tenant.settings_changed"
    assert events[0]["surface"] == "console"
    assert events[0]["actor"] == f"admin:{console.username}"


def test_scim_delete_deactivates_once_set(console: Console) -> None:
    console.post("/admin/settings", {"scim_delete": "deactivate"})
    user = console.tenant.user()
    r = console.tenant.http.delete(
        f"/scim/v2/Users/{user['id']}", headers=console.tenant.scim_headers()
    )
    assert r.status_code == 204
    kept = console.tenant.http.get(f"{V2}/users/{user['id']}", headers=console.tenant.headers())
    assert kept.json()["status"] == "inactive"


def test_forbidding_shared_emails_while_users_share_one_is_refused(console: Console) -> None:
    console.post("/admin/settings", {"scim_delete": "delete", "shared_emails": "true"})
    console.tenant.user(email="shared@example.com", username="first-sharer")
    console.tenant.user(email="shared@example.com", username="second-sharer")
    r = console.post("/admin/settings", {"scim_delete": "delete"})
    assert r.status_code == 303
    assert "error=" in r.headers["location"]
    assert 'name="shared_emails" value="true" checked' in console.get("/admin/settings").text
