"""The dashboard and the audit log."""

from __future__ import annotations

from tests.console.conftest import Console


def test_the_dashboard_counts_users_by_status_and_sign_in(console: Console) -> None:
    console.tenant.user()
    console.tenant.user(status="pending")
    r = console.get("/admin/")
    assert r.status_code == 200
    html = r.text
    assert "<strong>2</strong> users" in html
    assert "<strong>1</strong> pending" in html
    assert "<strong>2</strong> never signed in" in html
    assert "idle 90+ days" in html
    assert "user.created" in html  # recent changes


def test_the_audit_log_filters_by_actor(console: Console) -> None:
    user = console.tenant.user()
    console.post(f"/admin/users/{user['id']}/deactivate")
    mine = console.get("/admin/audit", params={"actor": f"admin:{console.username}"})
    assert mine.status_code == 200
    assert "user.status_changed" in mine.text
    assert "user.created" not in mine.text
    bad = console.get("/admin/audit", params={"since": "yesterday"})
    assert bad.status_code == 400
