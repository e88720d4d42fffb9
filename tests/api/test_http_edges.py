"""The edges of HTTP, on every surface and both databases.

- URLs in responses come from ROSTERD_PUBLIC_URL: a forged Host, X-Forwarded-* or Forwarded
  header never shows up in them, and an https public URL stays https.
- Forwarded headers are believed from ROSTERD_TRUSTED_PROXIES only.
- A body over ROSTERD_MAX_BODY_BYTES (1 MiB by default) is a 413 in the surface's format,
  with or without a Content-Length, before any credential is looked at, and without reading
  the rest of it; SCIM /Bulk holds its 1 MiB too, and the /api/v1 bulk creates their
  advertised 4 MiB.
- A body that is not UTF-8, JSON nested 10,000 deep, or JSON that is not an object is a 400
  in the surface's format.
- Paging parameters far beyond 64 bits are a 4xx or an empty page, never a 500.
"""

from __future__ import annotations

import dataclasses
import http.client
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from rosterd.api.app import create_app
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.conftest import LiveServer
from tests.factories import TenantHandle, make_tenant

PUBLIC_URL = "https://directory.example.com"
FORGED = "attacker.example"
LIMIT = 2 * 1024 * 1024  # the edge app's max_body_bytes: above SCIM Bulk's 1 MiB
BULK_LIMIT = 1_048_576
DEFAULT_LIMIT = 1_048_576  # ROSTERD_MAX_BODY_BYTES unset
V1_BULK_LIMIT = 4 * 1024 * 1024
V1_BULK = ["/api/v1/users/bulk", "/api/v1/groups/bulk"]
HUGE = [str(2**63), "99999999999999999999"]
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
OAUTH_ERRORS = {"invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope"}


# ---- an app whose public URL is not where the test client reaches it ------------------------


@pytest.fixture(scope="module")
def edge_runtime(runtime: Runtime) -> Runtime:
    settings = runtime.settings.model_copy(
        update={"public_url": PUBLIC_URL, "max_body_bytes": LIMIT}
    )
    return dataclasses.replace(runtime, settings=settings, bootstrap_credentials=None)


@pytest.fixture(scope="module")
def client(edge_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(edge_runtime)) as c:
        yield c


@dataclasses.dataclass
class Tenant:
    handle: TenantHandle
    headers: dict[str, dict[str, str]]  # per surface

    @property
    def slug(self) -> str:
        return self.handle.slug


@pytest.fixture(scope="module")
def tenant_(edge_runtime: Runtime, client: TestClient) -> Tenant:
    """A tenant with a user and a credential for every surface, all issued by the edge app.

    Shared by the module's tests: none of them depends on what the others wrote.
    """
    handle = make_tenant(edge_runtime, client)
    handle.user()
    username, password = f"admin-{secrets.token_hex(4)}", "correct horse battery staple"
    with edge_runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, handle.slug)
        actor = Actor(tenant_id=row.id, actor="test", surface="test")
        admins_service.create_admin(session, row, username=username, password=password, actor=actor)
        key = bearer_secrets.create(
            session, api_keys.KIND, row, name="edge", hmac_key=edge_runtime.hmac_key, actor=actor
        ).secret
    r = client.post(
        "/api/v1/authentication/login", json={"username": username, "password": password}
    )
    assert r.status_code == 200, r.text
    return Tenant(
        handle,
        {
            "v2": handle.headers(),
            "scim": handle.scim_headers(),
            "v1": {"Authorization": f"Bearer {r.json()['access_token']}"},
            "admin": {**handle.headers(), "x-api-key": key},
            "admin-api": handle.headers("admin"),
            "identities": {"Authorization": f"Bearer {key}"},
            "oauth": {},
        },
    )


# ---- the surfaces: where to write, and what their errors look like -------------------------


def _v2_error(r: httpx.Response, status: int) -> None:
    error = r.json()["error"]
    assert (
        isinstance(error["code"], str) and error["message"] and isinstance(error["details"], list)
    )


def _scim_error(r: httpx.Response, status: int) -> None:
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == str(status) and body["detail"]


