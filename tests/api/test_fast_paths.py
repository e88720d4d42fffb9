"""Fast paths answer exactly as the FastAPI routes they shortcut (rosterd.api.fast_paths).

Each case is sent to two apps on one runtime: one with the fast paths, one without them
(every request through FastAPI's routes); status, body and the headers a client reads must
be the same. The cases include the ones a fast path hands back to FastAPI.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from rosterd.api.app import create_app
from rosterd.api.fast_paths import FastPaths
from rosterd.runtime import Runtime
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.api.identities.test_identities_http import issue_api_key
from tests.api.ratelimit.support import limited_runtime
from tests.factories import V2, TenantHandle, make_tenant

# The headers whose values a client acts on; RateLimit's remaining count is compared apart.
COMPARED_HEADERS = ("content-type", "www-authenticate", "retry-after", "ratelimit-policy", "etag")


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


@contextmanager
def passed_on(app: FastAPI) -> Iterator[list[str]]:
    """The paths of the requests ``app``'s fast paths hand on to FastAPI meanwhile."""
    layer = fast_paths_of(app)
    inner, seen = layer.app, []

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        await inner(scope, receive, send)

    layer.app = counting
    try:
        yield seen
    finally:
        layer.app = inner


def test_the_common_cases_never_reach_fastapi(http: TestClient, tenant: TenantHandle) -> None:
    write = tenant.headers()
    group = http.post(f"{V2}/groups", json={"name": f"g-{uuid.uuid4().hex[:6]}"}, headers=write)
    with passed_on(http.app) as passed:  # type: ignore[arg-type]
        uid = user(tenant)
        assert http.get(f"{V2}/users/{uid}", headers=write).status_code == 200
        assert (
            http.patch(f"{V2}/users/{uid}", json={"title": "x"}, headers=write).status_code == 200
        )
        members = f"{V2}/groups/{group.json()['id']}/members"
        assert http.post(members, json={"userId": uid}, headers=write).status_code == 201
        assert http.delete(f"{V2}/users/{uid}", headers=write).status_code == 204
        assert passed == []
        assert http.get(f"{V2}/users/{uid}").status_code == 401
        assert passed == [f"{V2}/users/{uid}"]


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


VOLATILE = {"id", "email", "username", "createdAt", "modifiedAt", "userId", "addedAt", "groupId"}


def assert_alike(fast: httpx.Response, slow: httpx.Response) -> None:
    """The same answer to the same write made twice (once per app): equal but for the ids,
    addresses and times that differ between the two resources."""
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    for name in COMPARED_HEADERS:
        assert fast.headers.get(name) == slow.headers.get(name), name
    if not fast.content:
        assert not slow.content
        return
    steady = [
        {k: v for k, v in r.json().items() if k not in VOLATILE}
        if isinstance(r.json(), dict)
        else r.json()
        for r in (fast, slow)
    ]
    assert steady[0] == steady[1]


