"""Keyset pages of GET /integration/v2/users (sortBy=createdAt&cursor=…, creation order) and
of GET /integration/v2/groups (cursor=…, name order): they neither skip nor repeat an item
when items before the cursor change meanwhile."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import V2, TenantHandle

USERS = f"{V2}/users"
GROUPS = f"{V2}/groups"


def _page(tenant: TenantHandle, **params: Any) -> dict[str, Any]:
    r = tenant.http.get(USERS, params=params, headers=tenant.headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_cursor_pages_walk_every_user_once_while_earlier_ones_are_deleted(
    tenant: TenantHandle,
) -> None:
    made = [tenant.user()["id"] for _ in range(7)]
    seen: list[str] = []
    page = _page(tenant, sortBy="createdAt", limit=3)
    while True:
        seen += [u["id"] for u in page["items"]]
        # Deleting users already read moves every later user up by offset; not by cursor.
        for user_id in [u["id"] for u in page["items"]][:1]:
            r = tenant.http.delete(f"{USERS}/{user_id}", headers=tenant.headers())
            assert r.status_code == 204, r.text
        if "nextCursor" not in page:
            break
        page = _page(tenant, sortBy="createdAt", limit=3, cursor=page["nextCursor"])
    assert seen == made
    # The total counts what matched when the page was read (two of its users deleted by
    # then), not what the page could tell from its position.
    assert page["totalCount"] == 7 - 2


def test_cursor_pages_descending(tenant: TenantHandle) -> None:
    made = [tenant.user()["id"] for _ in range(5)]
    first = _page(tenant, sortBy="createdAt", sortOrder="desc", limit=2)
    second = _page(
        tenant, sortBy="createdAt", sortOrder="desc", limit=2, cursor=first["nextCursor"]
    )
    assert [u["id"] for u in first["items"] + second["items"]] == made[::-1][:4]
    assert second["totalCount"] == 5


def test_no_cursor_without_creation_order_or_on_a_page_with_room(tenant: TenantHandle) -> None:
    tenant.user()
    assert "nextCursor" not in _page(tenant, limit=1)
    assert "nextCursor" not in _page(tenant, sortBy="createdAt", limit=2)


def test_bad_cursors_are_400(tenant: TenantHandle, http: TestClient) -> None:
    tenant.user()
    cursor = _page(tenant, sortBy="createdAt", limit=1)["nextCursor"]
    for params in (
        {"cursor": "not-a-cursor", "sortBy": "createdAt"},
        {"cursor": cursor},  # name order
        {"cursor": cursor, "sortBy": "createdAt", "offset": 1},
        {"cursor": cursor, "sortBy": "createdAt", "page": 2},
    ):
        r = http.get(USERS, params=params, headers=tenant.headers())
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]["details"][0]["field"] == "cursor", r.text


def test_cursor_pages_of_a_search(tenant: TenantHandle) -> None:
    made = [tenant.user(lastName=f"Keyset{n}")["id"] for n in range(3)]
    tenant.user(lastName="Other")
    first = _page(tenant, sortBy="createdAt", limit=2, query="keyset")
    second = _page(tenant, sortBy="createdAt", limit=2, query="keyset", cursor=first["nextCursor"])
    assert [u["id"] for u in first["items"] + second["items"]] == made
    assert "nextCursor" not in second


def test_group_pages_by_cursor_while_earlier_groups_are_deleted(tenant: TenantHandle) -> None:
    made = [tenant.group(name=name)["id"] for name in ("beta", "Alpha", "delta", "Charlie", "echo")]
    by_name = [made[1], made[0], made[3], made[2], made[4]]  # case-insensitive name order
    seen: list[str] = []
    r = tenant.http.get(GROUPS, params={"limit": 2}, headers=tenant.headers())
    while True:
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [g["id"] for g in page["items"]]
        deleted = tenant.http.delete(f"{GROUPS}/{page['items'][0]['id']}", headers=tenant.headers())
        assert deleted.status_code == 204, deleted.text
        if "nextCursor" not in page:
            break
        r = tenant.http.get(
            GROUPS, params={"limit": 2, "cursor": page["nextCursor"]}, headers=tenant.headers()
        )
    assert seen == by_name


def test_bad_group_cursors_are_400(tenant: TenantHandle, http: TestClient) -> None:
    tenant.group()
    tenant.group()
    r = http.get(GROUPS, params={"limit": 1}, headers=tenant.headers())
    cursor = r.json()["nextCursor"]
    for params in ({"cursor": "bm9wZQ"}, {"cursor": cursor, "offset": 1}):
        r = http.get(GROUPS, params=params, headers=tenant.headers())
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]["details"][0]["field"] == "cursor", r.text


def test_offset_pages_carry_no_cursor(tenant: TenantHandle) -> None:
    for _ in range(3):
        tenant.user()
        tenant.group()
    assert "nextCursor" not in _page(tenant, sortBy="createdAt", limit=1, offset=1)
    assert "nextCursor" not in _page(tenant, sortBy="createdAt", page=1, pageSize=1)
    r = tenant.http.get(GROUPS, params={"limit": 1, "offset": 1}, headers=tenant.headers())
    assert "nextCursor" not in r.json()