def _v1_error(r: httpx.Response, status: int) -> None:
    error = r.json()["error"]
    assert error["status"] == status and error["code"] == status and error["httpMessage"]


def _admin_error(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert body["status"] == status and body["error"] and body["message"]
    assert body["path"] == r.request.url.path


def _identities_error(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert body["ok"] is False and body["error"]["type"] and body["error"]["message"]


def _oauth_error(r: httpx.Response, status: int) -> None:
    body = r.json()
    assert body["error"] in OAUTH_ERRORS and body["error_description"]


@dataclasses.dataclass(frozen=True)
class Surface:
    name: str
    write: str  # a path that takes a body (POST); {slug} is the tenant's
    content_type: str
    check: Callable[[httpx.Response, int], None]

    def path(self, tenant: Tenant) -> str:
        return self.write.format(slug=tenant.slug)

    def expect_error(self, r: httpx.Response, status: int) -> None:
        assert r.status_code == status, r.text
        self.check(r, status)


JSON = "application/json"
SURFACES = [
    Surface("v2", "/integration/v2/users", JSON, _v2_error),
    Surface("scim", "/scim/v2/Users", "application/scim+json", _scim_error),
    Surface("scim", "/api/scim/v2/Users", "application/scim+json", _scim_error),
    Surface("v1", "/api/v1/users", JSON, _v1_error),
    Surface("admin", "/v1/seadminusers", JSON, _admin_error),
    Surface("admin-api", "/admin/api/scim-tokens", JSON, _v2_error),
    Surface("identities", "/user_identities/create", JSON, _identities_error),
    Surface(
        "oauth", "/tenants/{slug}/connect/token", "application/x-www-form-urlencoded", _oauth_error
    ),
]
JSON_SURFACES = [s for s in SURFACES if s.name != "oauth"]


def _ids(surfaces: list[Surface]) -> list[str]:
    return [s.write.split("{")[0].strip("/").replace("/", "_") or s.name for s in surfaces]


def _oversized(size: int, form: bool) -> bytes:
    if form:
        return b"grant_type=client_credentials&scope=" + b"a" * size
    return b'{"x": "' + b"a" * size + b'"}'


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


# ---- URLs come from ROSTERD_PUBLIC_URL ------------------------------------------------------

FORGED_HEADERS = {
    "Host": FORGED,
    "X-Forwarded-Host": FORGED,
    "X-Forwarded-Proto": "http",
    "X-Forwarded-For": "203.0.113.7",
    "Forwarded": f"for=203.0.113.7;host={FORGED};proto=http",
}


def _no_forged_host(r: httpx.Response) -> None:
    assert FORGED not in r.text
    assert all(FORGED not in v for v in r.headers.values()), r.headers


@pytest.mark.parametrize("prefix", ["/scim/v2", "/api/scim/v2"])
def test_scim_urls_come_from_the_public_url(
    client: TestClient, tenant_: Tenant, prefix: str
) -> None:
    h = {**tenant_.headers["scim"], **FORGED_HEADERS}
    user = {"schemas": [SCIM_USER], "userName": f"u-{secrets.token_hex(4)}@example.com"}
    r = client.post(f"{prefix}/Users", json=user, headers=h)
    assert r.status_code == 201, r.text
    _no_forged_host(r)
    uid = r.json()["id"]
    assert r.headers["Location"] == f"{PUBLIC_URL}{prefix}/Users/{uid}"
    assert r.json()["meta"]["location"] == r.headers["Location"]

    group = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": f"g-{secrets.token_hex(4)}",
        "members": [{"value": uid}],
    }
    r = client.post(f"{prefix}/Groups", json=group, headers=h)
    assert r.status_code == 201, r.text
    _no_forged_host(r)
    assert r.headers["Location"].startswith(f"{PUBLIC_URL}{prefix}/Groups/")
    assert r.json()["members"][0]["$ref"] == f"{PUBLIC_URL}{prefix}/Users/{uid}"

    for path in ("/Users", "/Groups", "/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        r = client.get(f"{prefix}{path}", headers=h)
        assert r.status_code == 200, r.text
        _no_forged_host(r)
    r = client.get(f"{prefix}/Users/{uid}", headers=h)
    assert r.json()["meta"]["location"] == f"{PUBLIC_URL}{prefix}/Users/{uid}"
    assert r.json()["groups"][0]["$ref"].startswith(f"{PUBLIC_URL}{prefix}/Groups/")

    bulk = {
        "schemas": [BULK_REQUEST],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "a",
                "data": {**user, "userName": f"b-{secrets.token_hex(4)}@example.com"},
            },
            {
                "method": "PATCH",
                "path": f"/Users/{uid}",
                "data": {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": "x"}],
                },
            },
        ],
    }
    r = client.post(f"{prefix}/Bulk", json=bulk, headers=h)
    assert r.status_code == 200, r.text
    _no_forged_host(r)
    locations = [op["location"] for op in r.json()["Operations"]]
    assert all(loc.startswith(f"{PUBLIC_URL}{prefix}/Users/") for loc in locations), locations


