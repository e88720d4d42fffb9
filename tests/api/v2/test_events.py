"""/integration/v2/events: every change as a CloudEvent, in commit order, from a cursor.

On PostgreSQL an event shows once every transaction older than its own has ended, which
other tests' open transactions can delay for a moment: the tests read with ``wait`` until
what they wait for came, instead of expecting it at once.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.scim.support import patch_op
from tests.api.v2.test_groups import _error
from tests.conftest import LiveServer
from tests.factories import V2, TenantHandle

EVENTS = f"{V2}/events"
DEADLINE = 60.0


def _read(client: httpx.Client, tenant: TenantHandle, **params: Any) -> dict[str, Any]:
    r = client.get(EVENTS, params=params, headers=tenant.headers("audit:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _collect(
    client: httpx.Client,
    tenant: TenantHandle,
    done: Any,
    *,
    after: str | None = None,
    **params: Any,
) -> tuple[list[dict[str, Any]], str]:
    """Events from ``after`` on, read page after page (waiting when none is ready) until
    ``done(events)``; and the cursor after the last."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE
    cursor = after
    while not done(events):
        assert time.monotonic() < deadline, f"still waiting after {DEADLINE} s: {events}"
        page = _read(client, tenant, wait=2, **params, **({"after": cursor} if cursor else {}))
        events += page["events"]
        cursor = page["cursor"]
    assert cursor is not None
    return events, cursor


def _of(events: list[dict[str, Any]], subject: str) -> list[str]:
    return [e["type"] for e in events if e["subject"] == subject]


