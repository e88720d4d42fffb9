"""Lifecycle: the idle sweep as plan → review → apply (and the guard), scheduled expiries."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from rosterd.models import AuditEvent, IdleSweep, User
from rosterd.runtime import Runtime
from rosterd.services import tenants as tenants_service
from tests.console.conftest import Console, make_admin
from tests.factories import V2, TenantHandle


def _ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def _created_days_ago(tenant: TenantHandle, user_id: str, days: float) -> None:
    """Backdate a user's creation in the store: a fixture concern, no surface sets it."""
    with tenant.runtime.db.writer.begin() as session:
        session.execute(
            update(User)
            .where(User.tenant_id == tenant.id, User.id == uuid.UUID(user_id))
            .values(created_at=_ago(days))
        )


def _guard(tenant: TenantHandle, *, percent: float, users: int) -> None:
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        tenants_service.set_idle_sweep_guard(session, row, percent=percent, users=users)


def _status(http: TestClient, tenant: TenantHandle, user_id: str) -> str:
    r = http.get(f"{V2}/users/{user_id}", headers=tenant.headers())
    return str(r.json()["status"])


def _console_audit(tenant: TenantHandle, action: str) -> list[AuditEvent]:
    with tenant.runtime.db.reader() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.tenant_id == tenant.id, AuditEvent.action == action
                )
            )
        )


def _sweeps(tenant: TenantHandle) -> int:
    with tenant.runtime.db.reader() as session:
        stmt = select(func.count()).select_from(IdleSweep).where(IdleSweep.tenant_id == tenant.id)
        return int(session.scalar(stmt) or 0)


def _plan(console: Console, days: int | str, **form: str) -> str:
    """Plan through the console; the path of the plan's page it leads to."""
    console.get("/admin/lifecycle")
    r = console.post("/admin/lifecycle/sweeps", {"inactive_days": str(days), **form})
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(r"/admin/lifecycle/sweeps/[0-9a-f-]{36}", location), location
    return location


def test_plan_review_apply(console: Console, http: TestClient) -> None:
    tenant = console.tenant
    idle = tenant.user(username="idle-one")
    _created_days_ago(tenant, idle["id"], 100)
    fresh = tenant.user(username="fresh-one")
    _guard(tenant, percent=100, users=1000)

    page = console.get("/admin/lifecycle")
    assert page.status_code == 200
    assert 'name="inactive_days"' in page.text

    plan = _plan(console, 90)
    review = console.get(plan)
    assert review.status_code == 200
    assert "idle-one" in review.text and "fresh-one" not in review.text
    assert "1 of 2 active" in review.text
    assert _status(http, tenant, idle["id"]) == "active"  # planning touches no one

    # Without the confirmation ticked nothing is done.
    refused = console.post(f"{plan}/apply")
    assert refused.status_code == 303
    assert "confirmation" in console.get(refused.headers["location"]).text
    assert _status(http, tenant, idle["id"]) == "active"

    applied = console.post(f"{plan}/apply", {"confirm": "true"})
    assert applied.status_code == 303
    shown = console.get(applied.headers["location"])
    assert "Applied: 1 deactivated." in shown.text
    assert _status(http, tenant, idle["id"]) == "inactive"
    assert _status(http, tenant, fresh["id"]) == "active"

    for action in ("idle_sweep.planned", "idle_sweep.applied"):
        [event] = _console_audit(tenant, action)
        assert (event.surface, event.actor) == ("console", f"admin:{console.username}")
    [deactivated] = _console_audit(tenant, "user.deactivated")
    assert (deactivated.surface, deactivated.resource_id) == ("console", idle["id"])
    assert plan.rsplit("/", 1)[1] in console.get("/admin/lifecycle").text  # recent plans


def test_a_plan_above_the_guard_is_refused_until_the_guard_is_overridden(
    console: Console, http: TestClient
) -> None:
    tenant = console.tenant
    users = [tenant.user() for _ in range(3)]
    for user in users:
        _created_days_ago(tenant, user["id"], 40)
    _guard(tenant, percent=10, users=500)

    plan = _plan(console, 30, action="offboard")
    review = console.get(plan).text
    assert "Held by the tenant" in review
    assert 'name="override_guard"' in review

    refused = console.post(f"{plan}/apply", {"confirm": "true"})
    message = console.get(refused.headers["location"]).text
    assert "Not applied: the tenant&#39;s guard holds this plan" in message
    assert all(_status(http, tenant, u["id"]) == "active" for u in users)

    done = console.post(f"{plan}/apply", {"confirm": "true", "override_guard": "true"})
    assert "Applied: 3 offboarded." in console.get(done.headers["location"]).text
    assert all(_status(http, tenant, u["id"]) == "inactive" for u in users)


