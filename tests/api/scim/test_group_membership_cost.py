"""A SCIM PATCH that adds or removes one member costs the same for a small and a large
group: it runs the same SQL statements, none of which reads the group's members. Concurrent
writes to one group all succeed, and a stale If-Match is still refused."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event

from rosterd.runtime import Runtime
from tests.api.scim.support import GROUP_SCHEMA, SCIM, USER_SCHEMA, in_background, patch_op
from tests.conftest import LiveServer
from tests.factories import TenantHandle

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def _users(http: httpx.Client | TestClient, tenant: TenantHandle, n: int) -> list[str]:
    tag = secrets.token_hex(3)
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": str(i),
            "data": {"schemas": [USER_SCHEMA], "userName": f"m-{tag}-{i}"},
        }
        for i in range(n)
    ]
    r = http.post(
        f"{SCIM}/Bulk",
        json={"schemas": [BULK], "Operations": operations},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    results = r.json()["Operations"]
    assert all(o["status"] == "201" for o in results), results
    return [o["location"].rsplit("/", 1)[1] for o in results]


def _group(http: httpx.Client | TestClient, tenant: TenantHandle, members: list[str]) -> str:
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": f"g-{secrets.token_hex(4)}",
        "members": [{"value": m} for m in members],
    }
    r = http.post(f"{SCIM}/Groups", json=body, headers=tenant.scim_headers())
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@contextmanager
def _statements(runtime: Runtime) -> Iterator[list[str]]:
    """The statements run on the write engine meanwhile, but for the background loops': the
    indexer or the deliverer writing in the same moment is not the request's cost."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not in_background():
            seen.append(statement)

    engine = runtime.db.write_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_one_member_change_runs_the_same_statements_for_any_group_size(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    users = _users(http, tenant, 301)
    newcomer = users.pop()
    small, large = _group(http, tenant, users[:10]), _group(http, tenant, users)

    def run(group_id: str, body: dict[str, Any]) -> list[str]:
        with _statements(runtime) as seen:
            r = http.patch(f"{SCIM}/Groups/{group_id}", json=body, headers=tenant.scim_headers())
        assert r.status_code == 204, r.text
        return list(seen)

    add = patch_op({"op": "add", "path": "members", "value": [{"value": newcomer}]})
    remove = patch_op({"op": "remove", "path": f'members[value eq "{newcomer}"]'})
    for body in (add, remove):
        on_small, on_large = run(small, body), run(large, body)
        assert on_large, "no statement of the request was seen"
        assert on_small == on_large
        # the group row, the user check, the change, the version, the audit row: a handful
        assert len(on_large) <= 8, on_large
        assert not any("FROM group_memberships" in s and "DELETE" not in s for s in on_large)


def _parallel(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_concurrent_writes_to_one_group_all_succeed(live_server: LiveServer) -> None:
    """SCIM PATCHes adding members, SCIM PUTs and REST v2 PATCHes of one group, all at
    once: every one succeeds (no 5xx from a stale version or a deadlock), none is lost."""
    tenant = live_server.tenant()
    with httpx.Client(base_url=live_server.base_url, timeout=60) as client:
        users = _users(client, tenant, 20)
        group = _group(client, tenant, [])
        scim, v2 = tenant.scim_headers(), tenant.headers("group:write")

        def add(uid: str) -> Callable[[], httpx.Response]:
            body = patch_op({"op": "add", "path": "members", "value": [{"value": uid}]})
            return lambda: client.patch(f"{SCIM}/Groups/{group}", json=body, headers=scim)

        def rename(i: int) -> Callable[[], httpx.Response]:
            body = {"description": f"d{i}"}
            return lambda: client.patch(f"/integration/v2/groups/{group}", json=body, headers=v2)

        answers = _parallel([add(u) for u in users] + [rename(i) for i in range(10)])
        assert [r.status_code for r in answers] == [204] * 20 + [200] * 10, [
            r.text for r in answers if r.status_code >= 300
        ]
        got = client.get(f"{SCIM}/Groups/{group}", headers=scim).json()
        assert {m["value"] for m in got["members"]} == set(users)

        # PUTs of the whole group interleaved with PATCHes: all succeed, the last one wins.
        def put(i: int) -> Callable[[], httpx.Response]:
            body = {
                "schemas": [GROUP_SCHEMA],
                "displayName": got["displayName"],
                "members": [{"value": u} for u in users[i:]],
            }
            return lambda: client.put(f"{SCIM}/Groups/{group}", json=body, headers=scim)

        answers = _parallel([put(i) for i in range(10)] + [add(u) for u in users[:10]])
        assert all(r.status_code in (200, 204) for r in answers), [
            r.text for r in answers if r.status_code >= 300
        ]


def test_a_stale_if_match_is_refused_under_concurrency(live_server: LiveServer) -> None:
    """Ten PATCHes holding the same ETag: exactly one applies, the others answer 412."""
    tenant = live_server.tenant()
    with httpx.Client(base_url=live_server.base_url, timeout=60) as client:
        users = _users(client, tenant, 10)
        group = _group(client, tenant, [])
        scim = tenant.scim_headers()
        etag = client.get(f"{SCIM}/Groups/{group}", headers=scim).headers["ETag"]

        def add(uid: str) -> Callable[[], httpx.Response]:
            body = patch_op({"op": "add", "path": "members", "value": [{"value": uid}]})
            headers = {**scim, "If-Match": etag}
            return lambda: client.patch(f"{SCIM}/Groups/{group}", json=body, headers=headers)

        answers = _parallel([add(u) for u in users])
        assert sorted(r.status_code for r in answers) == [204] + [412] * 9
        got = client.get(f"{SCIM}/Groups/{group}", headers=scim).json()
        assert len(got["members"]) == 1
