"""Apps with small rate limits, a tenant with a credential for every surface, and the
RateLimit fields read with a Structured Fields parser (RFC 9651)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import http_sf
import httpx
from fastapi.testclient import TestClient

from rosterd.api.app import create_app
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.conftest import UNREACHED_RATE_LIMITS
from tests.factories import TenantHandle, make_tenant

PEER = ("192.0.2.10", 40000)  # the TestClient's address (a TEST-NET-1 documentation IP)


def limited_runtime(runtime: Runtime, **settings: Any) -> Runtime:
    """``runtime`` with rate limits the suite's requests never reach, but for ``settings``."""
    update = {**UNREACHED_RATE_LIMITS, "rate_limit_storage": "memory://", **settings}
    return dataclasses.replace(
        runtime, settings=runtime.settings.model_copy(update=update), bootstrap_credentials=None
    )


@contextmanager
def limited_client(runtime: Runtime, **settings: Any) -> Iterator[TestClient]:
    """A client of a new app (with counters of its own) limited by ``settings``."""
    with TestClient(create_app(limited_runtime(runtime, **settings)), client=PEER) as client:
        yield client


@dataclasses.dataclass
class Credentials:
    handle: TenantHandle
    headers: dict[str, dict[str, str]]  # per surface
    admin: tuple[str, str]  # the /api/v1 admin's username and password


def credentials(runtime: Runtime, http: TestClient) -> Credentials:
    """A new tenant with a credential for every surface, issued through ``http``'s app."""
    handle = make_tenant(runtime, http)
    username, password = f"admin-{secrets.token_hex(4)}", "correct horse battery staple"
    with runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, handle.slug)
        actor = Actor(tenant_id=row.id, actor="test", surface="test")
        admins_service.create_admin(session, row, username=username, password=password, actor=actor)
        key = bearer_secrets.create(
            session, api_keys.KIND, row, name="limits", hmac_key=runtime.hmac_key, actor=actor
        ).secret
    r = http.post("/api/v1/authentication/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    oauth = handle.headers()
    return Credentials(
        handle,
        {
            "v2": oauth,
            "scim": handle.scim_headers(),
            "v1": {"Authorization": f"Bearer {r.json()['access_token']}"},
            "admin": {**oauth, "x-api-key": key},
            "identities": {"Authorization": f"Bearer {key}"},
        },
        (username, password),
    )


def policies(r: httpx.Response) -> dict[str, dict[str, Any]]:
    """RateLimit-Policy as {name: {q, w}}, parsed as a Structured Fields list."""
    parsed = http_sf.parse(r.headers["RateLimit-Policy"].encode(), tltype="list")
    assert all(isinstance(name, str) for name, _ in parsed), parsed
    return {name: dict(params) for name, params in parsed}


def ratelimit(r: httpx.Response) -> tuple[str, int, int]:
    """The RateLimit field's one item: (policy name, remaining, seconds to reset)."""
    parsed = http_sf.parse(r.headers["RateLimit"].encode(), tltype="list")
    assert len(parsed) == 1, parsed
    name, params = parsed[0]
    assert isinstance(name, str) and set(params) == {"r", "t"}, parsed
    assert name in policies(r), (name, r.headers["RateLimit-Policy"])
    return name, params["r"], params["t"]