def test_identities_next_page_url_comes_from_the_public_url(
    client: TestClient, tenant_: Tenant
) -> None:
    h = {**tenant_.headers["identities"], **FORGED_HEADERS}
    for _ in range(2):
        email = f"i-{secrets.token_hex(4)}@example.com"
        r = client.post("/user_identities/create", json={"email_address": email}, headers=h)
        assert r.status_code == 200, r.text
    r = client.get("/user_identities/list", params={"limit": 1}, headers=h)
    assert r.status_code == 200, r.text
    _no_forged_host(r)
    pagination = r.json()["pagination"]
    assert pagination["next_page_url"].startswith(f"{PUBLIC_URL}/user_identities/list?")
    assert pagination["next_page_cursor"] in pagination["next_page_url"]


def test_oauth_metadata_comes_from_the_public_url(client: TestClient, tenant_: Tenant) -> None:
    r = client.get(
        f"/tenants/{tenant_.slug}/.well-known/oauth-authorization-server", headers=FORGED_HEADERS
    )
    assert r.status_code == 200, r.text
    _no_forged_host(r)
    assert r.json()["token_endpoint"] == f"{PUBLIC_URL}/tenants/{tenant_.slug}/connect/token"


@pytest.mark.parametrize(
    ("surface", "path", "body"),
    [
        ("v2", "/integration/v2/users", {"email": "{e}", "firstName": "A", "lastName": "B"}),
        (
            "v1",
            "/api/v1/users",
            {"email": "{e}", "userName": "{e}", "password": "Secret-pass-123!"},
        ),
        ("admin", "/v1/seadminusers", {"emailAddress": "{e}", "firstName": "A", "lastName": "B"}),
    ],
)
def test_surfaces_without_urls_do_not_echo_a_forged_host(
    client: TestClient, tenant_: Tenant, surface: str, path: str, body: dict[str, str]
) -> None:
    email = f"h-{secrets.token_hex(4)}@example.com"
    payload = {k: v.format(e=email) for k, v in body.items()}
    h = {**tenant_.headers[surface], **FORGED_HEADERS}
    r = client.post(path, json=payload, headers=h)
    assert r.status_code in (200, 201), r.text
    _no_forged_host(r)
    r = client.get(path, headers=h)
    assert r.status_code == 200, r.text
    _no_forged_host(r)


# ---- forwarded headers: from trusted proxies only -------------------------------------------


def _peer_app(runtime: Runtime, trusted: list[str]) -> Any:
    settings = runtime.settings.model_copy(update={"trusted_proxies": trusted})
    app = create_app(dataclasses.replace(runtime, settings=settings, bootstrap_credentials=None))

    @app.get("/_edge/peer")
    def peer(request: Request) -> dict[str, Any]:
        return {
            "client": request.client.host if request.client else None,
            "scheme": request.url.scheme,
        }

    return app