def test_user_writes_answer_as_the_routes_do(
    http: TestClient, slow: TestClient, tenant: TenantHandle
) -> None:
    write = tenant.headers()
    read_only = {"Authorization": f"Bearer {tenant.token('user:read')}"}
    taken = user(tenant)
    taken_email = http.get(f"{V2}/users/{taken}", headers=write).json()["email"]
    for path in (f"{V2}/users", f"{V2}/users/{uuid.uuid4()}"):
        assert takes(http.app, "POST" if path.endswith("users") else "PATCH", path)  # type: ignore[arg-type]

    def new_email() -> str:
        return f"{uuid.uuid4().hex[:10]}@example.com"

    creates = [
        ({"firstName": "A", "lastName": "B", "title": "T"}, write, True),
        ({"firstName": "A", "lastName": "B", "isActive": False}, write, True),
        ({"email": taken_email, "firstName": "A", "lastName": "B"}, write, False),
        ({"firstName": "A"}, write, True),
        ({"firstName": "A", "lastName": "B", "shoeSize": 9}, write, True),
        ({"firstName": "A", "lastName": "B"}, read_only, True),
        ({"firstName": "A", "lastName": "B"}, {}, True),
        ({"firstName": "A", "lastName": "B", "validFrom": "2031-01-01T00:00:00Z"}, write, True),
        ({"firstName": "A", "lastName": "B", "validFrom": "2031-01-01T00:00:00"}, write, True),
        (
            {
                "firstName": "A",
                "lastName": "B",
                "validFrom": "2031-01-02T00:00:00Z",
                "expiresAt": "2031-01-01T00:00:00Z",
            },
            write,
            True,
        ),
    ]
    for body, headers, fresh in creates:
        answers = []
        for client in (http, slow):
            sent = {"email": new_email(), **body} if fresh else body
            answers.append(client.post(f"{V2}/users", json=sent, headers=headers))
        assert_alike(*answers)
    malformed = [http.post(f"{V2}/users", content=b"{", headers=write) for _ in range(1)]
    assert_alike(malformed[0], slow.post(f"{V2}/users", content=b"{", headers=write))
    as_text = {**write, "content-type": "text/plain"}
    body = '{"firstName": "A", "lastName": "B", "email": "%s"}'
    assert_alike(
        http.post(f"{V2}/users", content=body % new_email(), headers=as_text),
        slow.post(f"{V2}/users", content=body % new_email(), headers=as_text),
    )

    patches = [
        ({"title": "Boss", "department": "Ops"}, write),
        ({"isActive": False}, write),
        ({"status": "suspended", "isActive": True}, write),
        ({"email": taken_email}, write),
        ({"title": "x" * 10_000}, write),
        ({"title": "Boss"}, read_only),
        ({"expiresAt": "2031-01-01T00:00:00+01:00"}, write),
        ({"validFrom": "2031-01-01T00:00:00Z"}, write),
    ]
    for body, headers in patches:
        pair = [user(tenant), user(tenant)]
        assert_alike(
            http.patch(f"{V2}/users/{pair[0]}", json=body, headers=headers),
            slow.patch(f"{V2}/users/{pair[1]}", json=body, headers=headers),
        )
    missing = uuid.uuid4()
    assert_same(
        http.patch(f"{V2}/users/{missing}", json={"title": "x"}, headers=write),
        slow.patch(f"{V2}/users/{missing}", json={"title": "x"}, headers=write),
    )

    for headers in (write, read_only):
        pair = [user(tenant), user(tenant)]
        assert_alike(
            http.delete(f"{V2}/users/{pair[0]}", headers=headers),
            slow.delete(f"{V2}/users/{pair[1]}", headers=headers),
        )
    assert_same(
        http.delete(f"{V2}/users/{missing}", headers=write),
        slow.delete(f"{V2}/users/{missing}", headers=write),
    )
    gone = user(tenant)
    assert http.delete(f"{V2}/users/{gone}", headers=write).status_code == 204
    assert http.get(f"{V2}/users/{gone}", headers=write).status_code == 404


def test_adding_members_answers_as_the_route_does(
    http: TestClient, slow: TestClient, tenant: TenantHandle
) -> None:
    write = tenant.headers()
    group = tenant.http.post(
        f"{V2}/groups", json={"name": f"g-{uuid.uuid4().hex[:6]}"}, headers=write
    ).json()["id"]
    path = f"{V2}/groups/{group}/members"
    assert takes(http.app, "POST", path)  # type: ignore[arg-type]
    member = user(tenant)
    cases = [
        ({"userId": None}, write),  # filled with a fresh user per app
        ({"userId": member}, write),  # the second add of one user
        ({"userId": str(uuid.uuid4())}, write),
        ({"userId": "nope"}, write),
        ({}, write),
        ({"userId": None}, {"Authorization": f"Bearer {tenant.token('group:read')}"}),
        # Scheduled access: an expiry is served alike, and so is each way it is refused.
        ({"userId": None, "expiresAt": "2031-05-01T12:00:00+02:00"}, write),
        ({"userId": None, "expiresAt": "2001-01-01T00:00:00Z"}, write),
        ({"userId": None, "expiresAt": "2031-05-01T12:00:00"}, write),
        ({"userId": None, "expiresAt": "someday"}, write),
        ({"userId": member, "expiresAt": "2031-05-01T12:00:00Z"}, write),
    ]
    assert http.post(path, json={"userId": member}, headers=write).status_code == 201
    for body, headers in cases:
        answers = []
        for client in (http, slow):
            sent = {**body, "userId": user(tenant)} if body.get("userId", 0) is None else body
            answers.append(client.post(path, json=sent, headers=headers))
        assert_alike(*answers)
    unknown_group = f"{V2}/groups/{uuid.uuid4()}/members"
    assert_same(
        http.post(unknown_group, json={"userId": member}, headers=write),
        slow.post(unknown_group, json={"userId": member}, headers=write),
    )
    listed = http.get(path, headers=write).json()
    assert member in {m["id"] for m in listed["items"]}


SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_VOLATILE = {"id", "userName", "emails", "meta", "externalId"}


def assert_scim_alike(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    for name in (*COMPARED_HEADERS, "location"):
        if name == "location":
            assert ("location" in fast.headers) == ("location" in slow.headers)
            continue
        assert fast.headers.get(name) == slow.headers.get(name), name
    steady = [{k: v for k, v in r.json().items() if k not in SCIM_VOLATILE} for r in (fast, slow)]
    assert steady[0] == steady[1]
    if fast.status_code == 201:
        assert fast.json()["meta"].keys() == slow.json()["meta"].keys()


@pytest.mark.parametrize("prefix", ["/scim/v2", "/api/scim/v2"])
def test_scim_user_creation_answers_as_the_route_does(
    http: TestClient, slow: TestClient, tenant: TenantHandle, prefix: str
) -> None:
    scim = tenant.scim_headers()
    path = f"{prefix}/Users"
    assert takes(http.app, "POST", path)  # type: ignore[arg-type]
    taken = f"{uuid.uuid4().hex[:10]}@example.com"
    assert http.post(
        path, json={"schemas": [SCIM_USER], "userName": taken}, headers=scim
    ).is_success

    def fresh() -> dict[str, object]:
        name = f"{uuid.uuid4().hex[:10]}@example.com"
        return {
            "schemas": [SCIM_USER],
            "userName": name,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": name, "type": "work", "primary": True}],
            "active": True,
        }

    cases: list[tuple[object, dict[str, str]]] = [
        (None, scim),
        (None, {**scim, "content-type": "application/scim+json"}),
        ({"schemas": [SCIM_USER], "userName": taken}, scim),
        ({"schemas": [SCIM_USER]}, scim),
        ({"schemas": [SCIM_USER], "userName": 7}, scim),
        ([1, 2], scim),
        (None, tenant.headers()),
        (None, {}),
        # The token is checked before the body: a refused one answers 401 either way.
        ({"schemas": [SCIM_USER]}, {"Authorization": "Bearer rscim_not-issued"}),
        ({"schemas": [SCIM_USER], "userName": 7}, {}),
    ]
    for body, headers in cases:
        answers = [
            client.post(path, json=fresh() if body is None else body, headers=headers)
            for client in (http, slow)
        ]
        assert_scim_alike(*answers)
    with passed_on(http.app) as passed:  # type: ignore[arg-type]
        made = http.post(path, json=fresh(), headers=scim)
        assert made.status_code == 201 and passed == []
    shown = http.get(f"{path}/{made.json()['id']}", headers=scim).json()
    assert shown["name"]["familyName"] == "Lovelace"


def test_conditional_and_idempotent_requests_go_to_the_routes(
    http: TestClient, tenant: TenantHandle
) -> None:
    uid = user(tenant)
    headers = tenant.headers()
    for extra in ({"If-Match": "*"}, {"If-None-Match": '"x"'}, {"Idempotency-Key": "k1"}):
        with passed_on(http.app) as passed:  # type: ignore[arg-type]
            http.get(f"{V2}/users/{uid}", headers={**headers, **extra})
            assert passed == [f"{V2}/users/{uid}"], extra


def test_list_pages_answer_as_the_route_does(
    http: TestClient, slow: TestClient, tenant: TenantHandle
) -> None:
    """The list's fast path takes the plain spellings of its common parameters and leaves
    every other query string to the route: either way, the same page."""
    group = tenant.http.post(
        f"{V2}/groups", json={"name": f"g-{uuid.uuid4().hex[:6]}"}, headers=tenant.headers()
    ).json()["id"]
    for n in range(4):
        uid = user(tenant, firstName=f"Lister{n}", lastName=f"Page{n % 2}")
        if n % 2:
            tenant.http.post(
                f"{V2}/groups/{group}/members", json={"userId": uid}, headers=tenant.headers()
            )
    taken = [
        "",
        "status=active&sortBy=name&limit=100",
        "status=suspended",
        "isActive=true&sortBy=email&sortOrder=desc",
        "sortBy=createdAt&limit=2&offset=1",
        "sortBy=lastLoginAt&sortOrder=asc&offset=3",
        "limit=0",
        "query=Lister",
        "query=lister1&status=active",
        f"groupId={group}",
        f"groupId={group}&query=Page1",
    ]
    to_route = [
        "limit=101",
        "limit=01",
        "offset=-1",
        "status=retired",
        "status=active&status=inactive",
        "query=Lister%201",
        "query=a+b",
        "sortBy=nickname",
        "isActive=1",
        "page=2&pageSize=2",
        "offset=1&page=2",
        "email=x@example.com",
        f"groupId={group.upper()}x",
        "unknown=1",
    ]
    for query in taken + to_route:
        path = f"{V2}/users" + (f"?{query}" if query else "")
        with passed_on(http.app) as passed:  # type: ignore[arg-type]
            fast = http.get(path, headers=tenant.headers())
        assert (passed == []) is (query in taken), query
        assert_same(fast, slow.get(path, headers=tenant.headers()))
    assert http.get(f"{V2}/users?query=Lister", headers=tenant.headers()).json()["totalCount"] == 4


@pytest.mark.parametrize("prefix", ["/scim/v2", "/api/scim/v2"])
def test_scim_reads_answer_as_the_routes_do(
    http: TestClient, slow: TestClient, tenant: TenantHandle, prefix: str
) -> None:
    """SCIM GET by id and GET with a filter (what Okta and Entra ID ask before each
    create): the fast paths take their parameters as FastAPI would and answer as the routes
    do, errors included; what they do not take goes to the routes."""
    scim = tenant.scim_headers()
    name = f"fp-{uuid.uuid4().hex[:8]}"
    made = http.post(
        f"{prefix}/Users",
        json={
            "schemas": [SCIM_USER],
            "userName": name,
            "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
        },
        headers=scim,
    )
    assert made.status_code == 201, made.text
    uid = made.json()["id"]
    group = http.post(
        f"{V2}/groups", json={"name": f"g-{uuid.uuid4().hex[:6]}"}, headers=tenant.headers()
    ).json()["id"]
    http.post(f"{V2}/groups/{group}/members", json={"userId": uid}, headers=tenant.headers())
    taken = [
        (f"/Users/{uid}", ""),
        (f"/Users/{uid}", "attributes=userName"),
        (f"/Users/{uid}", "excludedAttributes=groups"),
        (f"/Users/{uid}", "attributes=nonsense.path"),
        (f"/Users/{uuid.uuid4()}", ""),
        ("/Users/not-an-id", ""),
        ("/Users", f'filter=userName eq "{name}"'),
        ("/Users", f'filter=userName eq "{name.upper()}"&attributes=id'),
        ("/Users", f'filter=emails[type eq "work"].value eq "{name}@example.com"'),
        ("/Users", "filter=userName eq"),
        ("/Users", "filter=nickName pr&count=0"),
        ("/Users", "startIndex=0&count=-1"),
        ("/Users", "count=2&sortBy=userName&sortOrder=descending"),
        ("/Users", "sortOrder=sideways"),
    ]
    to_route = [
        ("/Users", "count=two"),
        ("/Users", "count=1&count=2"),
        ("/Users", "startIndex=1.5"),
        ("/Users", "unknown=1"),
        (f"/Users/{uid}", "attributes=" + "a" * 4001),
    ]
    for path, query in taken + to_route:
        url = f"{prefix}{path}" + (f"?{query}" if query else "")
        with passed_on(http.app) as passed:  # type: ignore[arg-type]
            fast = http.get(url, headers=scim)
        assert (passed == []) is ((path, query) in taken), (path, query)
        assert_same(fast, slow.get(url, headers=scim))
    found = http.get(f"{prefix}/Users", params={"filter": f'userName eq "{name}"'}, headers=scim)
    assert [u["id"] for u in found.json()["Resources"]] == [uid]
    assert found.json()["Resources"][0]["groups"][0]["value"] == group


def test_identity_lists_answer_as_the_route_does(
    http: TestClient, slow: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    """GET /user_identities/list: the fast path takes the query string as the route merges
    it, and answers as the route does (pages, cursors, searches, errors, refusals); a request
    with a body goes to the route."""
    key, key_id = issue_api_key(tenant)
    other_key, _ = issue_api_key(other_tenant)
    made = [
        http.post(
            "/user_identities/create",
            json={"email_address": f"fp-{n}-{uuid.uuid4().hex[:6]}@example.com",
                  "full_name": f"Fast Path{n}"},
            headers={"Authorization": f"Bearer {key}"},
        ).json()["user_identity"]
        for n in range(3)
    ]  # fmt: skip
    auth = {"Authorization": f"Bearer {key}"}
    first = http.get("/user_identities/list?limit=2", headers=auth).json()
    cursor = first["pagination"]["next_page_cursor"]
    assert cursor is not None
    ids = "&".join(f"user_identity_ids={m['user_identity_id']}" for m in (made[0], made[2]))
    taken = [
        ("", auth),
        ("limit=2", auth),
        (f"limit=2&page_cursor={cursor}", auth),
        ("search=path1", auth),
        ("search=PATH&limit=1", auth),
        (ids, auth),
        ("created_before=2020-01-01T00:00:00Z", auth),
        (f"credential_manager_acs_system_id={uuid.uuid4()}", auth),
        ("_strict=true&limit=1", auth),
        ("limit=0", auth),
        ("limit=many", auth),
        ("page_cursor=forged.cursor", auth),
        ("unknown=1", auth),
        ("", {"Authorization": f"Bearer {other_key}"}),
        ("", {"Authorization": "Bearer seam_rosterd_not_a_real_key"}),
        ("", {"Authorization": f"Bearer {tenant.token('user:read')}"}),
    ]
    to_route = [("", {}), ("", {"x-api-key": key})]
    for query, headers in taken + to_route:
        url = "/user_identities/list" + (f"?{query}" if query else "")
        with passed_on(http.app) as passed:  # type: ignore[arg-type]
            fast = http.get(url, headers=headers)
        assert (passed == []) is ((query, headers) in taken), (query, headers)
        assert_same(fast, slow.get(url, headers=headers))
    with passed_on(http.app) as passed:  # type: ignore[arg-type]
        in_body = http.request(
            "GET", "/user_identities/list", json={"search": "path2"}, headers=auth
        )
    assert passed == ["/user_identities/list"]
    assert [u["user_identity_id"] for u in in_body.json()["user_identities"]] == [
        made[2]["user_identity_id"]
    ]
    # A revoked key is refused at once, on the fast path as on the route.
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        bearer_secrets.revoke(
            session, api_keys.KIND, row, key_id, Actor(tenant_id=row.id, actor="t", surface="t")
        )
    assert http.get("/user_identities/list", headers=auth).status_code == 401
