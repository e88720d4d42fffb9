"""Fast paths answer exactly as the FastAPI routes they shortcut (rosterd.api.fast_paths).

Each case is sent to two apps on one runtime: one with the fast paths, one without them
(every request through FastAPI's routes); status, body and the headers a client reads must
be the same. The cases include the ones a fast path hands back to FastAPI.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rosterd.api.app import create_app
from rosterd.api.fast_paths import FastPaths
from rosterd.runtime import Runtime
from tests.api.ratelimit.support import limited_runtime
from tests.factories import V2, TenantHandle, make_tenant

# The headers whose values a client acts on; RateLimit's remaining count is compared apart.
COMPARED_HEADERS = ("content-type", "www-authenticate", "retry-after", "ratelimit-policy")


@pytest.fixture(scope="module")
def slow(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, fast_paths=False)) as client:
        yield client


def fast_paths_of(app: FastAPI) -> FastPaths:
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, FastPaths):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, FastPaths), "the app has no fast paths"
    return layer


def takes(app: FastAPI, method: str, path: str) -> bool:
    """Whether a fast path of ``app`` matches ``method`` and ``path``."""
    paths = fast_paths_of(app)._by_method.get(method, [])
    return any(p.pattern.match(path) for p in paths)


def assert_same(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.json() == slow.json()
    for name in COMPARED_HEADERS:
        assert fast.headers.get(name) == slow.headers.get(name), name
    assert ("ratelimit" in fast.headers) == ("ratelimit" in slow.headers)


def user(tenant: TenantHandle, **fields: str) -> str:
    body = {
        "email": f"{uuid.uuid4().hex[:10]}@example.com",
        "firstName": "Fast",
        "lastName": "Path",
    }
    body.update(fields)
    r = tenant.http.post(f"{V2}/users", json=body, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_get_user_by_id_is_served_fast(http: TestClient) -> None:
    assert takes(http.app, "GET", f"{V2}/users/{uuid.uuid4()}")  # type: ignore[arg-type]
    assert not takes(http.app, "GET", f"{V2}/users/not-an-id")  # type: ignore[arg-type]
    assert not takes(http.app, "HEAD", f"{V2}/users/{uuid.uuid4()}")  # type: ignore[arg-type]


def test_get_user_by_id_answers_as_the_route_does(
    http: TestClient, slow: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    role = tenant.http.post(
        f"{V2}/roles", json={"name": f"r-{uuid.uuid4().hex[:6]}"}, headers=tenant.headers()
    ).json()["id"]
    team = tenant.http.post(
        f"{V2}/teams", json={"name": f"t-{uuid.uuid4().hex[:6]}"}, headers=tenant.headers()
    ).json()["id"]
    full = user(tenant, title="Engineer", roleId=role, teamId=team)
    bare = user(tenant)
    foreign = user(other_tenant)
    no_read = {"Authorization": f"Bearer {tenant.token('group:read')}"}
    cases = [
        (f"{V2}/users/{full}", tenant.headers()),
        (f"{V2}/users/{full.upper()}", tenant.headers()),
        (f"{V2}/users/{bare}", tenant.headers()),
        (f"{V2}/users/{uuid.uuid4()}", tenant.headers()),
        (f"{V2}/users/{foreign}", tenant.headers()),
        (f"{V2}/users/{full}", no_read),
        (f"{V2}/users/{full}", {"Authorization": "Bearer not-a-token"}),
        (f"{V2}/users/{full}", {"Authorization": "Basic dXNlcjpwYXNz"}),
        (f"{V2}/users/{full}", {}),
        (f"{V2}/users/not-an-id", tenant.headers()),
    ]
    for path, headers in cases:
        fast = http.get(path, headers=headers)
        assert_same(fast, slow.get(path, headers=headers))
    shown = http.get(f"{V2}/users/{full}", headers=tenant.headers()).json()
    assert shown["roleId"] == role and shown["teamId"] == team and shown["title"] == "Engineer"


def test_a_rate_limited_get_is_refused_as_the_route_refuses_it(
    runtime: Runtime, http: TestClient
) -> None:
    tenant = make_tenant(runtime, http)
    uid = user(tenant)
    limited = limited_runtime(runtime, rate_limit_per_credential="2/minute")
    answers = []
    for fast_paths in (True, False):
        with TestClient(create_app(limited, fast_paths=fast_paths)) as client:
            answers.append(
                [client.get(f"{V2}/users/{uid}", headers=tenant.headers()) for _ in range(3)]
            )
    for fast, slow in zip(*answers, strict=True):
        assert_same(fast, slow)
    assert [r.status_code for r in answers[0]] == [200, 200, 429]


def test_a_get_sees_a_write_committed_just_before(http: TestClient, tenant: TenantHandle) -> None:
    """Point reads run on a connection held across requests: each read must see what was
    committed before it, never a snapshot left open by an earlier read."""
    uid = user(tenant)
    for n in range(5):
        title = f"title {n}"
        r = http.patch(f"{V2}/users/{uid}", json={"title": title}, headers=tenant.headers())
        assert r.status_code == 200, r.text
        assert http.get(f"{V2}/users/{uid}", headers=tenant.headers()).json()["title"] == title
