"""Console forms posted by several admins at once, against a real rosterd, on SQLite and on
PostgreSQL: two admins deactivating one user, adding one user to one group, ticking
overlapping users for a bulk deactivation. Every answer is a redirect saying what happened
(or why not), never a 5xx; the user ends in one state, and the audit log has each change
once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from rosterd.console.session import COOKIE
from tests.api.test_concurrency import Outcome, assert_statuses, burst, report
from tests.conftest import LiveServer
from tests.console.conftest import PASSWORD, csrf_of, make_admin
from tests.factories import V2, TenantHandle

pytestmark = pytest.mark.live

ADMINS = 3
BURST = 12


@dataclass(frozen=True)
class SignedIn:
    """One admin's console session on the live server: its cookie and CSRF token."""

    cookie: str
    csrf: str

    def post(self, client: httpx.AsyncClient, path: str, data: dict[str, Any]) -> Any:
        return client.post(
            path,
            data={**data, "csrf_token": self.csrf},
            headers={"Cookie": f"{COOKIE}={self.cookie}"},
        )


def _sign_in(server: LiveServer, tenant: TenantHandle) -> SignedIn:
    username = make_admin(server.runtime, tenant.slug)
    with httpx.Client(base_url=server.base_url, timeout=30, follow_redirects=True) as http:
        form = http.get("/admin/sign-in")
        r = http.post(
            "/admin/sign-in",
            data={
                "tenant": tenant.slug,
                "username": username,
                "password": PASSWORD,
                "csrf_token": csrf_of(form.text),
                "next": "/admin/",
            },
        )
        assert r.status_code == 200, r.text
        return SignedIn(http.cookies[COOKIE], csrf_of(r.text))


def _admins(server: LiveServer, tenant: TenantHandle) -> list[SignedIn]:
    return [_sign_in(server, tenant) for _ in range(ADMINS)]


def _said(outcome: Outcome) -> tuple[str, str]:
    """What the redirect says: ("notice", text) or ("error", text)."""
    assert outcome.response is not None and outcome.response.status_code == 303
    query = parse_qs(urlsplit(outcome.response.headers["location"]).query)
    (kind,) = query.keys() & {"notice", "error"}
    return kind, query[kind][0]


