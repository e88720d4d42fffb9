"""Scheduled access (issue 12 item 6), on SQLite and PostgreSQL: a user's ``validFrom`` and
``expiresAt`` and a membership's ``expiresAt`` on /integration/v2, the rules they obey, and
the scheduler carrying them out once with an injected clock.

The store is shared by the tests of a backend (each has a tenant of its own) and a scheduler
acts on every tenant, so a test counts only its own users' events and never how many actions
a run took in total.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from rosterd.lifecycle.scheduler import Scheduler
from rosterd.models import AuditEvent
from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from tests.api.test_concurrency import assert_statuses, burst, report
from tests.conftest import LiveServer
from tests.factories import V2, TenantHandle

SCIM = "/scim/v2"


def wire(moment: datetime) -> str:
    """A time as v2 writes it (UTC, milliseconds, ``Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ahead(**delta: float) -> datetime:
    """A whole second some time from now (far enough that no request outruns it)."""
    return (utcnow() + timedelta(**delta)).replace(microsecond=0)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def create(tenant: TenantHandle, **fields: Any) -> Any:
    n = secrets.token_hex(4)
    body = {"email": f"sched-{n}@example.com", "firstName": "Sched", "lastName": f"U{n}", **fields}
    return tenant.http.post(f"{V2}/users", json=body, headers=tenant.headers())


def get_user(tenant: TenantHandle, user_id: str) -> dict[str, Any]:
    r = tenant.http.get(f"{V2}/users/{user_id}", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def patch(tenant: TenantHandle, user_id: str, **fields: Any) -> Any:
    return tenant.http.patch(f"{V2}/users/{user_id}", json=fields, headers=tenant.headers())


def add_member(tenant: TenantHandle, group_id: str, user_id: str, **fields: Any) -> Any:
    return tenant.http.post(
        f"{V2}/groups/{group_id}/members",
        json={"userId": user_id, **fields},
        headers=tenant.headers(),
    )


def members(tenant: TenantHandle, group_id: str) -> dict[str, dict[str, Any]]:
    r = tenant.http.get(f"{V2}/groups/{group_id}/members", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return {m["id"]: m for m in r.json()["items"]}


def actions(runtime: Runtime, tenant: TenantHandle, *names: str) -> list[tuple[str, str, str]]:
    """(action, resource id, actor) of the tenant's audit events among ``names``, in order."""
    with runtime.db.reader() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.resource_id, AuditEvent.actor)
            .where(AuditEvent.tenant_id == tenant.id, AuditEvent.action.in_(names))
            .order_by(AuditEvent.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def feed_types(tenant: TenantHandle, expected: int) -> list[tuple[str, str, str]]:
    """(type, subject, actor) of the tenant's scheduled-access events in the event feed,
    once there are ``expected`` of them or a minute went by: on PostgreSQL the feed holds
    events back while an older transaction is open anywhere on the (shared) server."""
    wanted = {"types": "user.activated,user.deactivated,group.member.removed", "limit": 1000}
    deadline = time.monotonic() + 60
    while True:
        r = tenant.http.get(f"{V2}/events", params=wanted, headers=tenant.headers())
        assert r.status_code == 200, r.text
        events = r.json()["events"]
        if len(events) >= expected or time.monotonic() > deadline:
            return [(e["type"], e["subject"], e["data"]["actor"]) for e in events]
        time.sleep(0.25)


def error_fields(r: Any) -> list[str]:
    return [d["field"] for d in r.json()["error"]["details"]]


def users_named(tenant: TenantHandle, email: str) -> int:
    r = tenant.http.get(f"{V2}/users", params={"email": email}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    return int(r.json()["totalCount"])


# ---- the rules: a bad combination is refused, naming the field, and writes nothing ---------


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        (
            {"validFrom": "2031-01-02T00:00:00Z", "expiresAt": "2031-01-01T00:00:00Z"},
            422,
            "validFrom",
        ),
        (
            {"validFrom": "2031-01-01T00:00:00Z", "expiresAt": "2031-01-01T00:00:00Z"},
            422,
            "validFrom",
        ),
        ({"validFrom": "2031-01-01T00:00:00Z", "isActive": False}, 422, "validFrom"),
        ({"validFrom": "2031-01-01T00:00:00"}, 400, "validFrom"),
        ({"expiresAt": "2031-01-01T00:00:00"}, 400, "expiresAt"),
        ({"validFrom": "not a time"}, 400, "validFrom"),
    ],
)
def test_a_bad_schedule_on_create_is_refused_and_writes_nothing(
    tenant: TenantHandle, fields: dict[str, Any], status: int, field: str
) -> None:
    email = f"refused-{secrets.token_hex(4)}@example.com"
    r = create(tenant, email=email, **fields)
    assert r.status_code == status, r.text
    assert field in error_fields(r)
    assert users_named(tenant, email) == 0


def test_a_bad_schedule_on_patch_is_refused_and_changes_nothing(tenant: TenantHandle) -> None:
    active = create(tenant).json()
    pending = create(tenant, validFrom=wire(ahead(days=10)), expiresAt=wire(ahead(days=20))).json()
    refusals = [
        # Only a pending user can wait for a validFrom.
        (active, {"validFrom": wire(ahead(days=1))}, 422, "validFrom"),
        # An expiry before the stored validFrom, and a validFrom after the stored expiry.
        (pending, {"expiresAt": wire(ahead(days=5))}, 422, "expiresAt"),
        (pending, {"validFrom": wire(ahead(days=30))}, 422, "validFrom"),
        # Made active by hand and told to wait, both at once.
        (pending, {"status": "active", "validFrom": wire(ahead(days=1))}, 422, "validFrom"),
        (pending, {"validFrom": "2031-01-01T00:00:00"}, 400, "validFrom"),
    ]
    for user, fields, status, field in refusals:
        before = get_user(tenant, user["id"])
        r = patch(tenant, user["id"], **fields)
        assert r.status_code == status, (fields, r.text)
        assert field in error_fields(r), (fields, r.text)
        after = get_user(tenant, user["id"])
        assert after == before, fields


@pytest.mark.parametrize(
    ("expires", "status"),
    [("2001-01-01T00:00:00Z", 422), ("2031-01-01T00:00:00", 400), ("soon", 400)],
)
def test_a_membership_expiry_must_be_a_time_ahead(
    tenant: TenantHandle, expires: str, status: int
) -> None:
    user, group = tenant.user(), tenant.group()
    r = add_member(tenant, group["id"], user["id"], expiresAt=expires)
    assert r.status_code == status, r.text
    assert error_fields(r) == ["expiresAt"]
    assert members(tenant, group["id"]) == {}


# ---- round trips ---------------------------------------------------------------------------


def test_a_user_with_a_validfrom_ahead_is_pending_everywhere(tenant: TenantHandle) -> None:
    start, end = ahead(days=3), ahead(days=90)
    r = create(tenant, validFrom=wire(start), expiresAt=wire(end))
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["status"], made["isActive"]) == ("pending", False)
    assert (made["validFrom"], made["expiresAt"]) == (wire(start), wire(end))
    # GET (its fast path) and the list show the same.
    assert get_user(tenant, made["id"]) == made
    listed = tenant.http.get(
        f"{V2}/users", params={"status": "pending"}, headers=tenant.headers()
    ).json()
    assert [u for u in listed["items"] if u["id"] == made["id"]] == [made]
    # SCIM has no such attributes; its user is simply not active yet.
    scim = tenant.http.get(f"{SCIM}/Users/{made['id']}", headers=tenant.scim_headers())
    assert scim.status_code == 200, scim.text
    assert scim.json()["active"] is False


def test_a_validfrom_that_has_come_means_active_now(tenant: TenantHandle) -> None:
    past = ahead(days=-1)
    for status in ({}, {"status": "pending"}):
        made = create(tenant, validFrom=wire(past), **status).json()
        assert (made["status"], made["validFrom"]) == ("active", wire(past))


def test_changing_the_schedule_of_a_pending_user(tenant: TenantHandle) -> None:
    start = ahead(days=3)
    user = create(tenant, validFrom=wire(start)).json()
    # Moved later: still pending.
    later = ahead(days=4)
    moved = patch(tenant, user["id"], validFrom=wire(later)).json()
    assert (moved["status"], moved["validFrom"]) == ("pending", wire(later))
    # Cleared: nothing to wait for, active at once.
    cleared = patch(tenant, user["id"], validFrom=None).json()
    assert cleared["status"] == "active"
    assert "validFrom" not in cleared

    # Made active by hand before its start: its validFrom becomes now.
    other = create(tenant, validFrom=wire(start)).json()
    before = utcnow()
    activated = patch(tenant, other["id"], status="active").json()
    assert activated["status"] == "active"
    assert before - timedelta(seconds=1) <= parse(activated["validFrom"]) <= utcnow()

    # Deactivated before its start: the start is dropped.
    third = create(tenant, validFrom=wire(start)).json()
    dropped = patch(tenant, third["id"], isActive=False).json()
    assert dropped["status"] == "inactive"
    assert "validFrom" not in dropped


def test_expires_at_is_the_admin_expired_date(tenant: TenantHandle) -> None:
    end = ahead(days=30)
    user = create(tenant, expiresAt=wire(end)).json()
    assert (user["status"], user["expiresAt"]) == ("active", wire(end))
    # A time that has come is stored as now and deactivates at once, as ADMIN's expiredDate.
    before = utcnow()
    expired = patch(tenant, user["id"], expiresAt="2001-01-01T00:00:00Z").json()
    assert expired["status"] == "inactive"
    assert before - timedelta(seconds=1) <= parse(expired["expiresAt"]) <= utcnow()
    # Moved ahead again: active until then.
    again = patch(tenant, user["id"], expiresAt=wire(end)).json()
    assert (again["status"], again["expiresAt"]) == ("active", wire(end))

    api_key = _api_key(tenant)
    admin_headers = {**tenant.headers(), "x-api-key": api_key}
    found = tenant.http.get(
        "/v1/seadminusers",
        params={"searchData.emailAddress": user["email"]},
        headers=admin_headers,
    ).json()["users"]
    assert [parse(u["expiredDate"]) for u in found] == [end]


def _api_key(tenant: TenantHandle) -> str:
    from rosterd.services import api_keys, bearer_secrets
    from rosterd.services import tenants as tenants_service
    from rosterd.services.context import Actor

    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        actor = Actor(tenant_id=row.id, actor="test", surface="test")
        issued = bearer_secrets.create(
            session, api_keys.KIND, row, name="test", hmac_key=tenant.runtime.hmac_key, actor=actor
        )
        return issued.secret


def test_a_membership_with_an_expiry_round_trips(tenant: TenantHandle) -> None:
    user, forever, group = tenant.user(), tenant.user(), tenant.group()
    end = ahead(days=7)
    r = add_member(tenant, group["id"], user["id"], expiresAt=wire(end))
    assert r.status_code == 201, r.text
    assert r.json()["expiresAt"] == wire(end)
    r = add_member(tenant, group["id"], forever["id"])
    assert r.status_code == 201, r.text
    assert "expiresAt" not in r.json()
    listed = members(tenant, group["id"])
    assert listed[user["id"]]["membershipExpiresAt"] == wire(end)
    assert "membershipExpiresAt" not in listed[forever["id"]]
    # Already a member, with or without an expiry: a conflict, and the expiry stays.
    again = add_member(tenant, group["id"], user["id"], expiresAt=wire(ahead(days=8)))
    assert again.status_code == 409, again.text
    assert members(tenant, group["id"])[user["id"]]["membershipExpiresAt"] == wire(end)


# ---- the scheduler, with an injected clock -------------------------------------------------


def test_the_scheduler_activates_removes_and_expires_each_once(
    tenant: TenantHandle, runtime: Runtime
) -> None:
    start, leave_group, end = ahead(days=2), ahead(days=3), ahead(days=4)
    user = create(tenant, validFrom=wire(start), expiresAt=wire(end)).json()
    group = tenant.group()
    assert (
        add_member(tenant, group["id"], user["id"], expiresAt=wire(leave_group)).status_code == 201
    )
    clock = Clock(start - timedelta(seconds=1))

    def run() -> None:
        # A new scheduler each time: all it knows is in the database (a restart loses nothing).
        Scheduler(runtime.db, clock=clock).run_once()

    run()
    assert get_user(tenant, user["id"])["status"] == "pending"

    clock.now = start
    run()
    run()
    assert get_user(tenant, user["id"])["status"] == "active"
    assert user["id"] in members(tenant, group["id"])

    clock.now = leave_group + timedelta(seconds=1)
    run()
    run()
    assert user["id"] not in members(tenant, group["id"])
    assert get_user(tenant, user["id"])["status"] == "active"

    clock.now = end + timedelta(hours=1)
    run()
    run()
    final = get_user(tenant, user["id"])
    assert (final["status"], final["expiresAt"]) == ("inactive", wire(end))

    names = ("user.activated", "user.expired", "group.member_expired")
    assert actions(runtime, tenant, *names) == [
        ("user.activated", user["id"], "scheduler"),
        ("group.member_expired", group["id"], "scheduler"),
        ("user.expired", user["id"], "scheduler"),
    ]
    assert feed_types(tenant, 3) == [
        ("user.activated", user["id"], "scheduler"),
        ("group.member.removed", group["id"], "scheduler"),
        ("user.deactivated", user["id"], "scheduler"),
    ]


def test_a_user_whose_start_and_end_both_passed_ends_inactive_without_activation(
    tenant: TenantHandle, runtime: Runtime
) -> None:
    start, end = ahead(days=2), ahead(days=3)
    user = create(tenant, validFrom=wire(start), expiresAt=wire(end)).json()
    Scheduler(runtime.db, clock=Clock(end + timedelta(days=1))).run_once()
    assert get_user(tenant, user["id"])["status"] == "inactive"
    assert actions(runtime, tenant, "user.activated", "user.expired") == [
        ("user.expired", user["id"], "scheduler")
    ]


def test_a_removed_or_renewed_membership_is_not_removed_when_its_old_expiry_comes(
    tenant: TenantHandle, runtime: Runtime
) -> None:
    user, group = tenant.user(), tenant.group()
    end = ahead(days=2)
    assert add_member(tenant, group["id"], user["id"], expiresAt=wire(end)).status_code == 201
    r = tenant.http.delete(
        f"{V2}/groups/{group['id']}/members/{user['id']}", headers=tenant.headers()
    )
    assert r.status_code == 204, r.text
    assert add_member(tenant, group["id"], user["id"]).status_code == 201
    Scheduler(runtime.db, clock=Clock(end + timedelta(days=1))).run_once()
    assert user["id"] in members(tenant, group["id"])
    assert actions(runtime, tenant, "group.member_expired") == []


def test_a_scheduled_removal_moves_the_group_etag(tenant: TenantHandle, runtime: Runtime) -> None:
    user, group = tenant.user(), tenant.group()
    end = ahead(days=2)
    assert add_member(tenant, group["id"], user["id"], expiresAt=wire(end)).status_code == 201
    before = tenant.http.get(f"{V2}/groups/{group['id']}", headers=tenant.headers())
    Scheduler(runtime.db, clock=Clock(end)).run_once()
    after = tenant.http.get(f"{V2}/groups/{group['id']}", headers=tenant.headers())
    assert after.json()["memberCount"] == before.json()["memberCount"] - 1
    assert after.headers["etag"] != before.headers["etag"]


def test_two_schedulers_at_once_act_once_per_due_row(
    tenant: TenantHandle, runtime: Runtime
) -> None:
    start = ahead(days=2)
    starting = [create(tenant, validFrom=wire(start)).json()["id"] for _ in range(8)]
    ending = [create(tenant, expiresAt=wire(start)).json()["id"] for _ in range(8)]
    group = tenant.group()
    for user_id in starting:
        assert add_member(tenant, group["id"], user_id, expiresAt=wire(start)).status_code == 201
    clock = Clock(start + timedelta(seconds=1))
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            Scheduler(runtime.db, clock=clock).run_once()
        except BaseException as exc:  # reported in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    done = actions(runtime, tenant, "user.activated", "user.expired", "group.member_expired")
    assert sorted(r for a, r, _ in done if a == "user.activated") == sorted(starting)
    assert sorted(r for a, r, _ in done if a == "user.expired") == sorted(ending)
    assert [r for a, r, _ in done if a == "group.member_expired"] == [group["id"]] * 8
    assert members(tenant, group["id"]) == {}


# ---- concurrent clients on the write paths -------------------------------------------------


@pytest.mark.live
def test_concurrent_schedule_changes_and_member_adds_are_served(
    live_server: LiveServer, runtime: Runtime
) -> None:
    """Concurrent PATCHes of one user's schedule and member adds with expiries into one
    group against a real server, while a scheduler runs: no answer is a 5xx, the user ends as
    one of the writes left it, and every membership keeps its own expiry."""
    tenant = live_server.tenant()
    user = create(tenant, validFrom=wire(ahead(days=5))).json()
    group = tenant.group()
    others = [tenant.user()["id"] for _ in range(16)]
    ends = [wire(ahead(days=10 + i)) for i in range(16)]
    headers = tenant.headers()

    async def write(client: httpx.AsyncClient, i: int) -> httpx.Response:
        if i < 16:
            return await client.post(
                f"{V2}/groups/{group['id']}/members",
                json={"userId": others[i], "expiresAt": ends[i]},
                headers=headers,
            )
        return await client.patch(
            f"{V2}/users/{user['id']}", json={"expiresAt": ends[i - 16]}, headers=headers
        )

    scheduler = threading.Thread(target=Scheduler(runtime.db, clock=Clock(utcnow())).run_once)
    scheduler.start()
    outcomes = burst(live_server, 32, write)
    scheduler.join(timeout=60)
    assert_statuses(outcomes, {200, 201})
    assert sorted(o.status for o in outcomes) == [200] * 16 + [201] * 16, report(outcomes)
    final = get_user(tenant, user["id"])
    assert final["status"] == "pending"
    assert final["expiresAt"] in ends
    listed = members(tenant, group["id"])
    assert {uid: m["membershipExpiresAt"] for uid, m in listed.items()} == dict(
        zip(others, ends, strict=True)
    )


def test_unknown_user_id_in_a_membership_with_expiry_is_a_404(tenant: TenantHandle) -> None:
    group = tenant.group()
    r = add_member(tenant, group["id"], str(uuid.uuid4()), expiresAt=wire(ahead(days=1)))
    assert r.status_code == 404, r.text


def test_a_user_cannot_sign_in_before_its_start(tenant: TenantHandle) -> None:
    user = create(tenant, validFrom=wire(ahead(days=2))).json()
    r = tenant.http.post(f"{V2}/users/{user['id']}/sign-ins", headers=tenant.headers())
    assert r.status_code == 422, r.text
    assert error_fields(r) == ["at"]
    assert "lastLoginAt" not in get_user(tenant, user["id"])
    # Once started (here by hand), it can.
    assert patch(tenant, user["id"], status="active").status_code == 200
    r = tenant.http.post(f"{V2}/users/{user['id']}/sign-ins", headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["lastLoginAt"]


def test_other_apis_keep_to_the_same_rules(tenant: TenantHandle) -> None:
    """ADMIN's expiredDate is expiresAt, refused before the validFrom; SCIM and /api/v1 see a
    pending user as not active, and SCIM making it active starts it now."""
    start = ahead(days=5)
    user = create(tenant, validFrom=wire(start)).json()
    api_key = _api_key(tenant)
    admin_headers = {**tenant.headers(), "x-api-key": api_key}
    found = tenant.http.get(
        "/v1/seadminusers",
        params={"searchData.emailAddress": user["email"]},
        headers=admin_headers,
    ).json()["users"]
    [admin_user] = found
    assert admin_user["active"] is False
    body = {"emailAddress": user["email"], "expiredDate": wire(start - timedelta(days=1))}
    r = tenant.http.put(f"/v1/seadminusers/{admin_user['id']}", json=body, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert "expiredDate" in r.text
    assert get_user(tenant, user["id"]) == user

    before = utcnow()
    r = tenant.http.patch(
        f"{SCIM}/Users/{user['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": True}],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is True
    started = get_user(tenant, user["id"])
    assert started["status"] == "active"
    assert before - timedelta(seconds=1) <= parse(started["validFrom"]) <= utcnow()
