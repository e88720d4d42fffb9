"""What the SCIM test modules share: the protocol's URNs and the small HTTP steps.

Each step asserts the status the tests rely on and returns the JSON body, so a test reads as
the IdP's sequence of requests. Paths are relative to ``SCIM`` (``"/Users/{id}"``).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from rosterd.lifecycle.last_uses import LastUseWriter
from rosterd.lifecycle.scheduler import Scheduler
from rosterd.lifecycle.search_indexer import SearchIndexer
from rosterd.lifecycle.webhooks import WebhookDeliverer
from tests.factories import V2, TenantHandle

SCIM = "/scim/v2"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"
MISSING_ID = "00000000-0000-4000-8000-000000000000"
# The body of Okta's SCIM 2.0 reference for a new user, its okta.local address included.
OKTA_REFERENCE_USER: dict[str, Any] = {
    "schemas": [USER_SCHEMA],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}


# The threads of the background loops (``rosterd-<loop name>``; the deliverer's pool is
# ``rosterd-webhook_<n>``), whose statements are not a request's: the indexer writes 0.05 s
# after a commit, the credentials' last uses a request notes are written 0.1 s after it.
_BACKGROUND = tuple(
    f"rosterd-{loop.name}" for loop in (SearchIndexer, Scheduler, WebhookDeliverer, LastUseWriter)
)


def in_background() -> bool:
    """Whether the running thread is one of the background loops' (a statement listener's
    test: what they run in the same moment is not a request's cost)."""
    return threading.current_thread().name.startswith(_BACKGROUND)


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    """The PatchOp request body carrying ``operations``."""
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def scim_get(http: TestClient, tenant: TenantHandle, path: str) -> dict[str, Any]:
    """GET ``path``: 200 and the resource."""
    r = http.get(f"{SCIM}{path}", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def scim_post(
    http: TestClient, tenant: TenantHandle, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST ``body`` to ``path``: 201 and the created resource."""
    r = http.post(f"{SCIM}{path}", json=body, headers=tenant.scim_headers())
    assert r.status_code == 201, r.text
    return dict(r.json())


def scim_put(
    http: TestClient, tenant: TenantHandle, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """PUT ``body`` to ``path``: 200 and the replaced resource."""
    r = http.put(f"{SCIM}{path}", json=body, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def scim_patch(
    http: TestClient, tenant: TenantHandle, path: str, *operations: dict[str, Any]
) -> dict[str, Any]:
    """PATCH ``path`` with ``operations``: 200 and the patched resource (a User PATCH)."""
    r = http.patch(f"{SCIM}{path}", json=patch_op(*operations), headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def patch_group(
    http: TestClient, tenant: TenantHandle, group_id: str, *operations: dict[str, Any]
) -> dict[str, Any]:
    """A Group PATCH answers 204 No Content with the new ETag (RFC 7644 §3.5.2), as the IdPs
    expect; the group is then read back, and its ETag and ``meta.version`` agree with it."""
    path = f"{SCIM}/Groups/{group_id}"
    r = http.patch(path, json=patch_op(*operations), headers=tenant.scim_headers())
    assert r.status_code == 204, r.text
    assert r.content == b""
    got = http.get(path, headers=tenant.scim_headers())
    assert got.status_code == 200, got.text
    assert r.headers["ETag"] == got.headers["ETag"] == got.json()["meta"]["version"]
    return dict(got.json())


def scim_error(r: Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """The RFC 7644 §3.12 error: Error URN, status as a string, scimType, a readable detail."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(SCIM_JSON), r.headers
    body = r.json()
    assert body["schemas"] == [ERROR_SCHEMA], body
    assert body["status"] == str(status), body
    assert isinstance(body["detail"], str) and body["detail"].strip(), body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return dict(body)


def member_ids(group: dict[str, Any]) -> set[str]:
    """The ids a SCIM group lists as its members."""
    return {m["value"] for m in group.get("members", [])}


def v2_get(http: TestClient, tenant: TenantHandle, path: str, *scopes: str) -> dict[str, Any]:
    """GET ``path`` on /integration/v2 with a token of ``scopes`` (all when none): 200 and
    the resource, to see what SCIM wrote through the other surface."""
    r = http.get(f"{V2}{path}", headers=tenant.headers(*scopes))
    assert r.status_code == 200, r.text
    return dict(r.json())