def _actions(tenant: TenantHandle, kind: str, resource_id: str) -> list[dict[str, Any]]:
    r = tenant.http.get(
        f"{V2}/audit-events",
        params={"resourceType": kind, "resourceId": resource_id, "limit": 100},
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _status(tenant: TenantHandle, user_id: str) -> str:
    r = tenant.http.get(f"{V2}/users/{user_id}", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


def _groups_of(tenant: TenantHandle, user_id: str) -> list[str]:
    r = tenant.http.get(f"{V2}/users/{user_id}/groups", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return [g["id"] for g in r.json()["items"]]


def test_admins_deactivating_one_user_at_once_change_it_once(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    admins = _admins(live_server, tenant)
    user = tenant.user()["id"]

    async def deactivate(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await admins[i % ADMINS].post(client, f"/admin/users/{user}/deactivate", {})

    outcomes = burst(live_server, BURST, deactivate)

    assert_statuses(outcomes, {303})
    assert {_said(o) for o in outcomes} == {("notice", "Deactivated.")}, report(outcomes)
    assert _status(tenant, user) == "inactive"
    changes = [e for e in _actions(tenant, "user", user) if e["action"] == "user.status_changed"]
    assert len(changes) == 1
    assert changes[0]["surface"] == "console"


def test_admins_adding_one_user_to_one_group_at_once_add_it_once(
    live_server: LiveServer,
) -> None:
    tenant = live_server.tenant()
    admins = _admins(live_server, tenant)
    user = tenant.user()
    group = tenant.group()

    async def add(client: httpx.AsyncClient, i: int) -> httpx.Response:
        # Half from the user's page, half from the group's.
        admin = admins[i % ADMINS]
        if i % 2:
            return await admin.post(
                client, f"/admin/users/{user['id']}/groups", {"group": group["name"]}
            )
        return await admin.post(
            client, f"/admin/groups/{group['id']}/members", {"user": user["username"]}
        )

    outcomes = burst(live_server, BURST, add)

    assert_statuses(outcomes, {303})
    said = Counter(kind for kind, _ in map(_said, outcomes))
    assert said == {"notice": 1, "error": BURST - 1}, report(outcomes)
    errors = {text for kind, text in map(_said, outcomes) if kind == "error"}
    assert all("already a member" in text for text in errors), errors
    assert _groups_of(tenant, user["id"]) == [group["id"]]
    added = [
        e for e in _actions(tenant, "group", group["id"]) if e["action"] == "group.member_added"
    ]
    assert len(added) == 1


def test_overlapping_bulk_deactivations_change_each_user_once(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    admins = _admins(live_server, tenant)
    users = [tenant.user()["id"] for _ in range(8)]
    kept = tenant.user()["id"]

    async def bulk(client: httpx.AsyncClient, i: int) -> httpx.Response:
        # Windows of five over the eight users, shifted by one per request and ticked in
        # different orders: every pair of requests shares users.
        chosen = [users[(i + k) % len(users)] for k in range(5)]
        if i % 2:
            chosen.reverse()
        return await admins[i % ADMINS].post(
            client, "/admin/users/bulk", {"action": "deactivate", "user_id": chosen}
        )

    outcomes = burst(live_server, BURST, bulk)

    assert_statuses(outcomes, {303})
    assert {_said(o) for o in outcomes} == {("notice", "5 user(s) deactivated.")}, report(outcomes)
    for user in users:
        assert _status(tenant, user) == "inactive"
        changes = [
            e for e in _actions(tenant, "user", user) if e["action"] == "user.status_changed"
        ]
        assert len(changes) == 1, user
    assert _status(tenant, kept) == "active"


def test_bulk_offboard_and_group_adds_at_once_leave_no_inactive_member(
    live_server: LiveServer,
) -> None:
    """An offboarding races admins adding the user to groups: whichever comes first, the
    user ends inactive, and in a group only if the add came after the offboarding (and
    then said so)."""
    tenant = live_server.tenant()
    admins = _admins(live_server, tenant)
    user = tenant.user()
    groups = [tenant.group() for _ in range(BURST - 1)]

    async def race(client: httpx.AsyncClient, i: int) -> httpx.Response:
        admin = admins[i % ADMINS]
        if i == 0:
            return await admin.post(
                client, "/admin/users/bulk", {"action": "offboard", "user_id": [user["id"]]}
            )
        return await admin.post(
            client, f"/admin/users/{user['id']}/groups", {"group": groups[i - 1]["name"]}
        )

    outcomes = burst(live_server, BURST, race)

    assert_statuses(outcomes, {303})
    said = [_said(o) for o in outcomes]
    assert said[0] == ("notice", "1 user(s) offboarded."), report(outcomes)
    assert _status(tenant, user["id"]) == "inactive"
    added_notices = {
        groups[i - 1]["id"] for i, (kind, _) in enumerate(said) if i and kind == "notice"
    }
    remaining = set(_groups_of(tenant, user["id"]))
    assert remaining <= added_notices
    for group in groups:
        actions = [e["action"] for e in _actions(tenant, "group", group["id"])]
        adds, removes = actions.count("group.member_added"), actions.count("group.member_removed")
        assert adds == (1 if group["id"] in added_notices else 0)
        assert adds - removes == (1 if group["id"] in remaining else 0)


def test_overlapping_bulk_offboardings_of_users_sharing_groups(live_server: LiveServer) -> None:
    """Offboarding removes each user from every group: overlapping bulk offboardings of users
    who share groups take the same users' and groups' locks; none may deadlock or fail."""
    tenant = live_server.tenant()
    admins = _admins(live_server, tenant)
    users = [tenant.user()["id"] for _ in range(6)]
    groups = [tenant.group()["id"] for _ in range(3)]
    for user in users:
        for group in groups:
            r = tenant.http.post(
                f"{V2}/groups/{group}/members", json={"userId": user}, headers=tenant.headers()
            )
            assert r.status_code in (200, 201, 204), r.text

    async def bulk(client: httpx.AsyncClient, i: int) -> httpx.Response:
        chosen = [users[(i + k) % len(users)] for k in range(4)]
        if i % 2:
            chosen.reverse()
        return await admins[i % ADMINS].post(
            client, "/admin/users/bulk", {"action": "offboard", "user_id": chosen}
        )

    outcomes = burst(live_server, BURST, bulk)

    assert_statuses(outcomes, {303})
    assert {_said(o) for o in outcomes} == {("notice", "4 user(s) offboarded.")}, report(outcomes)
    for user in users:
        assert _status(tenant, user) == "inactive"
        assert _groups_of(tenant, user) == []
    for group in groups:
        actions = [e["action"] for e in _actions(tenant, "group", group)]
        assert actions.count("group.member_removed") == len(users), group


def test_admins_saving_one_user_form_at_once(live_server: LiveServer) -> None:
    """Each save is a whole form: every one is saved in turn (none refused for a version
    another changed meanwhile), and the user ends as one of them left it."""
    tenant = live_server.tenant()
    admins = _admins(live_server, tenant)
    user = tenant.user()

    async def save(client: httpx.AsyncClient, i: int) -> httpx.Response:
        form = {
            "first_name": user["firstName"],
            "last_name": user["lastName"],
            "email": user["email"],
            "title": f"Title {i}",
            "status": "active" if i % 2 else "suspended",
        }
        return await admins[i % ADMINS].post(client, f"/admin/users/{user['id']}", form)

    outcomes = burst(live_server, BURST, save)

    assert_statuses(outcomes, {303})
    assert {_said(o) for o in outcomes} == {("notice", "Saved.")}, report(outcomes)
    r = tenant.http.get(f"{V2}/users/{user['id']}", headers=tenant.headers())
    final = r.json()
    last = int(final["title"].removeprefix("Title "))
    assert final["status"] == ("active" if last % 2 else "suspended")
    updates = [e for e in _actions(tenant, "user", user["id"]) if e["surface"] == "console"]
    assert updates and all(e["actor"].startswith("admin:") for e in updates)


def test_deactivate_offboard_and_remove_at_once(live_server: LiveServer) -> None:
    """Deactivating, offboarding and removing from a group, all of one user at once: each
    answer says what happened, the user ends inactive in no group, each change audited
    once."""
    tenant = live_server.tenant()
    admins = _admins(live_server, tenant)
    user = tenant.user()["id"]
    group = tenant.group()["id"]
    r = tenant.http.post(
        f"{V2}/groups/{group}/members", json={"userId": user}, headers=tenant.headers()
    )
    assert r.status_code in (200, 201, 204), r.text

    async def race(client: httpx.AsyncClient, i: int) -> httpx.Response:
        admin = admins[i % ADMINS]
        path = [
            f"/admin/users/{user}/deactivate",
            f"/admin/users/{user}/offboard",
            f"/admin/users/{user}/groups/{group}/remove",
            f"/admin/groups/{group}/members/{user}/remove",
        ][i % 4]
        return await admin.post(client, path, {})

    outcomes = burst(live_server, BURST, race)

    assert_statuses(outcomes, {303})
    kinds = Counter(kind for kind, _ in map(_said, outcomes))
    assert kinds["notice"] >= BURST // 2, report(outcomes)
    assert _status(tenant, user) == "inactive"
    assert _groups_of(tenant, user) == []
    user_actions = [e["action"] for e in _actions(tenant, "user", user)]
    # Whichever deactivated first (a deactivation or an offboarding) is the one change.
    assert user_actions.count("user.status_changed") + user_actions.count("user.deactivated") == 1
    group_actions = [e["action"] for e in _actions(tenant, "group", group)]
    assert group_actions.count("group.member_removed") == 1
