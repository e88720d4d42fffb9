"""`rosterd admins unlock|reset-password|delete`, on the session's store (both databases).

The commands run in-process against the same database as the HTTP app, as an operator would
run them on a node beside a running server; each is audited with the CLI as the actor.
"""

from __future__ import annotations

import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from rosterd.cli.main import app as cli
from rosterd.config import get_settings
from rosterd.models import AdminUser, AuditEvent
from rosterd.runtime import Runtime
from tests.api.v1.support import (
    ATTACKER,
    ELSEWHERE,
    USERS,
    Admin,
    attempt,
    door,
    make_admin,
    throttle,
    v1_error,
)
from tests.factories import TenantHandle


def rosterd(runtime: Runtime, *args: str, stdin: str | None = None) -> Result:
    settings = runtime.settings
    env = {
        "ROSTERD_DATABASE_URL": settings.resolved_database_url,
        "ROSTERD_DATA_DIR": str(settings.data_dir),
        "ROSTERD_SECRET_KEY": settings.secret_key or "",
        "NO_COLOR": "1",
    }
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, list(args), env=env, input=stdin)
    finally:
        get_settings.cache_clear()


def ok(runtime: Runtime, *args: str, stdin: str | None = None) -> str:
    result = rosterd(runtime, *args, stdin=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return str(result.stdout)


def fails(runtime: Runtime, *args: str, stdin: str | None = None) -> str:
    result = rosterd(runtime, *args, stdin=stdin)
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output
    return str(result.stderr)


def audited(runtime: Runtime, admin: Admin, action: str) -> list[AuditEvent]:
    with runtime.db.reader() as session:
        rows = session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_id == str(admin.id), AuditEvent.action == action
            )
        ).all()
        session.expunge_all()
        return list(rows)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(tenant: TenantHandle) -> Admin:
    return make_admin(tenant)


def test_unlock_lifts_the_throttle_on_every_address(
    runtime: Runtime, tenant: TenantHandle, admin: Admin
) -> None:
    app = door(runtime)
    throttle(app, admin.username)
    v1_error(attempt(app, admin.username, admin.password), 429)

    out = ok(runtime, "admins", "unlock", admin.username.upper())  # names are case-blind
    assert admin.username in out
    assert attempt(app, admin.username, admin.password).status_code == 200
    # The count starts again from nothing: five more failures before the next 429.
    throttle(app, admin.username)
    assert attempt(app, admin.username, admin.password, ELSEWHERE).status_code == 200

    (event,) = audited(runtime, admin, "admin.unlocked")
    assert (event.actor, event.surface, event.tenant_id) == ("cli", "cli", tenant.id)
    assert event.after == {"username": admin.username}


def test_reset_password_revokes_tokens_and_takes_the_new_password(
    runtime: Runtime, tenant: TenantHandle, admin: Admin
) -> None:
    app = door(runtime)
    old_token = attempt(app, admin.username, admin.password, ELSEWHERE).json()["access_token"]
    throttle(app, admin.username)

    out = ok(runtime, "admins", "reset-password", admin.username, stdin="a brand new secret\n")
    assert admin.username in out and "a brand new secret" not in out
    # The old password is refused, the new one works, from the throttled address too.
    v1_error(attempt(app, admin.username, admin.password, ELSEWHERE), 401)
    r = attempt(app, admin.username, "a brand new secret", ATTACKER)
    assert r.status_code == 200, r.text
    assert "revoked" in v1_error(tenant.http.get(USERS, headers=_bearer(old_token)), 401)
    assert tenant.http.get(USERS, headers=_bearer(r.json()["access_token"])).status_code == 200

    (event,) = audited(runtime, admin, "admin.password_reset")
    assert (event.actor, event.surface) == ("cli", "cli")
    assert "a brand new secret" not in repr((event.before, event.after))


def test_reset_password_refuses_a_short_password(runtime: Runtime, admin: Admin) -> None:
    assert "8 to 256" in fails(runtime, "admins", "reset-password", admin.username, stdin="short\n")
    assert attempt(door(runtime), admin.username, admin.password, ELSEWHERE).status_code == 200
    assert audited(runtime, admin, "admin.password_reset") == []


def test_delete_removes_the_admin_and_its_tokens_stop_working(
    runtime: Runtime, tenant: TenantHandle, admin: Admin
) -> None:
    app = door(runtime)
    token = attempt(app, admin.username, admin.password, ELSEWHERE).json()["access_token"]

    assert admin.username in ok(runtime, "admins", "delete", admin.username)
    v1_error(tenant.http.get(USERS, headers=_bearer(token)), 401)
    v1_error(attempt(app, admin.username, admin.password, ELSEWHERE), 401)
    with runtime.db.reader() as session:
        assert session.get(AdminUser, admin.id) is None
    (event,) = audited(runtime, admin, "admin.deleted")
    assert (event.actor, event.before) == ("cli", {"username": admin.username})


@pytest.mark.parametrize("command", ["unlock", "reset-password", "delete"])
def test_an_unknown_admin_is_an_error(runtime: Runtime, command: str) -> None:
    assert "not found" in fails(runtime, "admins", command, "nobody-here", stdin="long enough pw\n")


def test_create_with_the_scopes_the_admin_may_grant(runtime: Runtime, tenant: TenantHandle) -> None:
    name = f"granter-{tenant.slug}"
    args = ("admins", "create", "--tenant", tenant.slug, "--username", name)
    ok(runtime, *args, "--scopes", "user:read,group:read", stdin="a good password\n")
    with runtime.db.reader() as session:
        row = session.scalar(select(AdminUser).where(AdminUser.username == name))
        assert row is not None and row.scopes == ["group:read", "user:read"]
    bad = fails(
        runtime,
        *[a if a != name else f"{name}-2" for a in args],
        "--scopes",
        "x:y",
        stdin="a good password\n",
    )
    assert "scopes" in bad
