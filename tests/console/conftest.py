"""A signed-in console for a test: an admin of the test's tenant, and a TestClient of its
own (its own cookie jar) on the suite's app."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from rosterd.models import ConsoleSession
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.factories import TenantHandle

PASSWORD = "console password 1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_admin(runtime: Runtime, slug: str) -> str:
    """A new admin of tenant ``slug`` with PASSWORD: its username."""
    username = f"admin-{secrets.token_hex(4)}"
    with runtime.db.writer.begin() as session:
        tenant = tenants_service.get_tenant_by_slug(session, slug)
        admins_service.create_admin(
            session,
            tenant,
            username=username,
            password=PASSWORD,
            actor=Actor(tenant_id=tenant.id, actor="test", surface="test"),
        )
    return username


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Console:
    http: TestClient
    tenant: TenantHandle
    username: str
    csrf: str = ""

    def sign_in(self, password: str = PASSWORD, tenant: str | None = None) -> httpx.Response:
        form = self.http.get("/admin/sign-in")
        return self.http.post(
            "/admin/sign-in",
            data={
                "tenant": tenant or self.tenant.slug,
                "username": self.username,
                "password": password,
                "csrf_token": csrf_of(form.text),
                "next": "/admin/",
            },
            follow_redirects=False,
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        r = self.http.get(path, follow_redirects=False, **kwargs)
        if r.status_code == 200 and 'name="csrf_token"' in r.text:
            self.csrf = csrf_of(r.text)
        return r

    def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        """A form post with the session's CSRF token (read from the last page shown)."""
        if not self.csrf:
            self.get("/admin/")
        return self.http.post(
            path, data={**(data or {}), "csrf_token": self.csrf}, follow_redirects=False
        )


@pytest.fixture
def console(runtime: Runtime, http: TestClient, tenant: TenantHandle) -> Console:
    signed = Console(TestClient(http.app), tenant, make_admin(runtime, tenant.slug))
    r = signed.sign_in()
    assert r.status_code == 303, r.text
    return signed


def age_sessions(runtime: Runtime, console: Console, **moments: datetime) -> None:
    """Move the admin's sessions back in time (``created``, ``last_seen``)."""
    values = {f"{name}_at": moment for name, moment in moments.items()}
    with runtime.db.writer.begin() as session:
        admin = admins_service.get(session, console.username)
        session.execute(
            update(ConsoleSession).where(ConsoleSession.admin_id == admin.id).values(**values)
        )
