"""The console's sign-in, session and CSRF rules, through the app (TestClient)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from rosterd.console.session import COOKIE
from rosterd.models import ConsoleSession
from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services.console_sessions import csrf_token
from rosterd.services.context import Actor
from tests.console.conftest import PASSWORD, Console, age_sessions, csrf_of, make_admin
from tests.factories import TenantHandle


def test_pages_send_the_signed_out_to_sign_in(http: TestClient) -> None:
    r = TestClient(http.app).get("/admin/users?q=x", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/sign-in?next=%2Fadmin%2Fusers%3Fq%3Dx"


def test_sign_in_sets_a_strict_session_cookie_holding_no_stored_value(
    runtime: Runtime, http: TestClient, tenant: TenantHandle
) -> None:
    console = Console(TestClient(http.app), tenant, make_admin(runtime, tenant.slug))
    r = console.sign_in()
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the suite's public URL is http
    token = r.cookies[COOKIE]
    with runtime.db.reader() as session:
        stored = session.query(ConsoleSession.token_hash).all()
    assert all(token not in row.token_hash for row in stored)
    assert console.get("/admin/").status_code == 200


def test_wrong_password_unknown_user_and_other_tenant_answer_alike(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    console = Console(TestClient(http.app), tenant, make_admin(runtime, tenant.slug))
    wrong = console.sign_in(password="not the password")
    elsewhere = console.sign_in(tenant=other_tenant.slug)
    nobody = Console(TestClient(http.app), tenant, "nobody-at-all").sign_in()
    for r in (wrong, elsewhere, nobody):
        assert r.status_code == 401
        assert "Wrong tenant, username or password." in r.text
        assert COOKIE not in r.cookies


def test_failed_sign_ins_are_throttled_like_api_v1_logins(
    runtime: Runtime, http: TestClient, tenant: TenantHandle
) -> None:
    console = Console(TestClient(http.app), tenant, make_admin(runtime, tenant.slug))
    answers = [console.sign_in(password="wrong password").status_code for _ in range(6)]
    assert answers[:5] == [401] * 5
    assert answers[5] == 429
    # The throttle is the /api/v1 login's: the account is refused there too.
    r = http.post(
        "/api/v1/authentication/login", json={"username": console.username, "password": PASSWORD}
    )
    assert r.status_code == 429


def test_sign_in_form_needs_its_own_token(
    runtime: Runtime, http: TestClient, tenant: TenantHandle
) -> None:
    client = TestClient(http.app)
    r = client.post(
        "/admin/sign-in",
        data={"tenant": tenant.slug, "username": make_admin(runtime, tenant.slug),
              "password": PASSWORD},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 403
    assert COOKIE not in r.cookies


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(console: Console) -> None:
    user = console.tenant.user()
    r = console.http.post(f"/admin/users/{user['id']}/deactivate", follow_redirects=False)
    assert r.status_code == 403
    r = console.http.post(
        f"/admin/users/{user['id']}/deactivate",
        data={"csrf_token": "0" * 64},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert (
        console.tenant.http.get(
            f"/integration/v2/users/{user['id']}", headers=console.tenant.headers()
        ).json()["status"]
        == "active"
    )


def test_another_sessions_csrf_token_is_refused(
    runtime: Runtime, http: TestClient, console: Console
) -> None:
    other = Console(TestClient(http.app), console.tenant, make_admin(runtime, console.tenant.slug))
    other.sign_in()
    other_csrf = csrf_of(other.get("/admin/").text)
    user = console.tenant.user()
    r = console.http.post(
        f"/admin/users/{user['id']}/deactivate",
        data={"csrf_token": other_csrf},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_the_cookie_is_dead_after_sign_out(console: Console) -> None:
    token = console.http.cookies[COOKIE]
    r = console.post("/admin/sign-out")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/admin/sign-in")
    replay = TestClient(console.http.app, cookies={COOKIE: token})
    assert replay.get("/admin/", follow_redirects=False).status_code == 303


def test_the_cookie_is_dead_after_the_idle_timeout(runtime: Runtime, console: Console) -> None:
    idle = timedelta(minutes=runtime.settings.console_idle_minutes)
    assert console.get("/admin/").status_code == 200
    age_sessions(runtime, console, last_seen=utcnow() - idle - timedelta(seconds=1))
    assert console.get("/admin/").status_code == 303


def test_the_cookie_is_dead_after_the_absolute_timeout(runtime: Runtime, console: Console) -> None:
    lifetime = timedelta(hours=runtime.settings.console_absolute_hours)
    age_sessions(runtime, console, created=utcnow() - lifetime - timedelta(seconds=1))
    assert console.get("/admin/").status_code == 303


def test_a_password_reset_ends_the_admins_sessions(runtime: Runtime, console: Console) -> None:
    with runtime.db.writer.begin() as session:
        admin = admins_service.get(session, console.username, for_update=True)
        admins_service.reset_password(
            session,
            admin,
            admins_service.new_password_hash("another password"),
            Actor(tenant_id=admin.tenant_id, actor="test", surface="test"),
        )
    assert console.get("/admin/").status_code == 303


def test_the_csrf_token_is_bound_to_the_session(runtime: Runtime, console: Console) -> None:
    page = console.get("/admin/")
    token = console.http.cookies[COOKIE]
    assert csrf_of(page.text) == csrf_token(runtime.hmac_key, token)
