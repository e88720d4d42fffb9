"""Lifecycle extensions of /integration/v2: one-call offboarding, sign-ins, idle sweeps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from rosterd.models import User
from rosterd.repositories import audit as audit_repo
from rosterd.services import tenants as tenants_service
from tests.api.v1.support import make_admin
from tests.factories import V2, TenantHandle

SWEEPS = f"{V2}/lifecycle/idle-sweeps"


# ---- helpers -------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def created_days_ago(tenant: TenantHandle, user_id: str, days: float) -> None:
    """Backdate a user's creation in the store: a fixture concern, no API sets it."""
    with tenant.runtime.db.writer.begin() as session:
        session.execute(
            update(User)
            .where(User.tenant_id == tenant.id, User.id == uuid.UUID(user_id))
            .values(created_at=_ago(days))
        )


def sign_in(tenant: TenantHandle, user_id: str, at: datetime | None = None) -> dict[str, Any]:
    body = {"at": _iso(at)} if at is not None else None
    r = tenant.http.post(f"{V2}/users/{user_id}/sign-ins", json=body, headers=tenant.headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def actions(tenant: TenantHandle, resource_type: str, resource_id: str) -> list[str]:
    with tenant.runtime.db.reader() as session:
        events = audit_repo.for_resource(session, tenant.id, resource_type, resource_id)
        return [e.action for e in events]


def offboard(
    tenant: TenantHandle, user_id: str, body: dict[str, Any] | None = None, status: int = 200
) -> dict[str, Any]:
    r = tenant.http.post(
        f"{V2}/users/{user_id}/offboard", json=body, headers=tenant.headers("lifecycle:write")
    )
    assert r.status_code == status, r.text
    return dict(r.json())


def get_user(tenant: TenantHandle, user_id: str) -> dict[str, Any]:
    r = tenant.http.get(f"{V2}/users/{user_id}", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def groups_of(tenant: TenantHandle, user_id: str) -> set[str]:
    r = tenant.http.get(f"{V2}/users/{user_id}/groups", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return {g["id"] for g in r.json()["items"]}


def join(tenant: TenantHandle, user_id: str, group_ids: list[str]) -> None:
    r = tenant.http.put(
        f"{V2}/users/{user_id}/groups", json={"groupIds": group_ids}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text


def plan(tenant: TenantHandle, status: int = 201, **body: Any) -> dict[str, Any]:
    r = tenant.http.post(
        SWEEPS, json={"inactiveDays": 90, **body}, headers=tenant.headers("lifecycle:write")
    )
    assert r.status_code == status, r.text
    return dict(r.json())


def planned_users(tenant: TenantHandle, sweep_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Every user of the plan, page by page."""
    users: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = tenant.http.get(
            f"{SWEEPS}/{sweep_id}/users", params=params, headers=tenant.headers("user:read")
        )
        assert r.status_code == 200, r.text
        page = r.json()
        users += page["items"]
        cursor = page.get("nextCursor")
        if cursor is None:
            return users


def apply(
    tenant: TenantHandle, sweep_id: str, *scopes: str, status: int = 200, **body: Any
) -> dict[str, Any]:
    r = tenant.http.post(
        f"{SWEEPS}/{sweep_id}/apply",
        json=body or None,
        headers=tenant.headers(*(scopes or ("lifecycle:write",))),
    )
    assert r.status_code == status, r.text
    return dict(r.json())


def unguarded(tenant: TenantHandle) -> None:
    """Let this tenant's sweeps touch everyone without being held (tests of apply itself)."""
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        tenants_service.set_idle_sweep_guard(session, row, percent=100, users=1_000_000)


@pytest.fixture
def idle(tenant: TenantHandle) -> dict[str, str]:
    """Users of every kind an idle sweep must tell apart, by role; all active but one."""
    users = {
        name: tenant.user()["id"]
        for name in (
            "signed_in_long_ago",
            "created_long_ago",
            "new",
            "signed_in_lately",
            "old_but_signed_in_lately",
            "old_and_inactive",
        )
    }
    sign_in(tenant, users["signed_in_long_ago"], _ago(100))
    created_days_ago(tenant, users["signed_in_long_ago"], 300)
    created_days_ago(tenant, users["created_long_ago"], 200)
    sign_in(tenant, users["signed_in_lately"])
    created_days_ago(tenant, users["old_but_signed_in_lately"], 400)
    sign_in(tenant, users["old_but_signed_in_lately"], _ago(2))
    created_days_ago(tenant, users["old_and_inactive"], 400)
    r = tenant.http.patch(
        f"{V2}/users/{users['old_and_inactive']}",
        json={"status": "inactive"},
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    return users


# ---- offboarding ---------------------------------------------------------------------------


def test_one_offboard_call_deactivates_removes_memberships_and_audits_each(
    tenant: TenantHandle,
) -> None:
    user = tenant.user()
    groups = [tenant.group()["id"] for _ in range(3)]
    join(tenant, user["id"], groups)

    done = offboard(tenant, user["id"])

    assert done["status"] == "inactive" and done["deactivated"] and done["changed"]
    assert {g["id"] for g in done["groupsRemoved"]} == set(groups)
    assert done["groupsKept"] == [] and done["teamsReassigned"] == []
    assert done["sessionsEnded"] == 0
    assert get_user(tenant, user["id"])["status"] == "inactive"
    assert groups_of(tenant, user["id"]) == set()
    assert actions(tenant, "user", user["id"])[-1] == "user.deactivated"
    for group_id in groups:
        assert actions(tenant, "group", group_id)[-1] == "group.member_removed"


def test_offboarding_twice_is_harmless(tenant: TenantHandle) -> None:
    user = tenant.user()
    group = tenant.group()["id"]
    join(tenant, user["id"], [group])
    first = offboard(tenant, user["id"])
    audited = actions(tenant, "user", user["id"]), actions(tenant, "group", group)

    second = offboard(tenant, user["id"])

    assert set(second) == set(first)
    assert second["changed"] is False and second["deactivated"] is False
    assert second["groupsRemoved"] == [] and second["sessionsEnded"] == 0
    assert second["status"] == "inactive"
    assert (actions(tenant, "user", user["id"]), actions(tenant, "group", group)) == audited


def test_offboard_hands_managed_teams_to_reassign_to(tenant: TenantHandle) -> None:
    leaver, successor = tenant.user(), tenant.user()
    teams = [tenant.team(managerId=leaver["id"])["id"] for _ in range(2)]
    untouched = tenant.team(managerId=successor["id"])["id"]

    done = offboard(tenant, leaver["id"], {"reassignTo": successor["id"]})

    assert {t["id"] for t in done["teamsReassigned"]} == set(teams)
    assert done["reassignedTo"] == successor["id"]
    for team_id in [*teams, untouched]:
        r = tenant.http.get(f"{V2}/teams/{team_id}", headers=tenant.headers())
        assert r.json()["managerId"] == successor["id"], r.text
    assert actions(tenant, "team", teams[0])[-1] == "team.updated"


def test_offboard_with_an_unknown_reassign_to_is_400_and_changes_nothing(
    tenant: TenantHandle,
) -> None:
    user = tenant.user()
    group = tenant.group()["id"]
    join(tenant, user["id"], [group])

    error = offboard(tenant, user["id"], {"reassignTo": str(uuid.uuid4())}, status=400)

    assert "reassignTo" in error["error"]["message"]
    assert get_user(tenant, user["id"])["status"] == "active"
    assert groups_of(tenant, user["id"]) == {group}


def test_offboard_can_keep_groups(tenant: TenantHandle) -> None:
    user = tenant.user()
    kept, left = tenant.group()["id"], tenant.group()["id"]
    join(tenant, user["id"], [kept, left])

    done = offboard(tenant, user["id"], {"keepGroupIds": [kept]})

    assert [g["id"] for g in done["groupsRemoved"]] == [left]
    assert [g["id"] for g in done["groupsKept"]] == [kept]
    assert groups_of(tenant, user["id"]) == {kept}
    other = tenant.user()
    join(tenant, other["id"], [kept, left])
    assert offboard(tenant, other["id"], {"keepGroups": True})["groupsRemoved"] == []
    assert groups_of(tenant, other["id"]) == {kept, left}


def test_offboard_ends_the_users_api_v1_sessions(tenant: TenantHandle, http: TestClient) -> None:
    admin = make_admin(tenant)
    user = tenant.user(username=admin.username)
    token = {"Authorization": f"Bearer {admin.login(http)}"}
    assert http.get("/api/v1/users", headers=token).status_code == 200

    done = offboard(tenant, user["id"])

    assert done["sessionsEnded"] == 1
    refused = http.get("/api/v1/users", headers=token)
    assert refused.status_code == 401, refused.text
    assert "admin.sessions_ended" in actions(tenant, "admin", str(admin.id))
    # Nothing left to end the second time.
    assert offboard(tenant, user["id"])["sessionsEnded"] == 0


def test_offboard_needs_lifecycle_write(tenant: TenantHandle) -> None:
    user = tenant.user()
    url = f"{V2}/users/{user['id']}/offboard"
    r = tenant.http.post(url, headers=tenant.headers("user:write", "group:write"))
    assert r.status_code == 403, r.text
    assert get_user(tenant, user["id"])["status"] == "active"
    assert tenant.http.post(url, headers=tenant.headers("admin")).status_code == 200


def test_offboard_of_an_unknown_or_foreign_user_is_404(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    offboard(tenant, str(uuid.uuid4()), status=404)
    foreign = other_tenant.user()
    offboard(tenant, foreign["id"], status=404)
    assert get_user(other_tenant, foreign["id"])["status"] == "active"


# ---- sign-ins ------------------------------------------------------------------------------


def test_a_sign_in_sets_last_login_at_now_by_default(tenant: TenantHandle) -> None:
    user = tenant.user()
    assert "lastLoginAt" not in user
    before = datetime.now(UTC) - timedelta(seconds=1)
    shown = sign_in(tenant, user["id"])
    assert before <= _parse(shown["lastLoginAt"]) <= datetime.now(UTC) + timedelta(seconds=1)
    assert get_user(tenant, user["id"])["lastLoginAt"] == shown["lastLoginAt"]
    assert actions(tenant, "user", user["id"])[-1] == "user.signed_in"


def test_an_older_backfill_does_not_move_last_login_at_back(tenant: TenantHandle) -> None:
    user = tenant.user()
    latest = sign_in(tenant, user["id"], _ago(1))["lastLoginAt"]
    assert sign_in(tenant, user["id"], _ago(100))["lastLoginAt"] == latest
    assert get_user(tenant, user["id"])["lastLoginAt"] == latest
    # A later one moves it forward.
    assert _parse(sign_in(tenant, user["id"])["lastLoginAt"]) > _parse(latest)


@pytest.mark.parametrize(
    "at",
    [
        (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "2026-01-01T00:00:00",  # no offset
        "yesterday",
    ],
    ids=["future", "naive", "garbage"],
)
def test_a_bad_sign_in_time_is_400_and_records_nothing(tenant: TenantHandle, at: str) -> None:
    user = tenant.user()
    r = tenant.http.post(
        f"{V2}/users/{user['id']}/sign-ins", json={"at": at}, headers=tenant.headers()
    )
    assert r.status_code == 400, r.text
    assert "at" in r.text
    assert "lastLoginAt" not in get_user(tenant, user["id"])


def test_a_sign_in_is_no_modification_of_the_user(tenant: TenantHandle) -> None:
    user = tenant.user()
    sign_in(tenant, user["id"])
    assert get_user(tenant, user["id"])["modifiedAt"] == user["modifiedAt"]


def test_api_v1_shows_the_recorded_sign_in(tenant: TenantHandle, http: TestClient) -> None:
    user = tenant.user()
    shown = sign_in(tenant, user["id"], _ago(3))["lastLoginAt"]
    admin = make_admin(tenant)
    r = http.get(f"/api/v1/users/{user['id']}", headers=admin.headers(http))
    assert r.status_code == 200, r.text
    assert r.json()["lastLogin"] == shown


def test_v2_lists_filter_on_last_login_and_creation(tenant: TenantHandle) -> None:
    old, recent, never = tenant.user()["id"], tenant.user()["id"], tenant.user()["id"]
    sign_in(tenant, old, _ago(100))
    sign_in(tenant, recent, _ago(1))
    created_days_ago(tenant, old, 200)
    created_days_ago(tenant, never, 50)

    def listed(**params: str) -> set[str]:
        r = tenant.http.get(f"{V2}/users", params=params, headers=tenant.headers())
        assert r.status_code == 200, r.text
        return {u["id"] for u in r.json()["items"]}

    cutoff = _iso(_ago(30))
    assert listed(lastLoginBefore=cutoff) == {old, never}
    assert listed(lastLoginAfter=cutoff) == {recent}
    assert listed(createdBefore=cutoff) == {old, never}
    assert listed(createdAfter=cutoff) == {recent}
    assert listed(createdBefore=cutoff, lastLoginAfter=_iso(_ago(365))) == {old}


def test_scim_filters_on_meta_created(tenant: TenantHandle) -> None:
    old, new = tenant.user()["id"], tenant.user()["id"]
    created_days_ago(tenant, old, 200)
    cutoff = _ago(30).strftime("%Y-%m-%dT%H:%M:%SZ")

    def found(scim_filter: str) -> set[str]:
        r = tenant.http.get(
            "/scim/v2/Users", params={"filter": scim_filter}, headers=tenant.scim_headers()
        )
        assert r.status_code == 200, r.text
        return {u["id"] for u in r.json()["Resources"]}

    assert found(f'meta.created lt "{cutoff}"') == {old}
    assert found(f'meta.created gt "{cutoff}"') == {new}


# ---- idle sweeps: plans --------------------------------------------------------------------


def test_a_dry_run_lists_exactly_the_idle_users(tenant: TenantHandle, idle: dict[str, str]) -> None:
    sweep = plan(tenant)

    assert sweep["userCount"] == 2 and sweep["activeUsers"] == 5
    assert sweep["action"] == "deactivate" and sweep["neverSignedIn"] == "byCreationDate"
    users = {u["userId"]: u for u in planned_users(tenant, sweep["id"])}
    assert set(users) == {idle["signed_in_long_ago"], idle["created_long_ago"]}
    long_ago = users[idle["signed_in_long_ago"]]
    assert long_ago["reason"] == "lastSignIn"
    assert _ago(101) < _parse(long_ago["lastLoginAt"]) < _ago(99)
    never = users[idle["created_long_ago"]]
    assert never["reason"] == "neverSignedIn" and "lastLoginAt" not in never
    assert _ago(201) < _parse(never["createdAt"]) < _ago(199)
    assert all("outcome" not in u for u in users.values())
    # A dry run changes no one.
    for user_id in idle.values():
        expected = "inactive" if user_id == idle["old_and_inactive"] else "active"
        assert get_user(tenant, user_id)["status"] == expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("exclude", {"signed_in_long_ago"}),
        ("include", {"signed_in_long_ago", "created_long_ago", "new"}),
    ],
)
def test_never_signed_in_rules(
    tenant: TenantHandle, idle: dict[str, str], rule: str, expected: set[str]
) -> None:
    sweep = plan(tenant, neverSignedIn=rule)
    assert {u["userId"] for u in planned_users(tenant, sweep["id"])} == {
        idle[name] for name in expected
    }


def test_plans_page_with_a_cursor(tenant: TenantHandle) -> None:
    ids = {tenant.user()["id"] for _ in range(5)}
    for user_id in ids:
        created_days_ago(tenant, user_id, 100)
    sweep = plan(tenant)

    pages = planned_users(tenant, sweep["id"], limit=2)

    assert [u["userId"] for u in pages] == sorted(
        (u["userId"] for u in pages), key=lambda i: uuid.UUID(i)
    )
    assert len(pages) == 5 and {u["userId"] for u in pages} == ids
    r = tenant.http.get(
        f"{SWEEPS}/{sweep['id']}/users", params={"cursor": "not-ours"}, headers=tenant.headers()
    )
    assert r.status_code == 400, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"inactiveDays": 0},
        {"inactiveDays": "ninety"},
        {"inactiveDays": 90, "neverSignedIn": "sometimes"},
        {"inactiveDays": 90, "action": "delete"},
        {},
    ],
)
def test_a_bad_plan_is_400(tenant: TenantHandle, body: dict[str, Any]) -> None:
    r = tenant.http.post(SWEEPS, json=body, headers=tenant.headers("lifecycle:write"))
    assert r.status_code == 400, r.text


def test_sweeps_need_lifecycle_write_and_stay_in_their_tenant(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    r = tenant.http.post(SWEEPS, json={"inactiveDays": 90}, headers=tenant.headers("user:write"))
    assert r.status_code == 403, r.text
    sweep = plan(tenant)
    r = tenant.http.get(f"{SWEEPS}/{sweep['id']}", headers=other_tenant.headers())
    assert r.status_code == 404, r.text
    r = tenant.http.post(f"{SWEEPS}/{sweep['id']}/apply", headers=other_tenant.headers())
    assert r.status_code == 404, r.text


# ---- idle sweeps: apply and the guard ------------------------------------------------------


def test_apply_acts_only_on_the_planned_users_that_still_match(
    tenant: TenantHandle, idle: dict[str, str]
) -> None:
    unguarded(tenant)
    sweep = plan(tenant)
    assert sweep["state"] == "planned"
    # Meanwhile one planned user signs in, and a user goes idle after the plan was made.
    sign_in(tenant, idle["signed_in_long_ago"])
    late = tenant.user()["id"]
    created_days_ago(tenant, late, 365)

    applied = apply(tenant, sweep["id"])

    assert applied["state"] == "applied" and applied["appliedBy"].startswith("client:")
    assert applied["result"] == {"deactivated": 1, "skipped:signed_in": 1}
    assert get_user(tenant, idle["created_long_ago"])["status"] == "inactive"
    for name in ("signed_in_long_ago", "new", "signed_in_lately", "old_but_signed_in_lately"):
        assert get_user(tenant, idle[name])["status"] == "active", name
    assert get_user(tenant, late)["status"] == "active"
    outcomes = {u["userId"]: u for u in planned_users(tenant, sweep["id"])}
    assert outcomes[idle["created_long_ago"]]["outcome"] == "deactivated"
    assert outcomes[idle["signed_in_long_ago"]]["outcome"] == "skipped"
    assert outcomes[idle["signed_in_long_ago"]]["skipReason"] == "signed_in"
    assert actions(tenant, "user", idle["created_long_ago"])[-1] == "user.deactivated"
    assert actions(tenant, "idle_sweep", sweep["id"]) == [
        "idle_sweep.planned",
        "idle_sweep.applied",
    ]

    # Applying again does nothing more and answers the same.
    again = apply(tenant, sweep["id"])
    assert again == applied
    assert actions(tenant, "user", idle["created_long_ago"]).count("user.deactivated") == 1


def test_an_offboarding_sweep_removes_memberships_too(tenant: TenantHandle) -> None:
    unguarded(tenant)
    user = tenant.user()["id"]
    group = tenant.group()["id"]
    join(tenant, user, [group])
    created_days_ago(tenant, user, 100)

    done = plan(tenant, action="offboard", dryRun=False)

    assert done["state"] == "applied" and done["result"] == {"offboarded": 1}
    assert get_user(tenant, user)["status"] == "inactive"
    assert groups_of(tenant, user) == set()


def test_a_sweep_above_the_guard_is_held_until_an_admin_confirms(
    tenant: TenantHandle, idle: dict[str, str]
) -> None:
    # 2 of 5 active users is more than the default 10%.
    sweep = plan(tenant, dryRun=False)
    assert sweep["state"] == "held" and sweep["held"] is True
    assert sweep["guard"] == {"percentOfActiveUsers": 10.0, "users": 500}
    assert get_user(tenant, idle["created_long_ago"])["status"] == "active"

    refused = apply(tenant, sweep["id"], status=409)
    assert refused["error"]["code"] == "held"
    forbidden = apply(tenant, sweep["id"], "lifecycle:write", status=403, confirm=True)
    assert "admin" in forbidden["error"]["message"]
    r = tenant.http.get(f"{SWEEPS}/{sweep['id']}", headers=tenant.headers("user:read"))
    assert r.json()["state"] == "held"
    assert get_user(tenant, idle["created_long_ago"])["status"] == "active"

    applied = apply(tenant, sweep["id"], "admin", confirm=True)

    assert applied["state"] == "applied" and applied["held"] is True
    assert applied["result"] == {"deactivated": 2}
    assert get_user(tenant, idle["created_long_ago"])["status"] == "inactive"
    assert get_user(tenant, idle["signed_in_long_ago"])["status"] == "inactive"


def test_the_guard_counts_users_as_well_as_a_share(tenant: TenantHandle) -> None:
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        tenants_service.set_idle_sweep_guard(session, row, percent=100, users=2)
    ids = [tenant.user()["id"] for _ in range(3)]
    for user_id in ids[:2]:
        created_days_ago(tenant, user_id, 100)
    assert plan(tenant)["state"] == "planned"
    created_days_ago(tenant, ids[2], 100)
    assert plan(tenant)["state"] == "held"


# ---- documentation -------------------------------------------------------------------------

LIFECYCLE_OPERATIONS = {
    ("post", f"{V2}/users/{{userId}}/offboard"): "offboardUser",
    ("post", f"{V2}/users/{{userId}}/sign-ins"): "recordSignIn",
    ("post", SWEEPS): "planIdleSweep",
    ("get", f"{SWEEPS}/{{sweepId}}"): "getIdleSweep",
    ("get", f"{SWEEPS}/{{sweepId}}/users"): "listIdleSweepUsers",
    ("post", f"{SWEEPS}/{{sweepId}}/apply"): "applyIdleSweep",
}


def test_the_lifecycle_extensions_are_documented(http: TestClient) -> None:
    doc = http.get("/openapi.json").json()
    for (method, path), operation_id in LIFECYCLE_OPERATIONS.items():
        operation = doc["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["summary"].endswith("(extension)")
        assert "Scope" in operation["description"], operation_id
        assert {"400", "401", "403"} <= set(operation["responses"]), operation_id
    apply_responses = doc["paths"][f"{SWEEPS}/{{sweepId}}/apply"]["post"]["responses"]
    assert "409" in apply_responses
    list_params = {p["name"] for p in doc["paths"][f"{V2}/users"]["get"]["parameters"]}
    assert {"lastLoginBefore", "lastLoginAfter", "createdBefore", "createdAfter"} <= list_params