@pytest.mark.parametrize(
    ("trusted", "peer", "believed"),
    [
        ([], "127.0.0.1", False),  # the default: no proxy is trusted, not even localhost
        (["10.0.0.0/8"], "192.0.2.1", False),
        (["10.0.0.0/8"], "10.1.2.3", True),
        (["192.0.2.1"], "192.0.2.1", True),
    ],
)
def test_forwarded_headers_are_believed_from_trusted_proxies_only(
    runtime: Runtime, trusted: list[str], peer: str, believed: bool
) -> None:
    with TestClient(_peer_app(runtime, trusted), client=(peer, 40000)) as c:
        r = c.get(
            "/_edge/peer",
            headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
        )
    assert r.status_code == 200, r.text
    expected = (
        {"client": "203.0.113.7", "scheme": "https"}
        if believed
        else {"client": peer, "scheme": "http"}
    )
    assert r.json() == expected


# ---- bodies over the limit: 413, in the surface's format, before authentication ------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("surface", SURFACES, ids=_ids(SURFACES))
def test_body_over_the_limit_is_413_before_credentials(
    client: TestClient, tenant_: Tenant, surface: Surface, chunked: bool
) -> None:
    body = _oversized(LIMIT, form=surface.name == "oauth")
    r = client.post(
        surface.path(tenant_),
        content=_chunks(body) if chunked else body,
        headers={"Content-Type": surface.content_type},  # and no credentials
    )
    assert ("content-length" in r.request.headers) is not chunked
    surface.expect_error(r, 413)
    assert str(LIMIT) in r.text


