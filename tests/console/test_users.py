"""The users pages: list, search, filters, keyset pages, bulk actions, one user's page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rosterd.console import users as console_users
from tests.console.conftest import Console
from tests.factories import V2, TenantHandle


def _v2_user(tenant: TenantHandle, user_id: str) -> dict[str, object]:
    r = tenant.http.get(f"{V2}/users/{user_id}", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def _audit(tenant: TenantHandle, **query: str) -> list[dict[str, Any]]:
    r = tenant.http.get(f"{V2}/audit-events", params=query, headers=tenant.headers())
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _ids(html: str) -> list[str]:
    return re.findall(r'name="user_id" value="([^"]+)"', html)


def test_search_finds_a_user_by_a_fragment_of_their_name(console: Console) -> None:
    wanted = console.tenant.user(firstName="Philippa", lastName="Quondam")
    console.tenant.user(firstName="Other", lastName="Person")
    full = console.get("/admin/users", params={"q": "ondam"})
    fragment = console.get("/admin/users/rows", params={"q": "ondam"})
    for r in (full, fragment):
        assert r.status_code == 200
        assert _ids(r.text) == [wanted["id"]]
    assert "<html" not in fragment.text  # a fragment, swapped into the page


def test_filters_narrow_the_list(console: Console) -> None:
    group = console.tenant.group()
    member = console.tenant.user()
    pending = console.tenant.user(status="pending")
    r = console.tenant.http.post(
        f"{V2}/groups/{group['id']}/members",
        json={"userId": member["id"]},
        headers=console.tenant.headers(),
    )
    assert r.status_code in (200, 201, 204), r.text
    assert _ids(console.get("/admin/users", params={"group": group["name"]}).text) == [member["id"]]
    assert _ids(console.get("/admin/users", params={"status": "pending"}).text) == [pending["id"]]
    unknown = console.get("/admin/users", params={"group": "no such group"})
    assert unknown.status_code == 200
    assert "no group named" in unknown.text


def test_pages_follow_by_keyset_in_both_orders(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_users, "PAGE_SIZE", 2)
    made = [console.tenant.user()["id"] for _ in range(5)]
    for order, expected in (("oldest", made), ("newest", made[::-1])):
        seen: list[str] = []
        url: str | None = f"/admin/users?order={order}"
        while url:
            r = console.get(url.replace("&amp;", "&"))
            assert r.status_code == 200
            seen += _ids(r.text)
            link = re.search(r'<a rel="next" href="([^"]+)"', r.text)
            url = link.group(1) if link else None
        assert seen == expected


def test_bulk_deactivate_is_audited_as_the_console_admin(console: Console) -> None:
    chosen = [console.tenant.user()["id"] for _ in range(2)]
    kept = console.tenant.user()["id"]
    r = console.post("/admin/users/bulk", {"action": "deactivate", "user_id": chosen})
    assert r.status_code == 303
    assert [_v2_user(console.tenant, i)["status"] for i in chosen] == ["inactive"] * 2
    assert _v2_user(console.tenant, kept)["status"] == "active"
    events = _audit(console.tenant, resourceType="user", resourceId=chosen[0])
    assert events[0]["action"] == "user.status_changed"
    assert events[0]["surface"] == "console"
    assert events[0]["actor"] == f"admin:{console.username}"


def test_bulk_offboard_removes_memberships(console: Console) -> None:
    group = console.tenant.group()
    user = console.tenant.user()
    console.post(f"/admin/users/{user['id']}/groups", {"group": group["name"]})
    r = console.post("/admin/users/bulk", {"action": "offboard", "user_id": [user["id"]]})
    assert r.status_code == 303
    assert _v2_user(console.tenant, user["id"])["status"] == "inactive"
    groups = console.tenant.http.get(
        f"{V2}/users/{user['id']}/groups", headers=console.tenant.headers()
    ).json()
    assert groups["items"] == []


def test_another_tenants_user_is_not_found(console: Console, other_tenant: TenantHandle) -> None:
    theirs = other_tenant.user()
    assert console.get(f"/admin/users/{theirs['id']}").status_code == 404
    r = console.post(f"/admin/users/{theirs['id']}/deactivate")
    assert r.status_code == 404
    r = console.post("/admin/users/bulk", {"action": "deactivate", "user_id": [theirs["id"]]})
    assert r.status_code == 404
    assert _v2_user(other_tenant, theirs["id"])["status"] == "active"


def test_the_user_form_saves_fields_role_team_and_expiry(console: Console) -> None:
    user = console.tenant.user()
    role = console.tenant.role()
    team = console.tenant.team()
    page = console.get(f"/admin/users/{user['id']}")
    assert page.status_code == 200
    r = console.post(
        f"/admin/users/{user['id']}",
        {
            "first_name": "Renamed",
            "last_name": user["lastName"],
            "email": user["email"],
            "username": "",
            "title": "Engineer",
            "status": "suspended",
            "role": role["name"],
            "team": team["name"],
            "expires_at": "2099-01-02T03:04",
        },
    )
    assert r.status_code == 303
    assert "notice=Saved" in r.headers["location"]
    saved = _v2_user(console.tenant, user["id"])
    assert saved["firstName"] == "Renamed"
    assert saved["title"] == "Engineer"
    assert saved["status"] == "suspended"
    assert saved["roleId"] == role["id"]
    assert saved["teamId"] == team["id"]
    assert str(saved["expiresAt"]).startswith("2099-01-02T03:04")
    history = console.get(f"/admin/users/{user['id']}").text
    assert "user.status_changed" in history


def test_a_refused_change_is_shown_and_writes_nothing(console: Console) -> None:
    user = console.tenant.user()
    r = console.post(
        f"/admin/users/{user['id']}",
        {"first_name": "Changed", "email": "not an address", "status": "active"},
    )
    assert r.status_code == 303
    assert "error=" in r.headers["location"]
    shown = console.get(r.headers["location"])
    assert "email" in shown.text
    assert _v2_user(console.tenant, user["id"])["firstName"] == user["firstName"]


def test_groups_are_added_and_removed(console: Console) -> None:
    user = console.tenant.user()
    group = console.tenant.group()
    r = console.post(f"/admin/users/{user['id']}/groups", {"group": group["name"]})
    assert r.status_code == 303
    assert "notice=" in r.headers["location"]
    page = console.get(f"/admin/users/{user['id']}").text
    assert f"/groups/{group['id']}/remove" in page
    r = console.post(f"/admin/users/{user['id']}/groups/{group['id']}/remove")
    assert r.status_code == 303
    assert f"/groups/{group['id']}/remove" not in console.get(f"/admin/users/{user['id']}").text
    events = _audit(console.tenant, resourceType="group", resourceId=group["id"])
    members = [e for e in events if e["action"].startswith("group.member_")]
    assert [(e["action"], e["surface"]) for e in members] == [
        ("group.member_removed", "console"),
        ("group.member_added", "console"),
    ]


@pytest.mark.parametrize("action", ["deactivate", "offboard"])
def test_a_bulk_action_with_another_tenants_user_writes_nothing(
    console: Console, other_tenant: TenantHandle, action: str
) -> None:
    ours = console.tenant.user()["id"]
    theirs = other_tenant.user()["id"]
    r = console.post("/admin/users/bulk", {"action": action, "user_id": [ours, theirs]})
    assert r.status_code == 404
    assert _v2_user(console.tenant, ours)["status"] == "active"
    assert _v2_user(other_tenant, theirs)["status"] == "active"
