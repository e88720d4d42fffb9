"""/integration/v2/audit-events: a tenant's changes, filtered, newest first, keyset-paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.v2.test_groups import _error
from tests.factories import V2, TenantHandle

AUDIT = f"{V2}/audit-events"


def _page(tenant: TenantHandle, **params: Any) -> dict[str, Any]:
    r = tenant.http.get(AUDIT, params=params, headers=tenant.headers("audit:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _walk(tenant: TenantHandle, **params: Any) -> list[dict[str, Any]]:
    """Every page of a query, following nextCursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _page(tenant, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page.get("nextCursor")
        if cursor is None:
            return items


def test_one_users_history_newest_first_with_before_and_after(
    http: TestClient, tenant: TenantHandle
) -> None:
    user = tenant.user(firstName="Ada")
    other = tenant.user()
    for title in ("Engineer", "Lead"):
        r = http.patch(f"{V2}/users/{user['id']}", json={"title": title}, headers=tenant.headers())
        assert r.status_code == 200, r.text
    assert http.delete(f"{V2}/users/{user['id']}", headers=tenant.headers()).status_code == 204

    items = _page(tenant, resourceType="user", resourceId=user["id"])["items"]

    assert [e["action"] for e in items] == [
        "user.deleted",
        "user.updated",
        "user.updated",
        "user.created",
    ]
    assert all(e["resourceId"] == user["id"] for e in items)
    assert [e["id"] for e in items] == sorted((e["id"] for e in items), reverse=True)
    deleted, lead, engineer, created = items
    assert created["before"] is None and created["after"]["firstName"] == "Ada"
    assert engineer["before"]["title"] is None and engineer["after"]["title"] == "Engineer"
    assert lead["before"]["title"] == "Engineer" and lead["after"]["title"] == "Lead"
    assert deleted["before"]["title"] == "Lead"
    assert deleted["surface"] == "v2" and deleted["actor"].startswith("client:")
    assert datetime.fromisoformat(deleted["occurredAt"]) >= datetime.fromisoformat(
        created["occurredAt"]
    )
    assert other["id"] not in {e["resourceId"] for e in items}


def test_keyset_pages_cover_every_event_once(tenant: TenantHandle) -> None:
    for _ in range(7):
        tenant.user()
    everything = _page(tenant, action="user.created", limit=100)["items"]
    assert len(everything) == 7
    assert "nextCursor" not in _page(tenant, action="user.created", limit=100)

    first = _page(tenant, action="user.created", limit=3)
    assert len(first["items"]) == 3 and first["nextCursor"]
    walked = _walk(tenant, action="user.created", limit=3)
    assert [e["id"] for e in walked] == [e["id"] for e in everything]


def test_filters_by_actor_action_and_time(tenant: TenantHandle) -> None:
    tenant.user()  # by the client holding every scope
    r = tenant.http.post(
        f"{V2}/users",
        json={"email": "scoped@example.com", "firstName": "S", "lastName": "C"},
        headers=tenant.headers("user:write"),
    )
    assert r.status_code == 201, r.text
    scoped_id = r.json()["id"]
    created = _page(tenant, action="user.created")["items"]
    actor = next(e["actor"] for e in created if e["resourceId"] == scoped_id)

    by_actor = _walk(tenant, actor=actor)
    assert [e["resourceId"] for e in by_actor] == [scoped_id]
    assert _page(tenant, actor="client:nobody")["items"] == []

    now = datetime.now(UTC)
    assert (
        len(
            _page(tenant, action="user.created", since=(now - timedelta(minutes=5)).isoformat())[
                "items"
            ]
        )
        == 2
    )
    assert (
        _page(tenant, action="user.created", since=(now + timedelta(minutes=5)).isoformat())[
            "items"
        ]
        == []
    )
    assert (
        _page(tenant, action="user.created", until=(now - timedelta(minutes=5)).isoformat())[
            "items"
        ]
        == []
    )


def test_tenants_see_only_their_own_events(
    tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = tenant.user()
    theirs = other_tenant.user()
    assert _page(other_tenant, resourceType="user", resourceId=mine["id"])["items"] == []
    ids = {e["resourceId"] for e in _walk(tenant)}
    assert mine["id"] in ids and theirs["id"] not in ids


def test_bad_queries_are_400(tenant: TenantHandle) -> None:
    headers = tenant.headers("audit:read")
    for params, field in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "YTk5OTk5OTk5OTk5OTk5OTk5OTk5"}, "cursor"),  # "a" + 21 nines: no bigint
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),  # no offset: which zone?
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
    ):
        r = tenant.http.get(AUDIT, params=params, headers=headers)
        _error(r, 400, field)


def test_needs_the_audit_read_scope(tenant: TenantHandle) -> None:
    r = tenant.http.get(AUDIT, headers=tenant.headers("user:read", "user:write"))
    err = _error(r, 403)
    assert "audit:read" in err["message"]
    assert tenant.http.get(AUDIT, headers=tenant.headers("admin")).status_code == 200
    assert tenant.http.get(AUDIT).status_code == 401
