"""Factories: tenants with OAuth clients and tokens, and v2 resources made through the API."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.config import Settings
from rosterd.domain import rules
from rosterd.models import Tenant, User
from rosterd.runtime import Runtime, open_runtime
from rosterd.services import clients as clients_service
from rosterd.services import scim_tokens as scim_tokens_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor

V2 = "/integration/v2"


@dataclass
class TenantHandle:
    """A tenant of its own for one test, with a way to get tokens of any scope set."""

    runtime: Runtime
    http: httpx.Client
    slug: str
    id: Any
    _tokens: dict[tuple[str, ...], str] = field(default_factory=dict)
    _tokens_by_kind: dict[str, str] = field(default_factory=dict)

    def client_credentials(self, scopes: list[str]) -> tuple[str, str]:
        with self.runtime.db.writer.begin() as session:
            tenant = tenants_service.get_tenant_by_slug(session, self.slug)
            issued = clients_service.create_client(
                session,
                tenant,
                name="test",
                scopes=scopes,
                hmac_key=self.runtime.hmac_key,
                actor=Actor(tenant_id=tenant.id, actor="test", surface="test"),
            )
            assert issued.client_secret is not None
            return issued.client.client_id, issued.client_secret

    def token(self, *scopes: str) -> str:
        key = tuple(sorted(scopes or ALL_SCOPES))
        if key not in self._tokens:
            client_id, secret = self.client_credentials(list(key))
            r = self.http.post(
                f"/tenants/{self.slug}/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                },
            )
            assert r.status_code == 200, r.text
            self._tokens[key] = r.json()["access_token"]
        return self._tokens[key]

    def headers(self, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*scopes)}"}

    def scim_token(self, name: str = "test idp") -> str:
        """A new SCIM bearer token of this tenant, issued through the service layer."""
        with self.runtime.db.writer.begin() as session:
            tenant = tenants_service.get_tenant_by_slug(session, self.slug)
            issued = scim_tokens_service.create_token(
                session,
                tenant,
                name=name,
                hmac_key=self.runtime.hmac_key,
                actor=Actor(tenant_id=tenant.id, actor="test", surface="test"),
            )
            return issued.token

    def scim_headers(self) -> dict[str, str]:
        if "scim" not in self._tokens_by_kind:
            self._tokens_by_kind["scim"] = self.scim_token()
        return {
            "Authorization": f"Bearer {self._tokens_by_kind['scim']}",
            "Content-Type": "application/scim+json",
        }

    # -- v2 helpers: each returns the created resource's JSON -----------------------------

    def user(self, **fields: Any) -> dict[str, Any]:
        n = secrets.token_hex(4)
        body = {"email": f"user-{n}@example.com", "firstName": "Test", "lastName": f"User{n}"}
        body.update(fields)
        r = self.http.post(f"{V2}/users", json=body, headers=self.headers())
        assert r.status_code == 201, r.text
        return dict(r.json())

    def group(self, **fields: Any) -> dict[str, Any]:
        body = {"name": f"group-{secrets.token_hex(4)}"}
        body.update(fields)
        r = self.http.post(f"{V2}/groups", json=body, headers=self.headers())
        assert r.status_code == 201, r.text
        return dict(r.json())

    def team(self, **fields: Any) -> dict[str, Any]:
        body = {"name": f"team-{secrets.token_hex(4)}"}
        body.update(fields)
        r = self.http.post(f"{V2}/teams", json=body, headers=self.headers())
        assert r.status_code == 201, r.text
        return dict(r.json())

    def role(self, **fields: Any) -> dict[str, Any]:
        body = {"name": f"role-{secrets.token_hex(4)}"}
        body.update(fields)
        r = self.http.post(f"{V2}/roles", json=body, headers=self.headers())
        assert r.status_code == 201, r.text
        return dict(r.json())

    def role_named(self, name: str) -> dict[str, Any]:
        r = self.http.get(f"{V2}/roles", params={"limit": 100}, headers=self.headers())
        assert r.status_code == 200, r.text
        return next(role for role in r.json()["items"] if role["name"] == name)


def make_tenant(runtime: Runtime, http: httpx.Client) -> TenantHandle:
    slug = f"t-{secrets.token_hex(5)}"
    with runtime.db.writer.begin() as session:
        tenant = tenants_service.create_tenant(session, slug)
        tenant_id = tenant.id
    return TenantHandle(runtime=runtime, http=http, slug=slug, id=tenant_id)


def bare_tenant(runtime: Runtime) -> uuid.UUID:
    """A tenant row alone (no clients, roles or tokens), for repository-level tests."""
    with runtime.db.writer.begin() as session:
        tenant = Tenant(slug=f"t-{secrets.token_hex(5)}", name="t", settings={})
        session.add(tenant)
        session.flush()
        return tenant.id


def stored_user(**fields: Any) -> User:
    """A User row for tests that write the store directly, with the keys the domain derives
    (rosterd.domain.rules) filled in as the services would."""
    keys: dict[str, Any] = {"username_key": rules.fold(fields["username"])}
    if fields.get("email"):
        keys["email_key"] = rules.email_key(fields["email"])
    for name in ("first_name", "last_name"):
        if fields.get(name):
            keys[f"{name}_key"] = rules.fold(fields[name])
    return User(**keys, **fields)


@contextmanager
def own_sqlite_runtime(settings: Settings, data_dir: Path) -> Iterator[Runtime]:
    """A runtime on a SQLite store of its own in ``data_dir``, with the suite's settings
    otherwise: for tests that need a store no other test (or `rosterd serve` of the suite's
    store, with its background search indexer) writes to meanwhile."""
    url = f"sqlite:///{(data_dir / 'rosterd.db').as_posix()}"
    own = settings.model_copy(update={"database_url": url, "data_dir": data_dir})
    runtime = open_runtime(own)
    try:
        yield runtime
    finally:
        runtime.close()


T = TypeVar("T")
# How long a credential's last use may take to show (rosterd.lifecycle.last_uses writes it
# 0.1 s after the request; the rest is room for a loaded machine).
LAST_USE_SHOWS_WITHIN = 10.0


def eventually(read: Callable[[], T], seconds: float = LAST_USE_SHOWS_WITHIN) -> T:
    """``read()`` once it is truthy, polled for up to ``seconds``; fails if it never is."""
    deadline = time.monotonic() + seconds
    while not (value := read()):
        assert time.monotonic() < deadline, f"still {value!r} after {seconds} s"
        time.sleep(0.02)
    return value
