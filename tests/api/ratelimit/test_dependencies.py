"""Requests are charged to their credential and their tenant on every surface; tokens to
their OAuth client. Both databases (the tenants' own limits live in the store).

- below the limit every response carries RateLimit-Policy and RateLimit, the remaining
  count going down; past it, a 429 with Retry-After in the surface's own error format;
- once the window is over, requests pass again;
- the credentials of one tenant share the tenant's limit; another tenant is not touched;
- a tenant's own limits (``rosterd tenants configure --rate-limit-*``) replace the settings'.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from rosterd.runtime import Runtime
from rosterd.services import tenants as tenants_service
from tests.api.ratelimit.support import credentials, limited_client, policies, ratelimit
from tests.factories import make_tenant

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def _v2(r: httpx.Response) -> None:
    error = r.json()["error"]
    assert error["code"] == "rate_limited" and "retry after" in error["message"]


def _scim(r: httpx.Response) -> None:
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == "429"
    assert "retry after" in body["detail"]


def _v1(r: httpx.Response) -> None:
    error = r.json()["error"]
    assert error["code"] == 429 and error["status"] == 429
    assert error["httpMessage"] == "Too Many Requests" and "retry after" in error["message"]


def _admin(r: httpx.Response) -> None:
    body = r.json()
    assert body["status"] == 429 and body["error"] == "Too Many Requests"
    assert body["path"] == r.request.url.path and "retry after" in body["message"]


def _identities(r: httpx.Response) -> None:
    body = r.json()
    assert body["ok"] is False and body["error"]["type"] == "rate_limited"
    assert "retry after" in body["error"]["message"]


@dataclass(frozen=True)
class Surface:
    name: str
    credential: str  # which of the tenant's credentials it takes
    path: str
    in_format: Callable[[httpx.Response], None]


SURFACES = [
    Surface("v2", "v2", "/integration/v2/users", _v2),
    Surface("admin api", "v2", "/admin/api/scim-tokens", _v2),
    Surface("scim", "scim", "/scim/v2/Users", _scim),
    Surface("scim alias", "scim", "/api/scim/v2/Users", _scim),
    Surface("api v1", "v1", "/api/v1/users", _v1),
    Surface("admin users", "admin", "/v1/seadminusers", _admin),
    Surface("identities", "identities", "/user_identities/list", _identities),
]


@pytest.mark.parametrize("surface", SURFACES, ids=[s.name for s in SURFACES])
def test_a_burst_past_the_credential_limit_is_a_429_in_the_surface_format(
    runtime: Runtime, surface: Surface
) -> None:
    with limited_client(runtime, rate_limit_per_credential="3/minute") as http:
        headers = credentials(runtime, http).headers[surface.credential]
        remaining = []
        for _ in range(3):
            r = http.get(surface.path, headers=headers)
            assert r.status_code == 200, r.text
            assert policies(r)["credential"] == {"q": 3, "w": 60}
            name, left, reset = ratelimit(r)
            assert name == "credential" and 0 < reset <= 60
            remaining.append(left)
        assert remaining == [2, 1, 0]

        r = http.get(surface.path, headers=headers)
        assert r.status_code == 429, r.text
        surface.in_format(r)
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        name, left, reset = ratelimit(r)
        assert (name, left) == ("credential", 0) and reset >= 1
        assert policies(r)["credential"] == {"q": 3, "w": 60}


def test_after_the_window_requests_pass_again(runtime: Runtime) -> None:
    with limited_client(runtime, rate_limit_per_credential="2 per 2 seconds") as http:
        headers = credentials(runtime, http).headers["scim"]
        # However slow the machine, some request in a short series meets the spent window.
        for _ in range(20):
            refused = http.get("/scim/v2/Users", headers=headers)
            if refused.status_code == 429:
                break
            assert refused.status_code == 200, refused.text
        assert refused.status_code == 429, "the limit never refused"
        time.sleep(int(refused.headers["Retry-After"]) + 0.2)
        r = http.get("/scim/v2/Users", headers=headers)
        assert r.status_code == 200, r.text
        assert ratelimit(r)[1] == 1


def test_issued_tokens_are_limited_per_client(runtime: Runtime) -> None:
    with limited_client(runtime, rate_limit_token_endpoint="2/minute") as http:
        handle = make_tenant(runtime, http)
        client_id, secret = handle.client_credentials(["user:read"])
        form = {"grant_type": "client_credentials"}
        url = f"/tenants/{handle.slug}/connect/token"
        # Wrong secrets under its client_id do not spend the client's budget.
        for _ in range(3):
            r = http.post(url, data={**form, "client_id": client_id, "client_secret": "wrong"})
            assert r.status_code == 401, r.text
        for left in (1, 0):
            r = http.post(url, data=form, auth=(client_id, secret))
            assert r.status_code == 200, r.text
            assert policies(r) == {"token": {"q": 2, "w": 60}}
            assert ratelimit(r)[:2] == ("token", left)
        r = http.post(url, data={**form, "client_id": client_id, "client_secret": secret})
        assert r.status_code == 429, r.text
        assert r.json()["error"] == "temporarily_unavailable"
        assert "retry after" in r.json()["error_description"]
        assert r.headers["Cache-Control"] == "no-store"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert ratelimit(r)[:2] == ("token", 0)
        # Another client of the tenant has its own budget.
        other_id, other_secret = handle.client_credentials(["user:read"])
        assert http.post(url, data=form, auth=(other_id, other_secret)).status_code == 200


def test_the_credentials_of_a_tenant_share_its_limit(runtime: Runtime) -> None:
    with limited_client(runtime, rate_limit_per_tenant="4/minute") as http:
        tenant = credentials(runtime, http)
        other = credentials(runtime, http)
        kinds = ["v2", "scim", "identities", "v1"]
        paths = {
            "v2": "/integration/v2/users",
            "scim": "/scim/v2/Users",
            "identities": "/user_identities/list",
            "v1": "/api/v1/users",
        }
        for n, kind in enumerate(kinds):
            r = http.get(paths[kind], headers=tenant.headers[kind])
            assert r.status_code == 200, r.text
            assert policies(r)["tenant"] == {"q": 4, "w": 60}
            assert ratelimit(r)[:2] == ("tenant", 3 - n)
        for kind in kinds:  # each credential is far from its own limit; the tenant is spent
            r = http.get(paths[kind], headers=tenant.headers[kind])
            assert r.status_code == 429, r.text
            assert ratelimit(r)[:2] == ("tenant", 0)
        r = http.get("/scim/v2/Users", headers=other.headers["scim"])
        assert r.status_code == 200, r.text
        assert ratelimit(r)[:2] == ("tenant", 3)


def test_a_tenant_s_own_limits_replace_the_settings(runtime: Runtime) -> None:
    with limited_client(
        runtime,
        rate_limit_per_credential="50/minute",
        rate_limit_per_tenant="100/minute",
        rate_limit_tenant_cache_seconds=0,
    ) as http:
        tenant = credentials(runtime, http)
        other = credentials(runtime, http)
        with runtime.db.writer.begin() as session:
            row = tenants_service.get_tenant_by_slug(session, tenant.handle.slug)
            tenants_service.set_rate_limit(session, row, "credential", "2/minute")
            tenants_service.set_rate_limit(session, row, "tenant", "1/second;3/minute")
        headers = tenant.headers["v2"]
        r = http.get("/integration/v2/users", headers=headers)
        assert r.status_code == 200, r.text
        assert policies(r) == {
            "credential": {"q": 2, "w": 60},
            "tenant-1s": {"q": 1, "w": 1},
            "tenant-60s": {"q": 3, "w": 60},
        }
        http.get("/integration/v2/users", headers=headers)
        r = http.get("/integration/v2/users", headers=headers)
        assert r.status_code == 429, r.text
        assert ratelimit(r)[:2] == ("credential", 0)
        # Other tenants keep the settings' limits.
        for _ in range(3):
            r = http.get("/integration/v2/users", headers=other.headers["v2"])
            assert r.status_code == 200, r.text
        assert policies(r)["credential"] == {"q": 50, "w": 60}
        # Back to the settings' limits (read afresh: no cache here).
        with runtime.db.writer.begin() as session:
            row = tenants_service.get_tenant_by_slug(session, tenant.handle.slug)
            tenants_service.set_rate_limit(session, row, "credential", None)
            tenants_service.set_rate_limit(session, row, "tenant", None)
        r = http.get("/integration/v2/users", headers=headers)
        assert r.status_code == 200, r.text
        assert policies(r)["credential"] == {"q": 50, "w": 60}


def test_a_tenant_s_limits_are_read_through_a_cache(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = []
    real = tenants_service.rate_limits

    def counted(*args: object) -> dict[str, str]:
        reads.append(args[1])
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(tenants_service, "rate_limits", counted)
    with limited_client(runtime, rate_limit_tenant_cache_seconds=300) as http:
        tenant = credentials(runtime, http)
        for _ in range(5):
            r = http.get("/scim/v2/Users", headers=tenant.headers["scim"])
            assert r.status_code == 200, r.text
    assert reads == [tenant.handle.id]
