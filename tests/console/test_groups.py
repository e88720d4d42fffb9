"""Groups as a tree with member counts and keyset pages of members; roles; teams."""

from __future__ import annotations

import re

import pytest

from rosterd.console import groups as console_groups
from tests.console.conftest import Console
from tests.factories import V2, TenantHandle


def test_the_tree_starts_at_the_groups_without_a_parent(console: Console) -> None:
    top = console.tenant.group(name="Engineering")
    child = console.tenant.group(name="Backend", parentId=top["id"])
    roots = console.get("/admin/groups").text
    assert f"/admin/groups/{top['id']}" in roots
    assert f"/admin/groups/{child['id']}" not in roots
    below = console.get("/admin/groups", params={"parent": top["id"]}).text
    assert f"/admin/groups/{child['id']}" in below
    assert f'/admin/groups/{top["id"]}"' in below  # the parent, named above its subgroups
    found = console.get("/admin/groups", params={"q": "ackend"}).text
    assert f"/admin/groups/{child['id']}" in found


def test_members_are_added_by_username_counted_paged_and_removed(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_groups, "PAGE_SIZE", 2)
    group = console.tenant.group()
    users = [console.tenant.user(username=f"member-{i}-{group['id'][:6]}") for i in range(3)]
    for user in users:
        r = console.post(f"/admin/groups/{group['id']}/members", {"user": user["username"]})
        assert r.status_code == 303
        assert "notice=" in r.headers["location"]
    seen: list[str] = []
    url: str | None = f"/admin/groups/{group['id']}"
    while url:
        page = console.get(url.replace("&amp;", "&")).text
        seen += re.findall(rf"/admin/groups/{group['id']}/members/([0-9a-f-]+)/remove", page)
        link = re.search(r'<a rel="next" href="([^"]+)"', page)
        url = link.group(1) if link else None
    assert sorted(seen) == sorted(u["id"] for u in users)
    assert "3 members" in console.get(f"/admin/groups/{group['id']}").text
    r = console.post(f"/admin/groups/{group['id']}/members/{users[0]['id']}/remove")
    assert r.status_code == 303
    members = console.tenant.http.get(
        f"{V2}/groups/{group['id']}/members", headers=console.tenant.headers()
    ).json()
    assert len(members["items"]) == 2


def test_an_unknown_member_name_writes_nothing(console: Console) -> None:
    group = console.tenant.group()
    r = console.post(f"/admin/groups/{group['id']}/members", {"user": "nobody-here"})
    assert r.status_code == 303
    assert "error=" in r.headers["location"]


def test_another_tenants_group_is_not_found(console: Console, other_tenant: TenantHandle) -> None:
    theirs = other_tenant.group()
    assert console.get(f"/admin/groups/{theirs['id']}").status_code == 404
    assert console.get("/admin/groups", params={"parent": theirs["id"]}).status_code == 404


def test_roles_and_teams_with_counts_and_manager(console: Console) -> None:
    manager = console.tenant.user(firstName="Mona", lastName="Manager")
    role = console.tenant.role(name="Auditor")
    team = console.tenant.team(name="Platform", managerId=manager["id"])
    console.tenant.user(roleId=role["id"], teamId=team["id"])
    roles = console.get("/admin/roles").text
    assert "Auditor" in roles
    teams = console.get("/admin/teams").text
    assert "Platform" in teams
    assert "Mona Manager" in teams