@pytest.mark.parametrize("prefix", ["/scim/v2", "/api/scim/v2"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_scim_bulk_holds_its_max_payload_size(
    client: TestClient, tenant_: Tenant, prefix: str, chunked: bool
) -> None:
    r = client.get(f"{prefix}/ServiceProviderConfig", headers=tenant_.headers["scim"])
    assert r.json()["bulk"]["maxPayloadSize"] == BULK_LIMIT
    user = {"schemas": [SCIM_USER], "userName": "big@example.com", "title": "x" * BULK_LIMIT}
    body = httpx.Request(
        "POST",
        "/",
        json={
            "schemas": [BULK_REQUEST],
            "Operations": [{"method": "POST", "path": "/Users", "data": user}],
        },
    ).read()
    assert BULK_LIMIT < len(body) < LIMIT
    r = client.post(
        f"{prefix}/Bulk",
        content=_chunks(body) if chunked else body,
        headers={"Content-Type": "application/scim+json"},
    )
    assert r.status_code == 413, r.text
    _scim_error(r, 413)
    assert str(BULK_LIMIT) in r.json()["detail"]
    r = client.get(
        f"{prefix}/Users",
        params={"filter": 'userName eq "big@example.com"'},
        headers=tenant_.headers["scim"],
    )
    assert r.json()["totalResults"] == 0


def test_a_chunked_body_under_the_limit_is_read_whole(client: TestClient, tenant_: Tenant) -> None:
    title = "t" * (LIMIT // 4)  # several chunks, well under the limit
    user = {
        "schemas": [SCIM_USER],
        "userName": f"c-{secrets.token_hex(4)}@example.com",
        "title": title,
    }
    body = httpx.Request("POST", "/", json=user).read()
    r = client.post("/scim/v2/Users", content=_chunks(body), headers=tenant_.headers["scim"])
    # The title is over the column's length: a 400 from the domain, not a 413 or a cut body.
    assert r.status_code in (201, 400), r.text
    assert "413" not in r.text and "larger than" not in r.text


@pytest.mark.parametrize("path", V1_BULK)
def test_v1_bulk_advertises_and_holds_its_own_limit(
    client: TestClient, tenant_: Tenant, path: str
) -> None:
    operation = client.get("/openapi.json").json()["paths"][path]["post"]
    assert str(V1_BULK_LIMIT) in operation["description"]
    assert "413" in operation["responses"]

    # Over the server-wide limit, under the bulk one: read and judged, not refused for size.
    item = {"email": "big@example.com", "name": "big", "preferences": {"x": "p" * LIMIT}}
    body = httpx.Request("POST", "/", json=[item]).read()
    assert LIMIT < len(body) < V1_BULK_LIMIT
    r = client.post(path, content=_chunks(body), headers=tenant_.headers["v1"])
    assert r.status_code in (201, 400), r.text
    assert "larger than" not in r.text

    # Over the bulk limit, without credentials: a 413 in /api/v1's format.
    big = _oversized(V1_BULK_LIMIT, form=False)
    for content in (big, _chunks(big)):
        r = client.post(path, content=content, headers={"Content-Type": JSON})
        assert r.status_code == 413, r.text
        _v1_error(r, 413)
        assert str(V1_BULK_LIMIT) in r.text


# ---- malformed bodies: 400 in the surface's format ------------------------------------------

NOT_UTF8 = b'{"email": "\xff\xfe@example.com"}'


@pytest.mark.parametrize("surface", SURFACES, ids=_ids(SURFACES))
def test_a_body_that_is_not_utf8_is_400(
    client: TestClient, tenant_: Tenant, surface: Surface
) -> None:
    body = b"grant_type=\xff\xfe" if surface.name == "oauth" else NOT_UTF8
    r = client.post(
        surface.path(tenant_),
        content=body,
        headers={**tenant_.headers[surface.name], "Content-Type": surface.content_type},
    )
    surface.expect_error(r, 400)


def _nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    inner = b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"email": ' + inner + b', "userName": ' + inner + b"}"


@pytest.mark.parametrize("kind", ["object", "list"])
@pytest.mark.parametrize("depth", [10_000, 900])
@pytest.mark.parametrize("surface", JSON_SURFACES, ids=_ids(JSON_SURFACES))
def test_deeply_nested_json_is_400(
    client: TestClient, tenant_: Tenant, surface: Surface, depth: int, kind: str
) -> None:
    r = client.post(
        surface.path(tenant_),
        content=_nested(depth, kind),
        headers={**tenant_.headers[surface.name], "Content-Type": surface.content_type},
    )
    surface.expect_error(r, 400)


@pytest.mark.parametrize("depth", [10_000, 900, 100])
def test_deeply_nested_bulk_data_is_refused(
    client: TestClient, tenant_: Tenant, depth: int
) -> None:
    inner = b'{"a":' * depth + b"1" + b"}" * depth
    body = (
        b'{"schemas": ["' + BULK_REQUEST.encode() + b'"], "Operations": '
        b'[{"method": "POST", "path": "/Users", "data": ' + inner + b"}]}"
    )
    r = client.post("/scim/v2/Bulk", content=body, headers=tenant_.headers["scim"])
    if r.status_code == 200:  # parsed: the operation fails on its own
        assert r.json()["Operations"][0]["status"] == "400", r.text
    else:
        assert r.status_code == 400, r.text
        _scim_error(r, 400)


@pytest.mark.parametrize("body", [b"[]", b"[1, 2]", b'"text"', b"42", b"null", b"true"])
@pytest.mark.parametrize("surface", JSON_SURFACES, ids=_ids(JSON_SURFACES))
def test_json_that_is_not_an_object_is_400(
    client: TestClient, tenant_: Tenant, surface: Surface, body: bytes
) -> None:
    r = client.post(
        surface.path(tenant_),
        content=body,
        headers={**tenant_.headers[surface.name], "Content-Type": surface.content_type},
    )
    surface.expect_error(r, 400)


# ---- integers far beyond 64 bits in paging parameters ---------------------------------------

PAGING = [
    ("v2", "/integration/v2/users", "offset"),
    ("v2", "/integration/v2/users", "limit"),
    ("v2", "/integration/v2/users", "page"),
    ("v2", "/integration/v2/users", "pageSize"),
    ("v2", "/integration/v2/groups", "offset"),
    ("v2", "/integration/v2/roles", "page"),
    ("v2", "/integration/v2/teams", "offset"),
    ("scim", "/scim/v2/Users", "startIndex"),
    ("scim", "/scim/v2/Users", "count"),
    ("scim", "/scim/v2/Groups", "startIndex"),
    ("scim", "/api/scim/v2/Groups", "count"),
    ("v1", "/api/v1/users", "skip"),
    ("v1", "/api/v1/users", "limit"),
    ("v1", "/api/v1/groups", "skip"),
    ("v1", "/api/v1/groups", "limit"),
    ("admin", "/v1/seadminusers", "offset"),
    ("admin", "/v1/seadminusers", "limit"),
    ("admin", "/v1/seadminusers", "searchData.id"),
    ("identities", "/user_identities/list", "limit"),
]


@pytest.mark.parametrize("sign", ["", "-"], ids=["positive", "negative"])
@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(("surface", "path", "param"), PAGING)
def test_huge_paging_parameters_never_500(
    client: TestClient, tenant_: Tenant, surface: str, path: str, param: str, value: str, sign: str
) -> None:
    r = client.get(path, params={param: sign + value}, headers=tenant_.headers[surface])
    assert r.status_code in (200, 400), r.text
    if surface == "scim" and param == "startIndex" and not sign:
        # RFC 7644 §3.4.2.4: past the last result is an empty page with the true total.
        assert r.status_code == 200, r.text
        total = client.get(path, headers=tenant_.headers[surface]).json()["totalResults"]
        assert r.json()["totalResults"] == total and not r.json().get("Resources")


def test_admin_user_id_beyond_64_bits_is_400(client: TestClient, tenant_: Tenant) -> None:
    r = client.get(f"/v1/seadminusers/{HUGE[1]}", headers=tenant_.headers["admin"])
    assert r.status_code == 400, r.text
    _admin_error(r, 400)


@pytest.mark.parametrize("value", [2**63, 10**20])
def test_scim_search_with_huge_start_index_is_an_empty_page(
    client: TestClient, tenant_: Tenant, value: int
) -> None:
    total = client.get("/scim/v2/Users", headers=tenant_.headers["scim"]).json()["totalResults"]
    assert total >= 1
    r = client.post(
        "/scim/v2/Users/.search",
        json={"schemas": [SEARCH_REQUEST], "startIndex": value, "count": value},
        headers=tenant_.headers["scim"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["totalResults"] == total and not r.json().get("Resources")


# ---- a real server: bodies streamed in chunks over a socket --------------------------------


LIVE_LIMITS = [
    ("/integration/v2/users", DEFAULT_LIMIT, _v2_error),
    ("/user_identities/create", DEFAULT_LIMIT, _identities_error),
    ("/tenants/default/connect/token", DEFAULT_LIMIT, _oauth_error),
    ("/scim/v2/Bulk", BULK_LIMIT, _scim_error),
    ("/api/v1/users/bulk", V1_BULK_LIMIT, _v1_error),
]


def _content_type(path: str) -> str:
    return "application/x-www-form-urlencoded" if path.endswith("/token") else JSON


@pytest.mark.parametrize(("path", "limit", "check"), LIVE_LIMITS)
def test_live_server_refuses_an_oversized_chunked_body(
    live_server: LiveServer, path: str, limit: int, check: Callable[[httpx.Response, int], None]
) -> None:
    assert live_server.settings.max_body_bytes == DEFAULT_LIMIT  # the default
    body = _oversized(limit, form=path.endswith("/token"))
    with httpx.Client(base_url=live_server.base_url, timeout=30) as c:
        r = c.post(path, content=_chunks(body), headers={"Content-Type": _content_type(path)})
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 413, r.text
    check(r, 413)


EIGHTY_MB = 80_000_000


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("path", "limit", "check"), LIVE_LIMITS)
def test_live_server_refuses_80_mb_without_waiting_for_it(
    live_server: LiveServer,
    path: str,
    limit: int,
    check: Callable[[httpx.Response, int], None],
    chunked: bool,
) -> None:
    """An 80 MB upload without credentials is answered 413 once the limit is passed: the
    client sends the headers (and, chunked, a little more than the limit), then stops and
    reads the answer, which comes without the other ~79 MB."""
    host, port = httpx.URL(live_server.base_url).host, httpx.URL(live_server.base_url).port
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", _content_type(path))
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        else:
            conn.putheader("Content-Length", str(EIGHTY_MB))
        conn.endheaders()
        sent = 0
        while chunked and sent <= limit + 256 * 1024:
            piece = b"a" * 65536
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        answer = conn.getresponse()
        r = httpx.Response(
            answer.status,
            headers=answer.getheaders(),
            content=answer.read(),
            request=httpx.Request("POST", live_server.base_url + path),
        )
    finally:
        conn.close()
    assert sent < EIGHTY_MB // 10
    assert r.status_code == 413, r.text
    check(r, 413)
    assert str(limit) in r.text