def test_the_plan_lists_its_users_a_page_at_a_time(console: Console) -> None:
    tenant = console.tenant
    _guard(tenant, percent=100, users=1000)
    made = [tenant.user() for _ in range(53)]
    for user in made:
        _created_days_ago(tenant, user["id"], 70)
    plan = _plan(console, 60)
    first = console.get(plan).text
    found = re.search(r'rel="next" href="([^"]+)"', first)
    assert found, "no next page"
    second = console.get(found.group(1).replace("&amp;", "&")).text
    ids = set(re.findall(r'href="/admin/users/([0-9a-f-]{36})"', first))
    later = set(re.findall(r'href="/admin/users/([0-9a-f-]{36})"', second))
    assert len(ids) == 50 and len(later) == 3
    assert ids | later == {u["id"] for u in made}
    assert 'rel="next"' not in second


def test_bad_plans_are_refused_and_write_nothing(console: Console) -> None:
    console.get("/admin/lifecycle")
    for form in (
        {"inactive_days": "0"},
        {"inactive_days": "ninety"},
        {"inactive_days": "99999"},
        {"inactive_days": "30", "action": "delete"},
        {"inactive_days": "30", "never_signed_in": "sometimes"},
    ):
        r = console.post("/admin/lifecycle/sweeps", form)
        assert r.status_code == 400, (form, r.text)
        assert 'class="problem" role="alert"' in r.text
    assert (
        "use 1 to 36500 days"
        in console.post("/admin/lifecycle/sweeps", {"inactive_days": "0"}).text
    )
    assert _sweeps(console.tenant) == 0
    assert _console_audit(console.tenant, "idle_sweep.planned") == []


def test_posts_without_the_csrf_token_are_refused(console: Console) -> None:
    tenant = console.tenant
    user = tenant.user()
    _created_days_ago(tenant, user["id"], 100)
    r = console.http.post(
        "/admin/lifecycle/sweeps", data={"inactive_days": "30"}, follow_redirects=False
    )
    assert r.status_code == 403
    assert _sweeps(tenant) == 0
    plan = _plan(console, 30)
    r = console.http.post(f"{plan}/apply", data={"confirm": "true"}, follow_redirects=False)
    assert r.status_code == 403


def test_another_tenants_plan_answers_404(
    console: Console, other_tenant: TenantHandle, http: TestClient
) -> None:
    r = http.post(
        f"{V2}/lifecycle/idle-sweeps",
        json={"inactiveDays": 30},
        headers=other_tenant.headers("lifecycle:write"),
    )
    assert r.status_code == 201, r.text
    theirs = f"/admin/lifecycle/sweeps/{r.json()['id']}"
    assert console.get(theirs).status_code == 404
    assert console.post(f"{theirs}/apply", {"confirm": "true"}).status_code == 404
    assert console.get(f"/admin/lifecycle/sweeps/{uuid.uuid4()}").status_code == 404


def test_scheduled_expiries_soonest_first_a_page_at_a_time(console: Console) -> None:
    tenant = console.tenant
    now = datetime.now(UTC)
    later = [
        tenant.user(username=f"ends-{i:02d}", expiresAt=(now + timedelta(days=60 - i)).isoformat())
        for i in range(52)
    ]
    tenant.user(username="stays")
    gone = tenant.user(username="ended", expiresAt=(now - timedelta(days=1)).isoformat())
    assert gone["status"] == "inactive"

    first = console.get("/admin/lifecycle")
    assert first.status_code == 200
    ids = re.findall(r'href="/admin/users/([0-9a-f-]{36})"', first.text)
    # Soonest first: the last made ends first.
    assert ids == [u["id"] for u in reversed(later)][:50]
    assert "stays" not in first.text and "ended" not in first.text
    found = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert found
    second = console.get(found.group(1).replace("&amp;", "&").split("#")[0])
    assert re.findall(r'href="/admin/users/([0-9a-f-]{36})"', second.text) == [
        later[1]["id"],
        later[0]["id"],
    ]
    assert console.get("/admin/lifecycle", params={"cursor": "zzz"}).status_code == 400


def test_two_admins_applying_one_plan_at_once_act_on_each_user_once(
    console: Console, runtime: Runtime, http: TestClient
) -> None:
    tenant = console.tenant
    _guard(tenant, percent=100, users=1000)
    idle = [tenant.user() for _ in range(3)]
    for user in idle:
        _created_days_ago(tenant, user["id"], 100)
    plan = _plan(console, 90)
    other = Console(TestClient(http.app), tenant, make_admin(runtime, tenant.slug))
    assert other.sign_in().status_code == 303
    other.get(plan)

    def apply(c: Console) -> str:
        r = c.post(f"{plan}/apply", {"confirm": "true"})
        assert r.status_code == 303, r.text
        return str(r.headers["location"])

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(apply, [console, other]))
    assert all("Applied%3A+3+deactivated" in a for a in answers), answers
    assert len(_console_audit(tenant, "idle_sweep.applied")) == 1
    assert len(_console_audit(tenant, "user.deactivated")) == 3
    assert all(_status(http, tenant, u["id"]) == "inactive" for u in idle)
