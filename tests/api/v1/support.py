"""Admins for /api/v1 tests: made through the service layer, logged in over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx
from fastapi import FastAPI

from rosterd.api.app import create_app
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.factories import TenantHandle

LOGIN = "/api/v1/authentication/login"
LOGOUT = "/api/v1/authentication/logout"
USERS = "/api/v1/users"
GROUPS = "/api/v1/groups"
ROLES = "/api/v1/roles"
PASSWORD = "correct horse battery"


@dataclass
class Admin:
    id: uuid.UUID
    username: str
    password: str

    def login(self, client: httpx.Client) -> str:
        r = client.post(LOGIN, json={"username": self.username, "password": self.password})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def headers(self, client: httpx.Client) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.login(client)}"}


def make_admin(tenant: TenantHandle, password: str = PASSWORD) -> Admin:
    username = f"admin-{secrets.token_hex(5)}"
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        admin = admins_service.create_admin(
            session,
            row,
            username=username,
            password=password,
            actor=Actor(tenant_id=row.id, actor="test", surface="test"),
        )
        admin_id = admin.id
    return Admin(id=admin_id, username=username, password=password)


def v1_error(r: httpx.Response, status: int) -> str:
    """Check the /api/v1 error format; return the message."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "status", "httpMessage"}, err
    assert err["code"] == status and err["status"] == status, err
    assert err["httpMessage"] == HTTPStatus(status).phrase, err
    assert isinstance(err["message"], str) and err["message"], err
    return str(err["message"])


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"


def as_list(value: Any) -> list[dict[str, Any]]:
    assert isinstance(value, list), value
    return value


# ---- logins through an app of its own, from a given client address -------------------------

REFUSED = "invalid username or password"
ATTACKER, ELSEWHERE = "203.0.113.66", "198.51.100.7"


def door(runtime: Runtime, **settings: Any) -> FastAPI:
    """An app with its own login throttle (and any settings changed)."""
    changed = runtime.settings.model_copy(update=settings)
    return create_app(dataclasses.replace(runtime, settings=changed, bootstrap_credentials=None))


async def login(app: FastAPI, username: str, password: str, ip: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post(LOGIN, json={"username": username, "password": password})


def attempt(app: FastAPI, username: str, password: str, ip: str = ATTACKER) -> httpx.Response:
    return asyncio.run(login(app, username, password, ip))


def nobody() -> str:
    return f"nobody-{secrets.token_hex(5)}"


def throttle(app: FastAPI, username: str, ip: str = ATTACKER, failures: int = 5) -> None:
    """Fail ``failures`` logins (the default first tier) until the next one is a 429."""
    for _ in range(failures):
        assert v1_error(attempt(app, username, "wrong guess", ip), 401) == REFUSED
    v1_error(attempt(app, username, "wrong guess", ip), 429)


def retry_after(r: httpx.Response) -> int:
    v1_error(r, 429)
    return int(r.headers["Retry-After"])