def test_changes_through_every_path_are_cloudevents(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user(firstName="Grace")
    uid = user["id"]
    headers = tenant.headers()
    for body in ({"title": "Admiral"}, {"isActive": False}, {"isActive": True}):
        r = http.patch(f"{V2}/users/{uid}", json=body, headers=headers)
        assert r.status_code == 200, r.text
    group = tenant.group()
    gid = group["id"]
    r = http.post(f"{V2}/groups/{gid}/members", json={"userId": uid}, headers=headers)
    assert r.status_code == 201, r.text
    r = http.delete(f"{V2}/groups/{gid}/members/{uid}", headers=headers)
    assert r.status_code == 204, r.text
    two = [tenant.user()["id"], tenant.user()["id"]]
    r = http.patch(
        f"/scim/v2/Groups/{gid}",
        json=patch_op({"op": "add", "path": "members", "value": [{"value": u} for u in two]}),
        headers=tenant.scim_headers(),
    )
    assert r.status_code in (200, 204), r.text
    assert http.delete(f"{V2}/users/{uid}", headers=headers).status_code == 204

    events, _ = _collect(http, tenant, lambda ev: "user.deleted" in _of(ev, uid))

    assert _of(events, uid) == [
        "user.created",
        "user.updated",
        "user.deactivated",
        "user.reactivated",
        "user.deleted",
    ]
    assert _of(events, gid) == [
        "group.created",
        "group.member.added",
        "group.member.removed",
        "group.member.added",
        "group.member.added",
    ]
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    for e in events:
        assert e["specversion"] == "1.0"
        assert e["source"] == f"/tenants/{tenant.slug}"
        assert e["datacontenttype"] == "application/json"
        assert datetime.fromisoformat(e["time"]).tzinfo is not None
    created, updated, deactivated, _, deleted = [e for e in events if e["subject"] == uid]
    assert created["data"]["resource"]["firstName"] == "Grace"
    assert created["data"]["resource"]["id"] == uid
    assert created["data"]["surface"] == "v2"
    assert created["data"]["actor"].startswith("client:")
    assert created["data"]["requestId"]
    assert updated["data"]["changedFields"] == ["title"]
    assert updated["data"]["resource"]["title"] == "Admiral"
    assert deactivated["data"]["changedFields"] == ["status"]
    assert deactivated["data"]["resource"]["status"] == "inactive"
    assert deleted["data"]["resource"]["title"] == "Admiral"  # the user as it was
    members = [e for e in events if e["subject"] == gid and "member" in e["type"]]
    assert [e["data"]["resource"]["userId"] for e in members] == [uid, uid, *sorted(two)]
    assert {e["data"]["surface"] for e in members[2:]} == {"scim"}


def test_types_filter_and_cursor_resumption(http: TestClient, tenant: TenantHandle) -> None:
    users = [tenant.user()["id"] for _ in range(5)]
    group = tenant.group()["id"]

    def created(ev: list[dict[str, Any]]) -> list[str]:
        return [e["subject"] for e in ev if e["type"] == "user.created"]

    everything, end = _collect(http, tenant, lambda ev: group in _of_all(ev))
    assert created(everything) == users

    only, _ = _collect(http, tenant, lambda ev: len(ev) >= 5, types="user.created")
    assert {e["type"] for e in only} == {"user.created"}
    assert created(only) == users
    groups, _ = _collect(http, tenant, lambda ev: len(ev) >= 1, types="group.created")
    assert [e["subject"] for e in groups] == [group]

    # Page by page, two changes at a time, and from a cursor in the middle: the same events.
    first = _read(http, tenant, limit=2)
    assert len(first["events"]) == 2 and first["hasMore"] is True
    rest, _ = _collect(
        http, tenant, lambda ev: len(ev) >= len(everything) - 2, after=first["cursor"], limit=2
    )
    assert [e["id"] for e in first["events"] + rest] == [e["id"] for e in everything]

    # At the end: no events, and the cursor stays where it was.
    page = _read(http, tenant, after=end)
    assert page == {"events": [], "cursor": end, "hasMore": False}


def _of_all(events: list[dict[str, Any]]) -> set[str]:
    return {e["subject"] for e in events}


def test_bad_requests_are_400(http: TestClient, tenant: TenantHandle) -> None:
    headers = tenant.headers("audit:read")
    for params, field in (
        ({"after": "bm90LWEtY3Vyc29y"}, "after"),  # base64 of "not-a-cursor"
        ({"after": "!!!"}, "after"),
        ({"types": "user.created,user.exploded"}, "types"),
        ({"wait": 31}, "wait"),
        ({"wait": -1}, "wait"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
    ):
        err = _error(http.get(EVENTS, params=params, headers=headers), 400, field)
        if field == "types":
            assert "user.exploded" in err["message"]


def test_needs_the_audit_read_scope(http: TestClient, tenant: TenantHandle) -> None:
    err = _error(http.get(EVENTS, headers=tenant.headers("user:read", "group:read")), 403)
    assert "audit:read" in err["message"]
    assert http.get(EVENTS, headers=tenant.headers("admin")).status_code == 200
    assert http.get(EVENTS).status_code == 401


def test_tenants_read_only_their_own_events(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = tenant.user()["id"]
    other_user = other_tenant.user()["id"]
    theirs, _ = _collect(http, other_tenant, lambda ev: bool(ev), types="user.created")
    assert [e["subject"] for e in theirs] == [other_user]
    events, _ = _collect(http, tenant, lambda ev: mine in _of_all(ev))
    assert other_user not in _of_all(events)
    assert all(e["source"] == f"/tenants/{tenant.slug}" for e in events)
    assert mine not in _of_all(theirs)


# ---- against a running server ----------------------------------------------------------------


@pytest.mark.live
def test_a_long_poll_returns_as_soon_as_an_event_arrives(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    client = tenant.http
    tenant.headers()  # the client the writer will use, made (and its event written) now
    _, end = _collect(client, tenant, lambda ev: len(ev) >= 2)  # past the two clients' events

    started = time.monotonic()
    quiet = _read(client, tenant, after=end, wait=1)
    assert quiet["events"] == [] and quiet["cursor"] == end
    assert 0.9 <= time.monotonic() - started < 10

    def write_soon() -> None:
        time.sleep(1.0)
        tenant.user()

    writer = threading.Thread(target=write_soon)
    started = time.monotonic()
    writer.start()
    page = _read(client, tenant, after=end, wait=30)
    took = time.monotonic() - started
    writer.join()
    assert [e["type"] for e in page["events"]] == ["user.created"]
    assert took < 15, f"the long poll took {took:.1f} s for an event written after 1 s"


WRITERS = 16
USERS_EACH = 8


@pytest.mark.live
def test_the_feed_read_during_16_concurrent_writers_returns_every_event_once(
    live_server: LiveServer,
) -> None:
    tenant = live_server.tenant()
    headers = tenant.headers()
    read_headers = tenant.headers("audit:read")
    writing = True

    async def writer(client: httpx.AsyncClient, w: int) -> list[str]:
        made = []
        for n in range(USERS_EACH):
            body = {
                "email": f"w{w}-{n}-{secrets.token_hex(3)}@example.com",
                "firstName": "W",
                "lastName": f"{w}-{n}",
            }
            r = await client.post(f"{V2}/users", json=body, headers=headers)
            assert r.status_code == 201, r.text
            made.append(r.json()["id"])
        return made

    async def reader(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        cursor = None
        idle_after_writers = 0
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            params: dict[str, Any] = {"limit": 7, "wait": 0.5}
            if cursor:
                params["after"] = cursor
            r = await client.get(EVENTS, params=params, headers=read_headers)
            assert r.status_code == 200, r.text
            page = r.json()
            seen += page["events"]
            cursor = page["cursor"]
            created = sum(1 for e in seen if e["type"] == "user.created")
            if not writing and created >= WRITERS * USERS_EACH:
                idle_after_writers += 1
                if idle_after_writers > 1:
                    break
        return seen

    async def run() -> tuple[list[list[str]], list[dict[str, Any]]]:
        nonlocal writing
        limits = httpx.Limits(max_connections=WRITERS + 2)
        async with httpx.AsyncClient(
            base_url=live_server.base_url, timeout=60, limits=limits
        ) as client:
            reading = asyncio.create_task(reader(client))
            made = await asyncio.gather(*(writer(client, w) for w in range(WRITERS)))
            writing = False
            return made, await reading

    made, seen = asyncio.run(run())

    expected = {u for batch in made for u in batch}
    assert len(expected) == WRITERS * USERS_EACH
    created = [e["subject"] for e in seen if e["type"] == "user.created"]
    duplicates = [u for u, n in Counter(created).items() if n > 1]
    assert not duplicates, f"returned more than once: {duplicates}"
    assert set(created) == expected, f"missing: {expected - set(created)}"
    assert len({e["id"] for e in seen}) == len(seen)
    # Each writer's users in the order it made them (it waited for each commit).
    order = {u: i for i, u in enumerate(created)}
    for batch in made:
        assert [order[u] for u in batch] == sorted(order[u] for u in batch)
    # A stable order: read again from the start, the same sequence.
    again, _ = _collect(tenant.http, tenant, lambda ev: len(ev) >= len(seen))
    assert [e["id"] for e in again[: len(seen)]] == [e["id"] for e in seen]
