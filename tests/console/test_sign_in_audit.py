"""The console's sign-ins are in the tenant's audit trail: who signed in, from which address,
who was refused and why, who signed out; never a password, and never a row per throttled
attempt.

Each test signs in to an app of its own (its own login throttle counters), from an address
of its own, and reads the trail through GET /integration/v2/audit-events.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from tests.api.v1.support import door
from tests.console.conftest import PASSWORD, Console, age_sessions, csrf_of, make_admin
from tests.factories import V2, TenantHandle

ADDRESS = "203.0.113.41"
WRONG = "Wrong-Guess-7f3a9c"


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return door(runtime)


def _console(app: FastAPI, tenant: TenantHandle, username: str, **client: Any) -> Console:
    return Console(TestClient(app, client=(ADDRESS, 50000), **client), tenant, username)


def _admin_events(tenant: TenantHandle) -> list[dict[str, Any]]:
    r = tenant.http.get(
        f"{V2}/audit-events",
        params={"resourceType": "admin", "limit": 100},
        headers=tenant.headers("audit:read"),
    )
    assert r.status_code == 200, r.text
    # Leave out the admin.created of the test's own set-up.
    return [e for e in r.json()["items"] if e["action"] != "admin.created"]


def _admin_id(tenant: TenantHandle, username: str) -> str:
    r = tenant.http.get(
        f"{V2}/audit-events",
        params={"resourceType": "admin", "action": "admin.created"},
        headers=tenant.headers("audit:read"),
    )
    assert r.status_code == 200, r.text
    [created] = [e for e in r.json()["items"] if e["after"]["username"] == username]
    return str(created["resourceId"])


def test_a_sign_in_is_recorded_with_its_address(
    runtime: Runtime, app: FastAPI, tenant: TenantHandle
) -> None:
    console = _console(app, tenant, make_admin(runtime, tenant.slug))
    assert console.sign_in().status_code == 303

    [event] = _admin_events(tenant)
    assert event["action"] == "admin.signed_in"
    assert event["actor"] == f"admin:{console.username}"
    assert event["surface"] == "console"
    assert event["resourceType"] == "admin"
    assert event["resourceId"] == _admin_id(tenant, console.username)
    assert event["after"] == {"username": console.username, "clientAddress": ADDRESS}


def test_the_address_behind_a_trusted_proxy_is_recorded(
    runtime: Runtime, tenant: TenantHandle
) -> None:
    app = door(runtime, trusted_proxies=[ADDRESS])
    username = make_admin(runtime, tenant.slug)
    console = _console(app, tenant, username, headers={"X-Forwarded-For": "198.51.100.23"})
    assert console.sign_in().status_code == 303

    [event] = _admin_events(tenant)
    assert event["after"]["clientAddress"] == "198.51.100.23"


def test_a_wrong_password_is_recorded_with_its_reason_and_never_the_password(
    runtime: Runtime, app: FastAPI, tenant: TenantHandle, caplog: pytest.LogCaptureFixture
) -> None:
    console = _console(app, tenant, make_admin(runtime, tenant.slug))
    with caplog.at_level(logging.DEBUG):
        assert console.sign_in(WRONG).status_code == 401

    [event] = _admin_events(tenant)
    assert event["action"] == "admin.sign_in_failed"
    assert event["actor"] == f"admin:{console.username}"
    assert event["surface"] == "console"
    assert event["resourceId"] == _admin_id(tenant, console.username)
    assert event["after"] == {
        "username": console.username,
        "clientAddress": ADDRESS,
        "reason": "wrong_password",
    }
    assert event["before"] is None
    # Not the password, nor a part of it, in the row or in any log record.
    for text in (str(event), caplog.text):
        for part in (WRONG, WRONG[:8], WRONG[-8:]):
            assert part not in text


def test_the_failure_that_locks_the_account_says_so_and_throttled_ones_write_nothing(
    runtime: Runtime, app: FastAPI, tenant: TenantHandle
) -> None:
    # The default first tier: five failures a minute per username and address.
    console = _console(app, tenant, make_admin(runtime, tenant.slug))
    for _ in range(5):
        assert console.sign_in(WRONG).status_code == 401
    reasons = [e["after"]["reason"] for e in _admin_events(tenant)]
    assert reasons == ["locked"] + ["wrong_password"] * 4  # newest first

    # A burst of throttled attempts, the right password among them: refused, unrecorded.
    for password in [WRONG] * 20 + [PASSWORD]:
        assert console.sign_in(password).status_code == 429
    assert len(_admin_events(tenant)) == 5


def test_an_unknown_username_records_nothing(
    runtime: Runtime, app: FastAPI, tenant: TenantHandle
) -> None:
    make_admin(runtime, tenant.slug)
    stranger = _console(app, tenant, "nobody-" + "x" * 200)
    for _ in range(3):
        assert stranger.sign_in(WRONG).status_code == 401
    assert _admin_events(tenant) == []


def test_an_admin_of_another_tenant_is_recorded_nowhere(
    runtime: Runtime, app: FastAPI, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    console = _console(app, tenant, make_admin(runtime, other_tenant.slug))
    assert console.sign_in().status_code == 401
    assert _admin_events(tenant) == []
    assert _admin_events(other_tenant) == []


def test_a_sign_out_is_recorded_once(runtime: Runtime, app: FastAPI, tenant: TenantHandle) -> None:
    console = _console(app, tenant, make_admin(runtime, tenant.slug))
    assert console.sign_in().status_code == 303
    assert console.post("/admin/sign-out").status_code == 303

    signed_out, signed_in = _admin_events(tenant)
    assert signed_in["action"] == "admin.signed_in"
    assert signed_out["action"] == "admin.signed_out"
    assert signed_out["actor"] == f"admin:{console.username}"
    assert signed_out["surface"] == "console"
    assert signed_out["resourceId"] == signed_in["resourceId"]
    assert signed_out["after"] == {
        "username": console.username,
        "clientAddress": ADDRESS,
        "reason": "signed_out",
    }


@pytest.mark.parametrize(
    ("moment", "reason"), [("last_seen", "idle_timeout"), ("created", "absolute_timeout")]
)
def test_a_session_ended_by_a_timeout_is_recorded_once_when_it_comes_back(
    runtime: Runtime, app: FastAPI, tenant: TenantHandle, moment: str, reason: str
) -> None:
    console = _console(app, tenant, make_admin(runtime, tenant.slug))
    assert console.sign_in().status_code == 303
    age_sessions(runtime, console, **{moment: utcnow() - timedelta(days=2)})

    for _ in range(2):
        assert console.get("/admin/").status_code == 303  # to the sign-in page

    ended, _ = _admin_events(tenant)
    assert ended["action"] == "admin.signed_out"
    assert ended["actor"] == f"admin:{console.username}"
    assert ended["after"]["reason"] == reason


async def _sign_in(app: FastAPI, tenant: TenantHandle, username: str) -> int:
    transport = httpx.ASGITransport(app=app, client=(ADDRESS, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        form = await client.get("/admin/sign-in")
        r = await client.post(
            "/admin/sign-in",
            data={
                "tenant": tenant.slug,
                "username": username,
                "password": PASSWORD,
                "csrf_token": csrf_of(form.text),
                "next": "/admin/",
            },
        )
        return r.status_code


def test_concurrent_sign_ins_of_one_admin_are_each_recorded(
    runtime: Runtime, app: FastAPI, tenant: TenantHandle
) -> None:
    username = make_admin(runtime, tenant.slug)

    async def burst() -> list[int]:
        return list(await asyncio.gather(*(_sign_in(app, tenant, username) for _ in range(6))))

    assert asyncio.run(burst()) == [303] * 6
    events = _admin_events(tenant)
    assert [e["action"] for e in events] == ["admin.signed_in"] * 6


def test_an_api_v1_login_and_logout_write_the_same_rows_with_their_surface(
    runtime: Runtime, app: FastAPI, tenant: TenantHandle
) -> None:
    username = make_admin(runtime, tenant.slug)
    http = TestClient(app, client=(ADDRESS, 50000))
    r = http.post("/api/v1/authentication/login", json={"username": username, "password": WRONG})
    assert r.status_code == 401
    r = http.post("/api/v1/authentication/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text

    token = r.json()["access_token"]
    r = http.post("/api/v1/authentication/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text

    signed_out, signed_in, failed = _admin_events(tenant)
    assert (signed_in["action"], signed_in["surface"]) == ("admin.signed_in", "api_v1")
    assert (failed["action"], failed["surface"]) == ("admin.sign_in_failed", "api_v1")
    assert failed["after"]["reason"] == "wrong_password"
    assert (signed_out["action"], signed_out["surface"]) == ("admin.signed_out", "api_v1")
    assert signed_out["actor"] == f"admin:{username}"
    assert signed_out["resourceId"] == signed_in["resourceId"]
    assert signed_out["after"] == {
        "username": username,
        "clientAddress": ADDRESS,
        "reason": "signed_out",
    }


def test_the_sign_in_of_an_oauth_authorization_is_the_same_sign_in(
    runtime: Runtime, app: FastAPI, tenant: TenantHandle
) -> None:
    console = _console(app, tenant, make_admin(runtime, tenant.slug))
    authorize = f"/tenants/{tenant.slug}/oauth2/authorize?client_id=x&response_type=code"
    form = console.http.get("/admin/sign-in", params={"next": authorize})
    r = console.http.post(
        "/admin/sign-in",
        data={
            "tenant": tenant.slug,
            "username": console.username,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": authorize,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == authorize

    [event] = _admin_events(tenant)
    assert (event["action"], event["surface"]) == ("admin.signed_in", "console")
